"""Admin views of the integrations' state: the poll cursor and the exchanges."""

from django.contrib import admin

from integrations.models import SalesCursor, UpstreamExchange
from orders.admin_records import OrderRecordAdmin


@admin.register(SalesCursor)
class SalesCursorAdmin(admin.ModelAdmin):
    list_display = ["name", "cursor", "last_success_at", "last_error", "lease_owner"]
    readonly_fields = [
        "lease_owner",
        "lease_expires_at",
        "last_success_at",
        "updated_at",
    ]


# Fixed lists: asking the table for its distinct values would read all of it.
UPSTREAM_NAMES = ["BillAPI", "CustomAPI", "Mailgun", "Twilio"]
OUTCOMES = {
    "2xx": ("answered 2xx", {"status__gte": 200, "status__lt": 300}),
    "4xx": ("answered 4xx", {"status__gte": 400, "status__lt": 500}),
    "5xx": ("answered 5xx", {"status__gte": 500}),
    "none": ("no answer", {"status__isnull": True}),
}


class UpstreamFilter(admin.SimpleListFilter):
    title = "upstream"
    parameter_name = "upstream"

    def lookups(self, request, model_admin):
        return [(name, name) for name in UPSTREAM_NAMES]

    def queryset(self, request, queryset):
        return queryset.filter(upstream=self.value()) if self.value() else queryset


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [(code, label) for code, (label, _) in OUTCOMES.items()]

    def queryset(self, request, queryset):
        if self.value() in OUTCOMES:
            return queryset.filter(**OUTCOMES[self.value()][1])
        return queryset


@admin.register(UpstreamExchange)
class UpstreamExchangeAdmin(OrderRecordAdmin):
    """Every call to an upstream about an order, redacted as in the logs."""

    list_display = [
        "created_at",
        "order_link",
        "upstream",
        "method",
        "status",
        "duration_ms",
        "idempotency_key",
    ]
    list_filter = [UpstreamFilter, OutcomeFilter]
    search_fields = ["order__order_id__exact", "idempotency_key__exact"]
    search_help_text = "Order id or Idempotency-Key (exact)."
    list_select_related = ["order"]
    list_per_page = 50
    show_full_result_count = False
    fields = [
        "order_link",
        "created_at",
        "upstream",
        "method",
        "url",
        "idempotency_key",
        "status",
        "duration_ms",
        "error",
        "request_body",
        "response_body",
    ]
    readonly_fields = fields
