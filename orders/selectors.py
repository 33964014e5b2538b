"""Read-only queries on orders, shared by the API, commands and the admin."""

from datetime import datetime

from django.contrib.auth.models import Permission
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet

from orders.models import WORKING_STATUSES, CustomerAccount, Order, OrderStatus


def orders_visible_to(user) -> QuerySet[Order]:
    """Return the orders ``user`` may see: all, their customer's, or none.

    The permission and the customer link are checked inside the order query
    itself, so that answering /status costs one query after authentication.
    """
    if user.is_staff or user.is_superuser:
        return Order.objects.all()
    may_see_any = Exists(
        Permission.objects.filter(
            content_type__app_label="orders", codename="view_any_order"
        ).filter(Q(user=user.pk) | Q(group__user=user.pk))
    )
    own_customer = Exists(
        CustomerAccount.objects.filter(
            user=user.pk, customer_id=OuterRef("customer_id")
        )
    )
    return Order.objects.filter(may_see_any | own_customer)


def order_status_counts() -> dict[str, int]:
    """Return the number of orders in each status, every status listed."""
    counts = dict(
        Order.objects.values_list("status").annotate(n=Count("pk")).order_by()
    )
    return {status.value: counts.get(status.value, 0) for status in OrderStatus}


def oldest_working_orders() -> dict[str, datetime | None]:
    """Return when the oldest order in each working status arrived, or None.

    Ids follow arrival, so the oldest order is the one with the lowest id:
    its MIN per status is read from the status index alone, where
    MIN(created_at) would visit every waiting row. Then one lookup by id.
    """
    first_ids = dict(
        Order.objects.filter(status__in=WORKING_STATUSES)
        .values_list("status")
        .annotate(first_id=Min("pk"))
        .order_by()
    )
    arrived = dict(
        Order.objects.filter(pk__in=first_ids.values())
        .values_list("pk", "created_at")
        .order_by()
    )
    return {
        status.value: arrived.get(first_ids.get(status.value))
        for status in WORKING_STATUSES
    }
