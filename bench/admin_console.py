"""Time the back-office console on a throwaway database of many orders.

    DEBUG=1 DATABASE_URL=sqlite:////tmp/admin-bench.sqlite3 \\
        .venv/bin/python bench/admin_console.py --orders 100000

    DEBUG=1 DATABASE_URL=mysql://root@127.0.0.1:3306/admin_bench \\
        .venv/bin/python bench/admin_console.py --orders 100000

The database named by DATABASE_URL is emptied and filled: never point it at
one you keep. Orders are spread over 30 days with three history rows each,
one in six rests in error (about 3,300 orders and 10,000 history rows a day);
then each admin page is asked for a few times and its median time and query
count are printed.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phpservice.settings")
django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from orders.models import Order, OrderStatus, OrderStatusChange  # noqa: E402

BATCH = 5000
NAMES = ["Иван Иванов", "Ольга Смирнова", "Пётр Сидоров", "Анна Кузнецова"]


def fill(count: int) -> None:
    """Replace every order with ``count`` generated ones and their history."""
    OrderStatusChange.objects.all().delete()
    Order.objects.all().delete()
    now = timezone.now()
    # Let bulk_create keep the generated times instead of "now".
    for model in (Order, OrderStatusChange):
        model._meta.get_field("created_at").auto_now_add = False
    rng = random.Random(42)
    for start in range(0, count, BATCH):
        orders = []
        for number in range(start, min(start + BATCH, count)):
            failed = number % 6 == 0
            received = now - timedelta(minutes=rng.randrange(30 * 24 * 60))
            orders.append(
                Order(
                    order_id=f"B{number:07d}",
                    product_id="ABC123",
                    product_name="Ноутбук",
                    product_price="50000.00",
                    quantity=1 + number % 3,
                    customer_id=str(7000 + number % 5000),
                    customer_name=NAMES[number % len(NAMES)],
                    customer_email=f"client{number}@example.com",
                    customer_phone=f"+7 (9{number % 100:02d}) 555-{number % 10000:04d}",
                    payload={"order_id": f"B{number:07d}"},
                    payload_sha256="0" * 64,
                    status=OrderStatus.ERROR if failed else OrderStatus.SENT,
                    message="Неверный формат данных" if failed else "accepted",
                    error_code="-1" if failed else "",
                    invoice_id=f"INV-B{number:07d}",
                    invoice={"invoice_id": f"INV-B{number:07d}", "lines": [1] * 20},
                    created_at=received,
                )
            )
        Order.objects.bulk_create(orders)
        created = Order.objects.filter(
            order_id__in=[order.order_id for order in orders]
        ).values_list("pk", "status", "created_at")
        changes = []
        for pk, status, when in created:
            for step, (before, after) in enumerate(
                [("", "processing"), ("processing", "invoiced"), ("invoiced", status)]
            ):
                changes.append(
                    OrderStatusChange(
                        order_id=pk,
                        from_status=before,
                        to_status=after,
                        actor="pipeline",
                        created_at=when + timedelta(seconds=step),
                    )
                )
        OrderStatusChange.objects.bulk_create(changes)
        print(f"  {min(start + BATCH, count)} orders", flush=True)


def measure(client: Client, label: str, url: str, repeat: int) -> None:
    times = []
    for _ in range(repeat):
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    print(f"{label:<38} {statistics.median(times):8.1f} ms  {len(queries):3d} queries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="reuse the orders there")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    if not args.keep or Order.objects.count() != args.orders:
        started = time.perf_counter()
        fill(args.orders)
        print(f"filled in {time.perf_counter() - started:.0f} s")
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    failed = Order.objects.filter(status=OrderStatus.ERROR).order_by("pk").first()

    print(f"{connection.vendor}, {Order.objects.count()} orders")
    base = "/admin/orders/order/"
    order_admin = admin.site._registry[Order]
    for per_page in (10, 50, 200):
        order_admin.list_per_page = per_page
        measure(client, f"list, first page of {per_page}", base, args.repeat)
    order_admin.list_per_page = 50
    measure(client, "list, page 1000 of 50", f"{base}?p=1000", args.repeat)
    measure(client, "list, status ошибка", f"{base}?status__exact=error", args.repeat)
    measure(client, "list, dead letters", f"{base}?pipeline=dead_letter", args.repeat)
    measure(client, "search, order id", f"{base}?q=B0054321", args.repeat)
    measure(client, "search, invoice id", f"{base}?q=INV-B0054321", args.repeat)
    measure(client, "search, name", f"{base}?q=Сидоров", args.repeat)
    measure(client, "search, phone digits", f"{base}?q=555-4321", args.repeat)
    measure(client, "order page", f"{base}{failed.pk}/change/", args.repeat)
    measure(client, "front page (dashboard)", "/admin/", args.repeat)


if __name__ == "__main__":
    main()
