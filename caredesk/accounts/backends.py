from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

# Managers run the help desk's own data in the Django admin, not Django's internals.
MANAGER_APPS = {"accounts", "tickets", "outbox", "mail"}


class RoleBackend(BaseBackend):
    """Grants Support Managers every permission on caredesk's own apps, so the role alone
    decides (no per-user permission bookkeeping to forget)."""

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return self.has_module_perms(user_obj, perm.split(".", 1)[0])

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return bool(getattr(user_obj, "is_manager", False)) and app_label in MANAGER_APPS
