from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .choices import Role
from .models import ApiToken, Organization, User

# Who may manage whom in the admin: a Support Manager runs the accounts of the people below
# them, never their own privileges or those of their peers and administrators.
RANK = {Role.REQUESTER: 0, Role.DEVELOPER: 1, Role.AGENT: 1, Role.MANAGER: 2, Role.ADMIN: 3}
# Django's own privileges: only a superuser grants them.
PRIVILEGES = ("is_staff", "is_superuser", "groups", "user_permissions")


def may_manage(actor: User, user: User) -> bool:
    """Whether ``actor`` may change or delete ``user``: a superuser anyone; others
    themselves (within the limits of the form) and those ranked below them, unless a
    superuser gave those Django's own privileges (taking over such an account, by its
    password, would be taking the privileges)."""
    if actor.is_superuser or user.pk == actor.pk:
        return True
    if user.is_superuser or user.is_staff:
        return False
    if user.groups.exists() or user.user_permissions.exists():
        return False
    return RANK[user.role] < RANK[actor.role]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "shared_tickets")
    list_filter = ("kind", "shared_tickets")
    search_fields = ("name",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "role", "organization", "is_active")
    list_filter = ("role", "is_active", "organization__kind")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "role", "organization")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2", "role")}),
    )
    filter_horizontal = ("groups",)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return (*fields, *(f for f in PRIVILEGES if f not in fields))

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not request.user.is_superuser:
            ceiling = RANK[request.user.role]
            kwargs["choices"] = [(v, label) for v, label in Role.choices if RANK[v] <= ceiling]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_manage(request.user, obj))

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_manage(request.user, obj))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created through the API (the secret is shown once, there); here they can
    be seen (never the secret: it is not stored) and revoked by deleting them."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__email")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")
    fields = readonly_fields
    ordering = ("-id",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
