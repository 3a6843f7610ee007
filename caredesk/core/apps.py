from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_cache_table(sender, using: str = "default", **kwargs) -> None:
    """The rate limiter's cache lives in the database; make sure its table exists."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class CoreConfig(AppConfig):
    name = "caredesk.core"
    label = "core"
    verbose_name = "caredesk"

    def ready(self) -> None:
        post_migrate.connect(_create_cache_table, sender=self)
