"""Polling 10,000 orders from the sandbox into MariaDB, against one executemany.

The baseline inserts the same rows with mysqlclient's executemany into a
scratch table shaped like the orders table: the least any ingest must do.
"""

import json
import os
import time

from bench.common import empty_tables, environment, report, sales_orders, sandbox

COUNT = 10_000

BASELINE_TABLE = """
CREATE TABLE bench_raw_orders (
  id bigint AUTO_INCREMENT PRIMARY KEY,
  order_id varchar(64) COLLATE utf8mb4_nopad_bin NOT NULL UNIQUE,
  product_id varchar(64) NOT NULL, product_name varchar(255) NOT NULL,
  product_price decimal(14,2) NOT NULL, quantity int unsigned NOT NULL,
  customer_id varchar(64) NOT NULL, customer_name varchar(255) NOT NULL,
  customer_email varchar(254) NOT NULL, customer_phone varchar(64) NOT NULL,
  payload json NOT NULL
) CHARACTER SET utf8mb4
"""


def baseline_seconds(records: list[dict]) -> float:
    from django.db import connection

    rows = [
        (
            r["order_id"],
            r["product_id"],
            r["product_name"],
            r["product_price"],
            int(r["quantity"]),
            r["customer_id"],
            r["customer_name"],
            r["customer_email"],
            r["customer_phone"],
            json.dumps(r),
        )
        for r in records
    ]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_orders")
        cursor.execute(BASELINE_TABLE)
        started = time.perf_counter()
        cursor.executemany(
            "INSERT INTO bench_raw_orders (order_id, product_id, product_name, "
            "product_price, quantity, customer_id, customer_name, customer_email, "
            "customer_phone, payload) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        connection.commit() if not connection.get_autocommit() else None
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_orders")
    return elapsed


def ingest_seconds(url: str) -> float:
    from django.conf import settings

    from integrations.polling import sales_poll

    settings.UPSTREAMS["sales"]["URL"] = f"{url}/sales"
    settings.SALES_POLL_PAGE_SIZE = 1000
    empty_tables()
    started = time.perf_counter()
    result = sales_poll()
    elapsed = time.perf_counter() - started
    if result.error or result.created != COUNT:
        raise RuntimeError(f"ingest did not take every order: {result}")
    return elapsed


def main() -> None:
    os.environ.update(environment())
    import django

    django.setup()
    records = sales_orders(COUNT, prefix="IN")
    with sandbox(orders=records) as url:
        ours = ingest_seconds(url)
    raw = baseline_seconds(records)
    report(
        "ingest",
        value=COUNT / ours,
        unit="orders/s",
        baseline=COUNT / raw,
        target=">=0.25",
    )


if __name__ == "__main__":
    main()
