from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "caredesk.tickets"
    label = "tickets"

    def ready(self) -> None:
        from . import webhooks  # noqa: F401  (connects the webhook signal receivers)
