from django.contrib import admin, messages

from .models import OutboundEmail, WebhookDelivery, WebhookEndpoint
from .services import send_again


@admin.action(description="Send the selected failed deliveries again")
def send_failed_again(modeladmin, request, queryset) -> None:
    count = send_again(queryset)
    modeladmin.message_user(
        request,
        f"{count} failed deliver{'y' if count == 1 else 'ies'} queued again.",
        messages.SUCCESS,
    )


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ("subject", "status", "attempts", "next_attempt_at", "sent_at", "ref")
    list_filter = ("status",)
    search_fields = ("subject", "ref")
    readonly_fields = ("created_at", "sent_at", "last_error")
    actions = [send_failed_again]


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
    actions = [send_failed_again]
