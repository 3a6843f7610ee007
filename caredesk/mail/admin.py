from django.contrib import admin

from .models import InboundMessage, Mailbox


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    """IMAP mailboxes that ``caredesk fetchmail`` polls. The password is not here: name
    the environment variable or file that holds it."""

    list_display = ("name", "username", "host", "port", "folder", "active", "last_polled_at")
    list_filter = ("active",)
    search_fields = ("name", "username", "host")
    readonly_fields = ("last_polled_at", "last_error")
    fieldsets = (
        (None, {"fields": ("name", "active")}),
        ("Server", {"fields": ("host", "port", "use_ssl", "username")}),
        (
            "Password (never stored here)",
            {"fields": ("password_env", "password_file")},
        ),
        ("Folders", {"fields": ("folder", "move_to")}),
        ("Status", {"fields": ("last_polled_at", "last_error")}),
    )


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    """The ledger of received mail, read-only: rows are written by intake and processing."""

    list_display = (
        "id",
        "received_at",
        "transport",
        "mailbox",
        "envelope_from",
        "subject",
        "size",
        "state",
        "outcome",
        "ticket",
    )
    list_filter = ("transport", "state", "outcome")
    search_fields = ("message_id", "sender", "envelope_from", "subject")
    date_hierarchy = "received_at"
    list_select_related = ("ticket",)
    exclude = ("raw",)  # shown by the mail ledger page, not loaded into the admin

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
