from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "caredesk.mail"
    label = "mail"
    verbose_name = "Email channel"

    def ready(self) -> None:
        from . import outbound, webhooks  # noqa: F401  (connect their signal receivers)
