"""Probes for load balancers and orchestrators: alive, and ready to work."""

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_q.brokers import get_broker

from integrations.models import SalesCursor
from integrations.polling import CURSOR_NAME


@require_GET
def health(request):
    """Answer 200 while the process serves requests at all."""
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request):
    """Answer 200 when the database and the broker answer and polls are recent.

    503 otherwise, naming each check that failed, so that a load balancer
    takes the node out and an operator sees why.
    """
    checks = {
        "database": _database(),
        "broker": _broker(),
        "sales_poll": _sales_poll(),
    }
    ready = all(outcome == "ok" for outcome in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as err:
        return f"unreachable ({type(err).__name__})"
    return "ok"


def _broker() -> str:
    try:
        answered = get_broker().ping()
    except Exception as err:  # each broker client raises its own errors
        return f"unreachable ({type(err).__name__})"
    return "ok" if answered else "unreachable"


def _sales_poll() -> str:
    try:
        last = (
            SalesCursor.objects.filter(name=CURSOR_NAME)
            .values_list("last_success_at", flat=True)
            .first()
        )
    except DatabaseError:
        return "unknown (database unreachable)"
    if last is None:
        return "no successful poll yet"
    age = timezone.now() - last
    if age > timedelta(seconds=settings.READY_MAX_POLL_AGE_SECONDS):
        return f"last successful poll {int(age.total_seconds())} s ago"
    return "ok"
