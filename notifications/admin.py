"""Admin view of the notifications sent to customers and their delivery."""

from django.contrib import admin

from notifications.models import Notification
from orders.admin_records import OrderRecordAdmin


@admin.register(Notification)
class NotificationAdmin(OrderRecordAdmin):
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
