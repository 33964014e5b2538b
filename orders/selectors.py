"""Read-only queries on orders, shared by the API, commands and the admin."""

from django.db.models import Count, QuerySet

from orders.models import Order, OrderStatus


def orders_visible_to(user) -> QuerySet[Order]:
    """Return the orders ``user`` may see: all, their customer's, or none."""
    if user.is_staff or user.has_perm("orders.view_any_order"):
        return Order.objects.all()
    account = getattr(user, "customer", None)
    if account is not None:
        return Order.objects.filter(customer_id=account.customer_id)
    return Order.objects.none()


def order_status_counts() -> dict[str, int]:
    """Return the number of orders in each status, every status listed."""
    counts = dict(
        Order.objects.values_list("status").annotate(n=Count("pk")).order_by()
    )
    return {status.value: counts.get(status.value, 0) for status in OrderStatus}
