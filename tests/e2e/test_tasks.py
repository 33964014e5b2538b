"""The django-q2 tasks and schedules that qcluster runs."""

import json
from pathlib import Path

import pytest

from django.conf import settings
from django_q.conf import Conf
from django_q.models import Schedule

from integrations import tasks
from orders.models import Order, OrderStatus
from tests.factories import sales_record

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tasks_run_inline(monkeypatch):
    """Make async_task run the task at once, in this process."""
    monkeypatch.setattr(Conf, "SYNC", True)


def test_migrate_installs_both_schedules():
    schedules = {s.name: s for s in Schedule.objects.all()}

    assert schedules["poll-sales"].func == "integrations.tasks.poll_sales"
    assert schedules["process-due-orders"].func == tasks.PROCESS_TASK
    assert {s.schedule_type for s in schedules.values()} == {Schedule.MINUTES}
    assert schedules["process-due-orders"].minutes == 1
    assert schedules["flush-expired-tokens"].minutes == 24 * 60


def test_poll_task_chains_into_processing(sandbox, tasks_run_inline):
    records = [sales_record(), sales_record()]
    sandbox.load_scenario({"orders": records})

    result = tasks.poll_sales()

    assert result["created"] == 2
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.SENT}


def test_full_batch_queues_the_next_one(sandbox, tasks_run_inline, settings):
    settings.PIPELINE = {**settings.PIPELINE, "BATCH_SIZE": 2}
    sandbox.load_scenario({"orders": [sales_record() for _ in range(5)]})
    tasks.poll_sales()

    assert Order.objects.filter(status=OrderStatus.SENT).count() == 5


def test_upstream_exchanges_are_logged_without_secrets_or_contact_data(
    sandbox, run_pipeline
):
    record = sales_record(customer_email="maria.petrova@example.com")
    sandbox.load_scenario({"orders": [record]})

    run_pipeline()

    text = (Path(settings.LOG_DIR) / "upstream.log").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    mine = [line for line in lines if line.get("order_id") == record["order_id"]]
    assert {(line["upstream"], line["status"]) for line in mine} == {
        ("BillAPI", 201),
        ("CustomAPI", 200),
    }
    assert all(line["duration_ms"] >= 0 for line in mine)
    assert "maria.petrova@example.com" not in text
    assert "m***@example.com" in text
    for secret in (settings.SECRET_KEY, settings.JWT_SIGNING_KEY):
        assert secret not in text
