"""The figures that live in the database, read at scrape time.

Every node answers them from the same database, so every node tells the same
truth, whichever one Prometheus reaches. Each figure is one aggregate query on
an index (see docs/metrics.md for the plans). When the database does not
answer, the scrape still succeeds with the process's own figures, and
``phpservice_database_metrics_up`` says 0.
"""

import logging
import time

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from django.db import DatabaseError
from django.utils import timezone

from notifications.selectors import notification_status_counts
from orders.selectors import oldest_working_orders, order_status_counts

logger = logging.getLogger(__name__)


class DatabaseCollector(Collector):
    """Orders by status, the oldest working order, notifications by status."""

    def describe(self):
        # Nothing to declare up front: registering must not query the database.
        return []

    def collect(self):
        started = time.monotonic()
        try:
            families = list(self._families())
        except DatabaseError as err:
            logger.warning(
                "metrics.database_unavailable", extra={"error": type(err).__name__}
            )
            families, up = [], 0
        else:
            up = 1
        yield from families
        yield GaugeMetricFamily(
            "phpservice_database_metrics_up",
            "1 when the figures read from the database are in this scrape.",
            value=up,
        )
        yield GaugeMetricFamily(
            "phpservice_database_metrics_duration_seconds",
            "Time spent reading the database figures of this scrape.",
            value=time.monotonic() - started,
        )

    def _families(self):
        orders = GaugeMetricFamily(
            "phpservice_orders",
            "Orders in each status (processing, invoiced, sent, error).",
            labels=["status"],
        )
        for status, count in order_status_counts().items():
            orders.add_metric([status], count)
        yield orders

        now = timezone.now()
        oldest = GaugeMetricFamily(
            "phpservice_oldest_working_order_age_seconds",
            "Age of the oldest order still in a working status; 0 when none is.",
            labels=["status"],
        )
        for status, arrived in oldest_working_orders().items():
            age = (now - arrived).total_seconds() if arrived else 0.0
            oldest.add_metric([status], max(age, 0.0))
        yield oldest

        notifications = GaugeMetricFamily(
            "phpservice_notifications",
            "Notifications by channel and status (sent, delivered, failed, …).",
            labels=["channel", "status"],
        )
        for (channel, status), count in notification_status_counts().items():
            notifications.add_metric([channel, status], count)
        yield notifications
