from django.urls import path

from . import views

urlpatterns = [
    path("", views.ledger, name="mail-ledger"),
    path("<int:pk>/", views.ledger_entry, name="mail-ledger-entry"),
    path("<int:pk>/retry/", views.ledger_retry, name="mail-ledger-retry"),
]
