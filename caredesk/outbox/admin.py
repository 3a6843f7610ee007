from django.contrib import admin

from .models import OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ("subject", "status", "attempts", "next_attempt_at", "sent_at", "ref")
    list_filter = ("status",)
    search_fields = ("subject", "ref")
    readonly_fields = ("created_at", "sent_at", "last_error")
