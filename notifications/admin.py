"""Admin view of the notifications sent to customers and their delivery."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "order_link",
        "channel",
        "recipient",
        "status",
        "error_code",
        "requested_by",
    ]
    list_filter = ["channel", "status", "created_at"]
    search_fields = ["order__order_id__exact", "provider_message_id__exact"]
    search_help_text = "Order id or the provider's message id (exact)."
    list_select_related = ["order", "requested_by"]
    list_per_page = 50
    show_full_result_count = False
    fields = [
        "order_link",
        "channel",
        "recipient",
        "status",
        "provider_message_id",
        "error_code",
        "error_message",
        "requested_by",
        "idempotency_key",
        "response_status",
        "response",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Order", ordering="order__order_id")
    def order_link(self, notification: Notification) -> str:
        url = reverse("admin:orders_order_change", args=[notification.order_id])
        return format_html('<a href="{}">{}</a>', url, notification.order.order_id)
