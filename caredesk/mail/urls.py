"""Provider webhooks for inbound mail, mounted under /mail/ (see webhooks.py)."""

from django.urls import path

from .webhooks import MailgunInboundView

urlpatterns = [
    # Mailgun posts the untouched message only when the route's URL ends in "mime".
    path("mailgun/inbound_mime/", MailgunInboundView.as_view(), name="mail-mailgun-inbound"),
]
