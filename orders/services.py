"""Business actions on orders: creation from SalesAPI and status changes.

Every change of an order's status goes through ``order_transition``, which
enforces ``ALLOWED_TRANSITIONS`` and writes the status history in the same
transaction as the change.
"""

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from orders.models import (
    WORKING_STATUSES,
    Order,
    OrderPayloadConflict,
    OrderStatus,
    OrderStatusChange,
    RejectedSalesRecord,
)
from orders.validation import validate_sales_record
from phpservice.bulk import rows_insert
from phpservice.payloads import clean_text, storable_problem

logger = logging.getLogger(__name__)

# Status an order is in → statuses it may move to. "" is a new order. Leaving
# ``error`` is a replay by staff: from the start, or from CustomAPI when the
# invoice data set is already there.
ALLOWED_TRANSITIONS = {
    "": {OrderStatus.PROCESSING, OrderStatus.ERROR},
    OrderStatus.PROCESSING: {OrderStatus.INVOICED, OrderStatus.ERROR},
    OrderStatus.INVOICED: {OrderStatus.SENT, OrderStatus.ERROR},
    OrderStatus.SENT: set(),
    OrderStatus.ERROR: {OrderStatus.PROCESSING, OrderStatus.INVOICED},
}


class InvalidTransition(Exception):
    """The order may not move from its status to the one asked for."""


class LeaseLost(Exception):
    """Another worker holds the order now; this worker's result is dropped."""


def payload_digest(payload) -> str:
    """Return a digest of a JSON payload that ignores key order and spacing."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def storable_payload(record) -> tuple[object, str | None]:
    """Return the record as it can be kept, and why it was changed, if it was.

    A record that cannot be stored as JSON (too deep, invalid Unicode, NaN)
    is replaced by a note and an ASCII excerpt, so that it is still kept.
    """
    problem = storable_problem(record)
    if problem is None:
        return record, None
    try:
        excerpt = json.dumps(record, ensure_ascii=True)[:2000]
    except (RecursionError, ValueError):
        excerpt = ""
    return {"unstorable": problem, "excerpt": excerpt}, problem


@transaction.atomic
def order_transition(
    *,
    order: Order,
    to_status: str,
    actor: str,
    message: str = "",
    error_code: str = "",
    lease_owner: str | None = None,
    updates: dict | None = None,
) -> Order:
    """Move the order to ``to_status``, record it, and return it changed.

    With ``lease_owner`` the change is made only while that worker still
    holds the order; otherwise ``LeaseLost`` is raised and nothing changes.
    ``updates`` are further fields saved with the change (e.g. the invoice).
    Only the changed columns are written: the payload and invoice stay put.
    """
    changes = _transition_changes(to_status, message, error_code, updates)
    if lease_owner is not None and to_status in WORKING_STATUSES:
        # The worker goes on to the next step: its lease covers that step.
        changes.setdefault("lease_expires_at", lease_expiry())
    # Usually the order is still as the caller read it: one conditional
    # UPDATE both checks and makes the change. Otherwise (another worker took
    # it, or the caller's copy is old) the row is read under a lock to say why.
    guard = {"pk": order.pk, "status": order.status}
    if lease_owner is not None:
        guard["lease_owner"] = lease_owner
    from_status = order.status
    if to_status not in ALLOWED_TRANSITIONS.get(from_status, ()) or not (
        Order.objects.filter(**guard).update(**changes)
    ):
        from_status = _locked_status(order, to_status, lease_owner)
        Order.objects.filter(pk=order.pk).update(**changes)
    for name, value in changes.items():
        setattr(order, name, value)

    OrderStatusChange.objects.create(
        order_id=order.pk,
        from_status=from_status,
        to_status=to_status,
        message=message,
        actor=actor,
    )
    logger.info(
        "order.status_changed",
        extra={
            "order_id": order.order_id,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
        },
    )
    return order


def lease_expiry() -> datetime:
    """Return when a lease taken or renewed now runs out."""
    return timezone.now() + timedelta(seconds=settings.PIPELINE["LEASE_SECONDS"])


def order_renew_lease(*, order: Order, lease_owner: str) -> bool:
    """Renew the worker's lease on the order; False when it holds it no more."""
    return bool(
        Order.objects.filter(pk=order.pk, lease_owner=lease_owner).update(
            lease_expires_at=lease_expiry()
        )
    )


def _locked_status(order: Order, to_status: str, lease_owner: str | None) -> str:
    """Return the order's status read under a lock, if it may go to ``to_status``."""
    current = (
        Order.objects.select_for_update()
        .filter(pk=order.pk)
        .values("status", "lease_owner")
        .get()
    )
    if lease_owner is not None and current["lease_owner"] != lease_owner:
        raise LeaseLost(f"order {order.order_id} is now held by another worker")
    from_status = current["status"]
    if to_status not in ALLOWED_TRANSITIONS[from_status]:
        raise InvalidTransition(
            f"order {order.order_id} cannot go from {from_status} to {to_status}"
        )
    return from_status


def _transition_changes(to_status, message, error_code, updates) -> dict:
    return {
        "status": to_status,
        "message": message,
        "error_code": error_code,
        # A new status starts its step afresh: due now while there is work
        # left, not due at all once the order rests.
        "attempts": 0,
        "next_attempt_at": timezone.now() if to_status in WORKING_STATUSES else None,
        **(updates or {}),
        "updated_at": timezone.now(),
    }


def order_schedule_retry(
    *,
    order: Order,
    lease_owner: str,
    attempts: int,
    next_attempt_at: datetime,
    message: str,
) -> bool:
    """Keep the order's status, note the retry, and make it due again later.

    Return False when the worker no longer holds the order.
    """
    updated = Order.objects.filter(pk=order.pk, lease_owner=lease_owner).update(
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        message=message,
        lease_owner="",
        lease_expires_at=None,
        updated_at=timezone.now(),
    )
    return updated == 1


@dataclass
class IngestResult:
    """What one batch of SalesAPI records did to the database."""

    created: int = 0
    invalid: int = 0
    unchanged: int = 0
    conflicts: int = 0
    rejected: int = 0
    created_order_ids: list[str] = field(default_factory=list)


@transaction.atomic
def orders_ingest(*, records: list, actor: str = "sales-poll") -> IngestResult:
    """Save a batch of SalesAPI records as orders, one invalid record at a time.

    A new valid record becomes an order in ``processing``; a new invalid one
    an order in ``error`` whose message names each bad field. A known order id
    with identical data is a no-op; with different data the first version is
    kept and the new one recorded as a conflict. A record without a usable id
    is kept in ``RejectedSalesRecord``.
    """
    result = IngestResult()
    batch: dict[str, tuple] = {}
    conflicts: list[tuple[str, object, str]] = []
    for received in records:
        record, problem = storable_payload(received)
        digest = payload_digest(record)
        checked = validate_sales_record(received)
        if problem:
            checked.errors.append(f"record: {problem}")
        if checked.order_id is None:
            orders_reject_record(record=record, reason=checked.error_message)
            result.rejected += 1
        elif checked.order_id not in batch:
            batch[checked.order_id] = (record, digest, checked)
        elif batch[checked.order_id][1] != digest:
            # The same id twice in one batch with different data: first wins.
            conflicts.append((checked.order_id, record, digest))

    known = dict(
        Order.objects.filter(order_id__in=list(batch)).values_list(
            "order_id", "payload_sha256"
        )
    )
    new_orders: list[dict] = []
    for order_id, (record, digest, checked) in batch.items():
        if order_id not in known:
            new_orders.append(_new_order(record, digest, checked))
        elif known[order_id] == digest:
            result.unchanged += 1
        else:
            conflicts.append((order_id, record, digest))

    if new_orders:
        rows_insert(Order, new_orders)
        _record_creation(new_orders, actor)
        for order in new_orders:
            if order["status"] == OrderStatus.ERROR:
                result.invalid += 1
            result.created_order_ids.append(order["order_id"])
        result.created = len(new_orders)

    if conflicts:
        result.conflicts = _keep_conflicts(conflicts)
    return result


def _new_order(record: dict, digest: str, checked) -> dict:
    """Return the new order's row: field name → value."""
    order = {
        "order_id": checked.order_id,
        "payload": record,
        "payload_sha256": digest,
        **checked.fields,
    }
    if checked.is_valid:
        order["status"] = OrderStatus.PROCESSING
        order["next_attempt_at"] = timezone.now()
    else:
        order["status"] = OrderStatus.ERROR
        order["message"] = checked.error_message
        logger.warning(
            "order.invalid",
            extra={"order_id": checked.order_id, "errors": checked.errors},
        )
    return order


def _record_creation(orders: list[dict], actor: str) -> None:
    # The driver returns no keys of rows inserted together: look them up.
    ids = dict(
        Order.objects.filter(order_id__in=[o["order_id"] for o in orders]).values_list(
            "order_id", "pk"
        )
    )
    rows_insert(
        OrderStatusChange,
        (
            {
                "order": ids[order["order_id"]],
                "from_status": "",
                "to_status": order["status"],
                "message": order.get("message") or "Received from SalesAPI",
                "actor": actor,
            }
            for order in orders
        ),
    )


def _keep_conflicts(conflicts: list[tuple[str, object, str]]) -> int:
    pks = dict(
        Order.objects.filter(order_id__in={c[0] for c in conflicts}).values_list(
            "order_id", "pk"
        )
    )
    rows = []
    for order_id, record, digest in conflicts:
        logger.warning(
            "order.payload_conflict",
            extra={"order_id": order_id, "payload_sha256": digest},
        )
        if order_id in pks:
            rows.append(
                OrderPayloadConflict(
                    order_id=pks[order_id], payload=record, payload_sha256=digest
                )
            )
    OrderPayloadConflict.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def orders_reject_record(*, record, reason: str) -> None:
    """Keep a SalesAPI record that cannot become an order, once, for staff."""
    logger.error("order.rejected", extra={"reason": reason})
    record, _ = storable_payload(record)
    try:
        with transaction.atomic():
            RejectedSalesRecord.objects.get_or_create(
                payload_sha256=payload_digest(record),
                defaults={"payload": record, "reason": clean_text(reason, limit=2000)},
            )
    except DatabaseError:
        # Not even kept aside: the log line is all that remains of it.
        logger.exception("order.rejected_not_kept", extra={"record": record})


def order_note(*, order: Order, message: str, actor: str) -> OrderStatusChange:
    """Add a line to the order's history that does not change its status."""
    return OrderStatusChange.objects.create(
        order=order,
        from_status=order.status,
        to_status=order.status,
        message=message,
        actor=actor,
    )
