"""What the admin's front page shows about the orders: the back office at a glance.

Every figure costs one query whatever the number of orders: counts per
status, the orders that went to ``error`` lately, the pipeline's lag, the
last SalesAPI poll, and the hourly chart (``orders.charts``).
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Count, F, Func, Value
from django.db.models.functions import TruncHour
from django.utils import timezone

from integrations.models import SalesCursor
from integrations.polling import CURSOR_NAME
from orders.charts import StatusChart, status_chart
from orders.models import WORKING_STATUSES, Order, OrderStatus, OrderStatusChange
from orders.selectors import order_status_counts

WINDOW = datetime.timedelta(hours=24)
RECENT_FAILURES_SHOWN = 15
# A poll older than this many poll intervals is shown as late.
POLL_LATE_INTERVALS = 3
HOUR_PATTERN = "%Y-%m-%d %H"
# Database → (its date formatting function, whether the pattern comes first).
HOUR_FORMATS = {"sqlite": ("strftime", True), "mysql": ("DATE_FORMAT", False)}


@dataclass
class StatusCount:
    code: str
    label: str
    count: int


@dataclass
class RecentFailure:
    """An order that went to ``error``, when, and the message it went with."""

    order_pk: int
    order_id: str
    at: datetime.datetime
    message: str
    actor: str


@dataclass
class Dashboard:
    counts: list[StatusCount]
    failures: list[RecentFailure]
    failures_total: int
    oldest_working: Order | None
    lag: datetime.timedelta | None
    last_poll_at: datetime.datetime | None
    poll_error: str
    poll_late: bool
    chart: StatusChart
    since: datetime.datetime
    total: int = field(init=False)

    def __post_init__(self) -> None:
        self.total = sum(item.count for item in self.counts)


def dashboard_build(*, now: datetime.datetime | None = None) -> Dashboard:
    """Return the figures of the admin's front page as of ``now``."""
    now = now or timezone.now()
    since = now - WINDOW
    counts = order_status_counts()

    failures = (
        OrderStatusChange.objects.filter(
            to_status=OrderStatus.ERROR, created_at__gte=since
        )
        .exclude(from_status=OrderStatus.ERROR)
        .order_by("-created_at", "-pk")
    )
    recent = [
        RecentFailure(
            order_pk=row["order_id"],
            order_id=row["order__order_id"],
            at=row["created_at"],
            message=row["message"],
            actor=row["actor"],
        )
        for row in failures.values(
            "order_id", "order__order_id", "created_at", "message", "actor"
        )[:RECENT_FAILURES_SHOWN]
    ]
    failures_total = failures.count()

    oldest = (
        Order.objects.filter(status__in=WORKING_STATUSES)
        .order_by("created_at", "pk")
        .only("pk", "order_id", "status", "created_at", "message", "attempts")
        .first()
    )
    cursor = SalesCursor.objects.filter(name=CURSOR_NAME).first()
    last_poll_at = cursor.last_success_at if cursor else None
    interval = datetime.timedelta(
        minutes=settings.SALES_POLL_INTERVAL_MINUTES * POLL_LATE_INTERVALS
    )
    return Dashboard(
        counts=[
            StatusCount(code=status.value, label=status.label, count=counts[status])
            for status in OrderStatus
        ],
        failures=recent,
        failures_total=failures_total,
        oldest_working=oldest,
        lag=now - oldest.created_at if oldest else None,
        last_poll_at=last_poll_at,
        poll_error=cursor.last_error if cursor else "",
        poll_late=last_poll_at is None or now - last_poll_at > interval,
        chart=status_chart(hourly_status_counts(now=now), now=now),
        since=since,
    )


def hourly_status_counts(
    *, now: datetime.datetime
) -> dict[tuple[datetime.datetime, str], int]:
    """Return how many orders reached each status in each of the last 24 hours.

    Keys are (start of the hour in UTC, status code). Notes in the history
    (no change of status) are not counted.
    """
    end = now.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    start = end - WINDOW + datetime.timedelta(hours=1)
    rows = (
        OrderStatusChange.objects.filter(
            to_status__in=OrderStatus.values, created_at__gte=start
        )
        .exclude(from_status=F("to_status"))
        .annotate(hour=utc_hour("created_at"))
        .values("hour", "to_status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(as_utc_hour(row["hour"]), row["to_status"]): row["n"] for row in rows}


def utc_hour(field: str):
    """Return an expression for the hour in UTC of the datetime column ``field``.

    Grouped in UTC, the database needs no time zone tables (MySQL's
    CONVERT_TZ), and every zone with whole-hour offsets gets the same hours.
    SQLite and MySQL format the stored UTC text natively: Django's TruncHour
    calls a Python function per row there, seconds for a busy day on SQLite.
    """
    if connection.vendor in HOUR_FORMATS:
        function, pattern_first = HOUR_FORMATS[connection.vendor]
        pattern = Value(HOUR_PATTERN)
        arguments = (pattern, F(field)) if pattern_first else (F(field), pattern)
        return Func(*arguments, function=function, output_field=CharField())
    return TruncHour(field, tzinfo=datetime.UTC)


def as_utc_hour(value) -> datetime.datetime:
    """Return what ``utc_hour`` gave as an aware datetime in UTC."""
    if isinstance(value, str):
        value = datetime.datetime.strptime(value, HOUR_PATTERN)
    if timezone.is_naive(value):
        return value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)
