"""The back-office console: find an order, see why it failed, replay, notify.

Orders are read-only here: their fields are SalesAPI's and the pipeline's.
Staff act on them only through the actions of ``orders.admin_actions``, each
behind its own permission (``orders.replay_order``, ``orders.notify_customer``)
and recorded in the order's history as ``staff:<username>``. The admin's front
page carries the dashboard (``orders.dashboard``).
"""

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.db.models import DecimalField, ExpressionWrapper, F, Q
from django.utils.html import format_html
from django.utils.text import Truncator

from integrations.pipeline import STEP_LABELS
from notifications.models import Channel
from orders.admin_actions import OrderActionsMixin
from orders.admin_panels import order_panels, pretty_json
from orders.models import (
    WORKING_STATUSES,
    CustomerAccount,
    Order,
    OrderPayloadConflict,
    OrderStatus,
    RejectedSalesRecord,
)
from orders.replay import replay_step

# The front page shows the dashboard above the list of models.
admin.site.index_template = "orders/admin/index.html"

LAST_MESSAGE_CHARS = 90


def status_badge(status: str) -> str:
    """Return the status's Russian label, coloured by status."""
    label = OrderStatus(status).label if status in OrderStatus.values else status
    return format_html(
        '<span class="order-status order-status-{}">{}</span>', status, label
    )


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PayloadConflictInline(ReadOnlyInline):
    model = OrderPayloadConflict
    fields = ["received_at", "payload"]
    readonly_fields = fields
    verbose_name_plural = "Conflicting SalesAPI deliveries (the first one is kept)"


class OrderChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The list shows no JSON: leave the payload and the invoice behind.
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer("payload", "invoice")


class PipelineFilter(admin.SimpleListFilter):
    """Orders by where the pipeline is with them."""

    title = "pipeline"
    parameter_name = "pipeline"

    def lookups(self, request, model_admin):
        return [
            ("retrying", "Waiting for a retry"),
            ("dead_letter", "Dead letter (gave up retrying)"),
            ("rejected", "Rejected by CustomAPI"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "retrying":
            return queryset.filter(status__in=WORKING_STATUSES, attempts__gt=0)
        if self.value() == "dead_letter":
            return queryset.filter(status=OrderStatus.ERROR, attempts__gt=0)
        if self.value() == "rejected":
            return queryset.filter(status=OrderStatus.ERROR).exclude(error_code="")
        return queryset


@admin.register(Order)
class OrderAdmin(OrderActionsMixin, admin.ModelAdmin):
    list_display = [
        "order_id",
        "customer",
        "product",
        "amount",
        "status_label",
        "last_message",
        "updated_at",
    ]
    list_display_links = ["order_id"]
    list_filter = [
        "status",
        PipelineFilter,
        ("created_at", DateFieldListFilter),
        ("updated_at", DateFieldListFilter),
    ]
    # Identifiers match exactly (and use their indexes); names, addresses
    # and phone numbers match any part.
    search_fields = [
        "order_id__exact",
        "customer_id__exact",
        "invoice_id__exact",
        "customer_name__icontains",
        "customer_email__icontains",
        "customer_phone__icontains",
    ]
    search_help_text = (
        "An order, invoice or customer id (exact), or part of the customer's "
        "name, email or phone as SalesAPI sent it."
    )
    list_per_page = 50
    # Counting every order on each page costs more than it tells, and so do
    # counts beside each filter (the dashboard has the counts per status).
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fieldsets = [
        (
            "Order",
            {
                "fields": [
                    "order_id",
                    "status_label",
                    "message",
                    "error_code",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (
            "From SalesAPI",
            {
                "fields": [
                    "product_id",
                    "product_name",
                    "product_price",
                    "quantity",
                    "amount",
                    "customer_id",
                    "customer_name",
                    "customer_email",
                    "customer_phone",
                ]
            },
        ),
        ("Invoice", {"fields": ["invoice_id", "invoice_pretty"]}),
        (
            "SalesAPI payload as received",
            {"fields": ["payload_pretty", "payload_sha256"], "classes": ["collapse"]},
        ),
        (
            "Pipeline bookkeeping",
            {
                "fields": [
                    "attempts",
                    "next_attempt_at",
                    "lease_owner",
                    "lease_expires_at",
                    "filing_round",
                ],
                "classes": ["collapse"],
            },
        ),
    ]
    inlines = [PayloadConflictInline]

    class Media:
        css = {"all": ["orders/admin.css"]}

    def get_search_results(self, request, queryset, search_term):
        # The usual search is for one id: answer it from the indexes alone,
        # without reading every name, address and phone number as well.
        term = search_term.strip()
        if term and not term.split()[1:]:
            exact = queryset.filter(
                Q(order_id=term) | Q(invoice_id=term) | Q(customer_id=term)
            )
            if exact.exists():
                return exact, False
        return super().get_search_results(request, queryset, search_term)

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    def get_readonly_fields(self, request, obj=None):
        return [name for _, options in self.fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                amount_total=ExpressionWrapper(
                    F("product_price") * F("quantity"),
                    output_field=DecimalField(max_digits=24, decimal_places=2),
                )
            )
        )

    # --- Permissions -----------------------------------------------------

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # every field is SalesAPI's or the pipeline's

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an order and its history are the record of what happened

    # --- Columns ---------------------------------------------------------

    @admin.display(description="Customer", ordering="customer_name")
    def customer(self, order: Order) -> str:
        return format_html(
            '{}<div class="order-quiet">id {}</div>',
            order.customer_name or "-",
            order.customer_id or "-",
        )

    @admin.display(description="Product", ordering="product_name")
    def product(self, order: Order) -> str:
        return format_html(
            '{}<div class="order-quiet">{} × {}</div>',
            order.product_name or "-",
            order.product_id or "-",
            order.quantity if order.quantity is not None else "-",
        )

    @admin.display(description="Amount, ₽", ordering="amount_total")
    def amount(self, order: Order) -> str:
        value = order.amount
        return "-" if value is None else f"{value:,.2f}"

    @admin.display(description="Status", ordering="status")
    def status_label(self, order: Order) -> str:
        return status_badge(order.status)

    @admin.display(description="Last message")
    def last_message(self, order: Order) -> str:
        if not order.message:
            return "-"
        return format_html(
            '<span title="{}">{}</span>',
            order.message,
            Truncator(order.message).chars(LAST_MESSAGE_CHARS),
        )

    @admin.display(description="Invoice data set")
    def invoice_pretty(self, order: Order) -> str:
        return pretty_json(order.invoice)

    @admin.display(description="Payload")
    def payload_pretty(self, order: Order) -> str:
        return pretty_json(order.payload)

    # --- The order page --------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        order = self.get_object(request, unquote(object_id))
        if order is not None:
            context.update(order_panels(order))
            context["order"] = order
            context["can_replay"] = (
                self.has_replay_permission(request)
                and order.status == OrderStatus.ERROR
            )
            context["replay_step"] = STEP_LABELS[replay_step(order)]
            context["can_notify"] = self.has_notify_permission(request)
            context["channels"] = Channel.choices
        return super().change_view(request, object_id, form_url, context)


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
