from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "caredesk.widget"
    label = "widget"
    verbose_name = "Support widget"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the settings checks)
