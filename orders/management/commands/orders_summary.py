from django.core.management.base import BaseCommand

from orders.models import Order, OrderStatus
from orders.selectors import order_status_counts


class Command(BaseCommand):
    help = "Print how many orders are in each status, and the newest orders."

    def add_arguments(self, parser):
        parser.add_argument("--latest", type=int, default=8, help="Orders to list.")

    def handle(self, *args, latest, **options):
        counts = order_status_counts()
        self.stdout.write(
            "  ".join(f"{OrderStatus(s).label}: {n}" for s, n in counts.items())
        )
        for order in Order.objects.order_by("-pk")[:latest]:
            message = f"  {order.message[:70]}" if order.message else ""
            self.stdout.write(
                f"  {order.order_id:<22} {order.get_status_display():<15}{message}"
            )
