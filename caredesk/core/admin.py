from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class CaredeskAdminSite(admin.AdminSite):
    site_header = "caredesk administration"
    site_title = "caredesk admin"

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_staff or getattr(user, "is_manager", False))


class CaredeskAdminConfig(AdminConfig):
    default_site = "caredesk.core.admin.CaredeskAdminSite"
