from django.core.management.base import BaseCommand

from notifications.services import notifications_reconcile_interrupted


class Command(BaseCommand):
    help = (
        "Mark notifications left in 'sending' by a process that died mid-call "
        "as 'unknown' (never sent again), with a note in the order's history. "
        "qcluster runs this every few minutes; cron deployments run it alike."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help="Seconds a notification must have been sending "
            "(default: NOTIFY_SENDING_TIMEOUT_SECONDS).",
        )

    def handle(self, *args, older_than, **options):
        count = notifications_reconcile_interrupted(older_than_seconds=older_than)
        self.stdout.write(f"Notifications marked unknown: {count}.")
