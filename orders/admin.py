"""Back-office views of orders: find an order and see why it failed."""

from django.contrib import admin

from orders.models import (
    CustomerAccount,
    Order,
    OrderPayloadConflict,
    OrderStatusChange,
    RejectedSalesRecord,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class StatusChangeInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = ["created_at", "from_status", "to_status", "actor", "message"]
    readonly_fields = fields


class PayloadConflictInline(ReadOnlyInline):
    model = OrderPayloadConflict
    fields = ["received_at", "payload"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "order_id",
        "customer_name",
        "product_name",
        "product_price",
        "quantity",
        "status",
        "message",
        "updated_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = [
        "=order_id",
        "=customer_id",
        "customer_name",
        "customer_email",
        "customer_phone",
        "=invoice_id",
    ]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Order._meta.fields]
    inlines = [StatusChangeInline, PayloadConflictInline]
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(RejectedSalesRecord)
class RejectedSalesRecordAdmin(admin.ModelAdmin):
    list_display = ["received_at", "reason"]
    readonly_fields = ["received_at", "reason", "payload", "payload_sha256"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CustomerAccount)
class CustomerAccountAdmin(admin.ModelAdmin):
    list_display = ["user", "customer_id"]
    search_fields = ["=customer_id", "user__username"]
    raw_id_fields = ["user"]
