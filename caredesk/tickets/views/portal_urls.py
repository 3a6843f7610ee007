from django.urls import path

from . import portal

urlpatterns = [
    path("", portal.ticket_list, name="tickets"),
    path("new/", portal.new_ticket, name="new"),
    path("tickets/<int:number>/", portal.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply/", portal.reply, name="reply"),
    path("tickets/<int:number>/solve/", portal.mark_solved, name="solve"),
]
