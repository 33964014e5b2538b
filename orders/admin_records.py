"""A base for the admin pages of records kept about an order."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html


class OrderRecordAdmin(admin.ModelAdmin):
    """Read-only: these records are history, written by the service alone."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Order", ordering="order__order_id")
    def order_link(self, record) -> str:
        url = reverse("admin:orders_order_change", args=[record.order_id])
        return format_html('<a href="{}">{}</a>', url, record.order.order_id)
