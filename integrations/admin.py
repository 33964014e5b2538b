from django.contrib import admin

from integrations.models import SalesCursor


@admin.register(SalesCursor)
class SalesCursorAdmin(admin.ModelAdmin):
    list_display = ["name", "cursor", "last_success_at", "last_error", "lease_owner"]
    readonly_fields = [
        "lease_owner",
        "lease_expires_at",
        "last_success_at",
        "updated_at",
    ]
