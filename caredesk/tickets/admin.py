from django.contrib import admin

from .models import Event, Message, Ticket


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "author", "kind", "internal", "body")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


class EventInline(admin.TabularInline):
    model = Event
    fields = ("created_at", "actor", "kind", "from_value", "to_value")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only: every change of a ticket goes through the lifecycle rules (the
    workspace), so the admin cannot bypass events and checks."""

    list_display = ("id", "subject", "status", "category", "channel", "requester", "assignee")
    list_filter = ("status", "category", "channel", "priority")
    search_fields = ("=id", "subject", "requester__email")
    list_select_related = ("requester", "assignee")
    show_full_result_count = False
    inlines = [MessageInline, EventInline]
    raw_id_fields = ("requester", "assignee", "follow_up_of", "organization")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser
