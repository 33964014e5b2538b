"""Poll SalesAPI for new orders, resuming from the cursor kept in the database.

One poller at a time holds the cursor's lease, renewed with every page; each
page's orders and the cursor after it are saved in one transaction, so a
crash at any point neither loses a page nor skips one.
"""

import contextlib
import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from integrations.http import UpstreamError
from integrations.models import SalesCursor
from integrations.pipeline import worker_name
from integrations.sales import SalesClient
from orders.services import IngestResult, orders_ingest, orders_reject_record
from phpservice.database import connections_drop_broken
from phpservice.payloads import clean_text

logger = logging.getLogger(__name__)

CURSOR_NAME = "default"


@dataclass
class PollResult:
    """What one poll pass did."""

    skipped: bool = False
    pages: int = 0
    created: int = 0
    invalid: int = 0
    unchanged: int = 0
    conflicts: int = 0
    rejected: int = 0
    error: str = ""


def _lease_until():
    return timezone.now() + timedelta(seconds=settings.SALES_POLL_LEASE_SECONDS)


def _claim_cursor(owner: str) -> SalesCursor | None:
    # Another poller may have created the row a moment ago.
    with contextlib.suppress(IntegrityError):
        SalesCursor.objects.get_or_create(name=CURSOR_NAME)
    now = timezone.now()
    claimed = (
        SalesCursor.objects.filter(name=CURSOR_NAME)
        .filter(Q(lease_owner="") | Q(lease_expires_at__lt=now))
        .update(lease_owner=owner, lease_expires_at=_lease_until())
    )
    return SalesCursor.objects.get(name=CURSOR_NAME) if claimed else None


def sales_poll(*, client: SalesClient | None = None) -> PollResult:
    """Fetch SalesAPI's pages after the kept cursor and save their orders."""
    owner = worker_name()
    try:
        state = _claim_cursor(owner)
    except DatabaseError as err:
        # The database is away: there is no cursor to poll from. The next
        # poll tries again on a fresh connection.
        connections_drop_broken()
        error = f"The database is unavailable ({type(err).__name__}): {err}"
        logger.error("sales.poll_failed", extra={"error": error})
        return PollResult(error=error)
    if state is None:
        logger.info("sales.poll_skipped", extra={"reason": "another poll is running"})
        return PollResult(skipped=True)
    # Taken after the claim and (below) before the release, so the logged
    # span lies inside the lease: spans of two polls never overlap.
    held_from = timezone.now()

    client = client or SalesClient()
    result = PollResult()
    cursor = state.cursor
    try:
        for _ in range(settings.SALES_POLL_MAX_PAGES):
            page = client.fetch_page(cursor=cursor, limit=settings.SALES_POLL_PAGE_SIZE)
            result.pages += 1
            # A cursor that does not move would have us ask for the same page
            # forever; None means SalesAPI keeps no cursor (a list or one order).
            moved = page.next_cursor not in (None, "", cursor)
            with transaction.atomic():
                ingest = _ingest_page(page.records)
                kept = SalesCursor.objects.filter(
                    name=CURSOR_NAME, lease_owner=owner
                ).update(
                    cursor=page.next_cursor if moved else cursor,
                    lease_expires_at=_lease_until(),
                    last_success_at=timezone.now(),
                    last_error="",
                )
                if not kept:
                    transaction.set_rollback(True)
                    result.error = "the poll lease ran out; another poller took over"
                    logger.warning("sales.poll_lease_lost")
                    return result
            _add(result, ingest)
            if not page.records or not moved:
                break
            cursor = page.next_cursor
        else:
            logger.info(
                "sales.poll_page_limit", extra={"pages": result.pages, "cursor": cursor}
            )
    except UpstreamError as err:
        result.error = str(err)
        logger.error("sales.poll_failed", extra={"error": result.error})
    except DatabaseError as err:
        # The page being saved was rolled back whole and the cursor still
        # names it, so the next poll asks for it again: nothing is skipped.
        result.error = (
            f"The database failed while polling ({type(err).__name__}): {err}"
        )
        logger.exception("sales.poll_failed")
    except Exception as err:
        # A poll must never take its caller down: the next one tries again.
        result.error = f"Internal error while polling ({type(err).__name__}): {err}"
        logger.exception("sales.poll_crashed")
    finally:
        held_until = timezone.now()
        _release_cursor(owner, result.error)

    logger.info(
        "sales.poll_done",
        extra={
            "poll": asdict(result),
            "owner": owner,
            "held_from": held_from.isoformat(),
            "held_until": held_until.isoformat(),
        },
    )
    return result


def _release_cursor(owner: str, error: str) -> None:
    release = {"lease_owner": "", "lease_expires_at": None}
    if error:
        release["last_error"] = clean_text(error, limit=2000)
        # After a database error the connection may be dead; a fresh one may
        # already reach a server that came back.
        connections_drop_broken()
    try:
        SalesCursor.objects.filter(name=CURSOR_NAME, lease_owner=owner).update(
            **release
        )
    except DatabaseError:
        # Still away: the lease runs out after SALES_POLL_LEASE_SECONDS and
        # a later poll takes the cursor up where it was last saved.
        connections_drop_broken()
        logger.exception("sales.poll_lease_not_released")


def _ingest_page(records: list):
    try:
        with transaction.atomic():
            return orders_ingest(records=records)
    except Exception:
        # Validation should keep every record storable; if one still is not,
        # save the page record by record so that it alone is set aside.
        logger.exception("sales.page_not_saved", extra={"records": len(records)})
    total = IngestResult()
    for record in records:
        try:
            with transaction.atomic():
                one = orders_ingest(records=[record])
        except Exception as err:
            logger.exception("sales.record_not_saved")
            orders_reject_record(
                record=record,
                reason=f"Could not be saved ({type(err).__name__}): {err}",
            )
            total.rejected += 1
            continue
        for name in ("created", "invalid", "unchanged", "conflicts", "rejected"):
            setattr(total, name, getattr(total, name) + getattr(one, name))
    return total


def _add(result: PollResult, ingest) -> None:
    result.created += ingest.created
    result.invalid += ingest.invalid
    result.unchanged += ingest.unchanged
    result.conflicts += ingest.conflicts
    result.rejected += ingest.rejected
