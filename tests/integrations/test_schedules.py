"""Each schedule slot does its work once, however often it is fired."""

from collections import Counter
from datetime import timedelta

import pytest

from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage

from integrations import tasks
from integrations.models import ScheduleRun
from integrations.schedules import (
    POLL_SCHEDULE,
    POLL_TASK,
    PROCESS_SCHEDULE,
    SLOT_KWARG,
)
from orders.models import Order
from tests.factories import sales_record

pytestmark = pytest.mark.django_db

SLOT = "2026-12-04T12:00:00+00:00"


def test_a_second_run_of_the_same_slot_does_nothing(sandbox):
    sandbox.load_scenario({"orders": [sales_record()]})
    first = tasks.poll_sales(scheduled_for=SLOT)
    requests = sandbox.stats()["sales"]["requests"]

    second = tasks.poll_sales(scheduled_for=SLOT)

    assert first["created"] == 1
    assert second == {"skipped": "duplicate run of its schedule slot"}
    assert sandbox.stats()["sales"]["requests"] == requests
    assert Order.objects.count() == 1


def test_the_next_slot_and_runs_without_a_slot_do_their_work(sandbox):
    sandbox.load_scenario({"orders": [sales_record()]})
    tasks.poll_sales(scheduled_for=SLOT)

    later = tasks.poll_sales(scheduled_for="2026-12-04T12:01:00+00:00")
    chained = tasks.process_due_orders()
    chained_again = tasks.process_due_orders()

    assert later["skipped"] is False
    assert "skipped" not in chained and "skipped" not in chained_again


def test_slot_records_older_than_two_days_are_dropped(sandbox):
    old = timezone.now() - timedelta(days=3)
    ScheduleRun.objects.create(schedule=POLL_SCHEDULE, slot=old)

    tasks.poll_sales(scheduled_for=timezone.now().isoformat())

    assert not ScheduleRun.objects.filter(slot=old).exists()


# django-q2's scheduler closes the connection it used, as between passes.
@pytest.mark.django_db(transaction=True)
def test_the_scheduler_hands_each_task_the_slot_it_fired():
    schedule = Schedule.objects.get(name=POLL_SCHEDULE)
    slot = timezone.now() - timedelta(seconds=5)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=slot)
    broker = get_broker()

    scheduler(broker=broker)
    scheduler(broker=broker)

    queued = [
        task.task for task in OrmQ.objects.all() if task.task["func"] == POLL_TASK
    ]
    assert [task["kwargs"][SLOT_KWARG] for task in queued] == [slot.isoformat()]
    assert Schedule.objects.get(pk=schedule.pk).next_run > timezone.now()


class BrokerThatFails:
    """Keep queued task packages in memory; fail the ``fail_at``-th enqueue."""

    list_key = "django_q:phpservice:q"

    def __init__(self, *, fail_at: int | None = None):
        self.packages: list[str] = []
        self.fail_at = fail_at

    def enqueue(self, package: str) -> int:
        if len(self.packages) + 1 == self.fail_at:
            raise ConnectionError("the broker went away")
        self.packages.append(package)
        return len(self.packages)


@pytest.mark.django_db(transaction=True)
def test_a_slot_the_scheduler_fires_twice_does_its_work_once(sandbox):
    # django-q2 queues a schedule's task before its transaction commits. When
    # a later step of the same pass fails, the transaction rolls back, the
    # slot stays due, and the next pass queues it again: with a broker
    # outside the database (Redis) the first task is still there.
    past = timezone.now() - timedelta(seconds=5)
    Schedule.objects.update(next_run=timezone.now() + timedelta(hours=1))
    Schedule.objects.filter(name__in=[POLL_SCHEDULE, PROCESS_SCHEDULE]).update(
        next_run=past
    )
    failing, working = BrokerThatFails(fail_at=2), BrokerThatFails()

    scheduler(broker=failing)
    scheduler(broker=working)

    queued = [
        SignedPackage.loads(package) for package in failing.packages + working.packages
    ]
    fired = Counter((task["func"], task["kwargs"][SLOT_KWARG]) for task in queued)
    assert sorted(fired.values()) == [1, 2], "the scheduler fired a slot twice"
    results = [import_string(task["func"])(**task["kwargs"]) for task in queued]
    assert results.count(tasks.DUPLICATE) == 1
    assert ScheduleRun.objects.count() == 2
