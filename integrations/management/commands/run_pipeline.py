import logging
import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Min
from django.utils import timezone

from integrations.pipeline import orders_process_due
from integrations.polling import sales_poll
from orders.models import WORKING_STATUSES, Order, OrderStatus
from orders.selectors import order_status_counts
from phpservice.database import DATABASE_UNAVAILABLE, connections_drop_broken

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Poll SalesAPI once, then drive every due order to a resting status "
        "('отправлен' or 'ошибка'), waiting out retries, and print a summary. "
        "For cron deployments, operators and tests; qcluster does the same "
        "continuously."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Do one pass and exit (the only mode; qcluster runs continuously).",
        )
        parser.add_argument("--no-poll", action="store_true", help="Skip the poll.")
        parser.add_argument(
            "--max-wait",
            type=float,
            default=900.0,
            help="Give up waiting for retries after this many seconds (default 900).",
        )

    def handle(self, *args, once, no_poll, max_wait, **options):
        if not once:
            raise CommandError("Pass --once; for continuous work run `qcluster`.")
        problems = []
        if not no_poll:
            poll = sales_poll()
            if poll.error:
                problems.append(f"the poll failed: {poll.error}")
            self.stdout.write(
                f"Poll: {poll.pages} page(s), {poll.created} new order(s) "
                f"({poll.invalid} invalid), {poll.unchanged} already known, "
                f"{poll.conflicts} conflicting, {poll.rejected} rejected."
            )

        deadline = time.monotonic() + max_wait
        worked = 0
        while True:
            try:
                claimed = orders_process_due().claimed
                worked += claimed
                if claimed:
                    continue
                waiting = Order.objects.filter(status__in=WORKING_STATUSES).aggregate(
                    count=Count("pk"), next_due=Min("next_attempt_at")
                )
            except DATABASE_UNAVAILABLE as err:
                # A database restart is waited out like a retry: the orders
                # held when it went away are free again when their leases end.
                connections_drop_broken()
                logger.warning(
                    "pipeline.database_unavailable", extra={"error": str(err)}
                )
                if time.monotonic() >= deadline:
                    problems.append(f"the database did not answer: {err}")
                    break
                time.sleep(1.0)
                continue
            if not waiting["count"]:
                break
            if time.monotonic() >= deadline:
                problems.append(
                    f"stopped waiting with {waiting['count']} order(s) in progress"
                )
                break
            due_in = (waiting["next_due"] or timezone.now()) - timezone.now()
            # Orders wait for a retry, or are held by another worker.
            time.sleep(min(max(due_in.total_seconds(), 0.05), 1.0))

        self.stdout.write(f"Orders worked on: {worked}. Orders by status:")
        for status, count in order_status_counts().items():
            self.stdout.write(f"  {OrderStatus(status).label:<15} {count}")
        if problems:
            # A non-zero exit, so that cron and scripts notice.
            message = "; ".join(problems)
            raise CommandError(f"{message[0].upper()}{message[1:]}.")
