from django.contrib import admin

from .models import OutboundEmail, WebhookDelivery, WebhookEndpoint


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ("subject", "status", "attempts", "next_attempt_at", "sent_at", "ref")
    list_filter = ("status",)
    search_fields = ("subject", "ref")
    readonly_fields = ("created_at", "sent_at", "last_error")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "description", "active", "disabled_reason", "created_at")
    list_filter = ("active",)
    readonly_fields = ("secret", "disabled_reason", "created_at")
    fields = ("url", "description", "events", "active", "secret", "disabled_reason")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("msg_id", "event_type", "endpoint", "status", "attempts", "response_code")
    list_filter = ("status", "event_type")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    list_select_related = ("endpoint",)
