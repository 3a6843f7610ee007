from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "caredesk.outbox"
    label = "outbox"
