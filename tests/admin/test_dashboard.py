"""The dashboard on the admin's front page."""

import datetime
import re
from datetime import timedelta

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import SalesCursor
from orders.charts import nice_ceiling, status_chart
from orders.dashboard import dashboard_build, hourly_status_counts
from orders.models import OrderStatus, OrderStatusChange
from orders.services import order_note
from orders.templatetags.orders_admin import duration_short
from tests.admin.conftest import failed_order, logged_in, staff_member
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def test_counts_failures_lag_and_poll_are_on_the_front_page(support_client):
    failed_order(invoiced=True, message="Неверный формат данных")
    working = make_order()
    make_order(status=OrderStatus.SENT)
    SalesCursor.objects.create(name="default", last_success_at=timezone.now())

    response = support_client.get("/admin/")

    page = response.content.decode()
    assert 'id="order-dashboard"' in page
    assert re.search(r'order-count-error">\s*<span class="order-count-number">1<', page)
    assert "Went to ошибка in the last 24 hours: 1" in page
    assert "Неверный формат данных" in page
    assert f">{working.order_id}</a>" in page
    assert "<svg" in page
    assert "order-series-sent" in page
    assert "Last SalesAPI poll" in page


def test_the_dashboard_is_not_shown_to_staff_who_cannot_see_orders():
    nobody = logged_in(staff_member("nina"))

    page = nobody.get("/admin/").content.decode()

    assert 'id="order-dashboard"' not in page


def test_an_old_failure_is_not_recent(support):
    order = failed_order(invoiced=True)
    OrderStatusChange.objects.filter(order=order).update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    dashboard = dashboard_build()

    assert dashboard.failures == []
    assert dashboard.failures_total == 0


def test_lag_is_the_age_of_the_oldest_order_still_worked_on():
    now = timezone.now()
    old = make_order(status=OrderStatus.INVOICED)
    make_order()
    make_order(status=OrderStatus.SENT)
    type(old).objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=2))

    dashboard = dashboard_build(now=now)

    assert dashboard.oldest_working.order_id == old.order_id
    assert dashboard.lag == timedelta(hours=2)


def test_a_poll_that_has_not_succeeded_lately_is_late():
    SalesCursor.objects.create(
        name="default",
        last_success_at=timezone.now() - timedelta(hours=1),
        last_error="SalesAPI is unreachable",
    )

    dashboard = dashboard_build()

    assert dashboard.poll_late
    assert dashboard.poll_error == "SalesAPI is unreachable"


def test_chart_counts_status_changes_per_hour_but_not_notes():
    now = timezone.now()
    order = failed_order(invoiced=True)
    hour = now.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    order_note(order=order, message="a note", actor="staff:alice")

    counts = hourly_status_counts(now=now)

    assert counts == {(hour, "invoiced"): 1, (hour, "error"): 1}


def test_chart_draws_one_line_per_status_over_24_hours():
    now = timezone.now()
    hour = now.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)

    chart = status_chart({(hour, "sent"): 7, (hour, "error"): 2}, now=now)

    assert [series.code for series in chart.series] == [s.value for s in OrderStatus]
    sent = chart.series[2]
    assert len(sent.bars) == 24
    assert (sent.total, sent.bars[-1].count) == (7, 7)
    assert sent.bars[-1].height == pytest.approx((chart.bottom - chart.top) * 0.7)
    assert sent.bars[-1].y + sent.bars[-1].height == chart.bottom
    assert sent.bars[0].height == 0
    assert [tick.label for tick in chart.y_ticks] == ["0", "2", "4", "6", "8", "10"]
    assert len(chart.x_ticks) == 8


@pytest.mark.parametrize(
    ("peak", "ceiling"), [(0, 1), (1, 1), (3, 4), (7, 10), (42, 50), (101, 200)]
)
def test_the_charts_scale_ends_on_a_round_number(peak, ceiling):
    assert nice_ceiling(peak) == ceiling


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(12, "12 s"), (250, "4 min"), (3 * 3600 + 300, "3 h 5 min"), (90000, "1 d 1 h")],
)
def test_durations_are_short(seconds, text):
    assert duration_short(timedelta(seconds=seconds)) == text


def test_the_front_page_costs_the_same_queries_with_more_orders(support_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert support_client.get("/admin/").status_code == 200
        return len(captured)

    failed_order(invoiced=True)
    few = queries()
    for _ in range(30):
        failed_order(invoiced=True)
        make_order()

    assert queries() == few
