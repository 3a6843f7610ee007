from django.urls import path

from . import portal

urlpatterns = [
    path("", portal.ticket_list, name="tickets"),
]
