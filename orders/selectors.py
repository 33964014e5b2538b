"""Read-only queries on orders, shared by the API, commands and the admin."""

from django.contrib.auth.models import Permission
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from orders.models import CustomerAccount, Order, OrderStatus


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
