"""Keep each upstream exchange about an order in the database, for staff.

``integrations.http.log_exchange`` hands every exchange here once it has
been redacted for the log. Calls made by the pipeline name their order;
code that calls an upstream through a library (Mailgun, Twilio) names it by
running inside ``exchanges_of_order``. Keeping an exchange must never break
the call it records: a failure to store is logged and forgotten.
"""

import contextlib
import contextvars
import logging

from django.conf import settings
from django.db import DatabaseError, transaction

from integrations.models import UpstreamExchange
from orders.models import Order
from phpservice.payloads import clean_text

logger = logging.getLogger(__name__)

# TODO(exchanges): nothing prunes old exchanges yet; at three or four rows an
# order the table grows with the orders, and a retention (say 90 days, as a
# django-q schedule) should come before it matters.

# An invoice data set is a few kilobytes; the cap keeps one odd answer from
# filling the table. ``UPSTREAM_EXCHANGE_BODY_MAX_CHARS`` overrides it.
EXCHANGE_BODY_MAX_CHARS = 16_000
MAX_URL_CHARS = UpstreamExchange._meta.get_field("url").max_length
MAX_KEY_CHARS = UpstreamExchange._meta.get_field("idempotency_key").max_length

# The order exchanges made now belong to: its order_id and, when the code
# that named it knew it, its primary key.
_current_order: contextvars.ContextVar[tuple[str, int | None] | None] = (
    contextvars.ContextVar("exchange_order", default=None)
)


@contextlib.contextmanager
def exchanges_of_order(order_id: str, *, pk: int | None = None):
    """Attribute the upstream exchanges made inside the block to the order.

    Given the order's ``pk``, keeping an exchange need not look it up.
    """
    token = _current_order.set((order_id, pk))
    try:
        yield
    finally:
        _current_order.reset(token)


def current_order_id() -> str | None:
    """Return the order that exchanges made now belong to, if any."""
    current = _current_order.get()
    return current[0] if current else None


def _order_pk(order_id: str) -> int | None:
    current = _current_order.get()
    if current and current[0] == order_id and current[1] is not None:
        return current[1]
    return Order.objects.filter(order_id=order_id).values_list("pk", flat=True).first()


def exchange_body_limit() -> int:
    """Return how many characters of a body are kept."""
    return getattr(
        settings, "UPSTREAM_EXCHANGE_BODY_MAX_CHARS", EXCHANGE_BODY_MAX_CHARS
    )


def exchange_keep(
    *,
    order_id: str,
    upstream: str,
    method: str,
    url: str,
    status: int | None,
    duration_ms: float,
    request_body: str | None,
    response_body: str | None,
    error: str = "",
    idempotency_key: str | None = None,
) -> UpstreamExchange | None:
    """Store one exchange, already redacted and cut, for the order ``order_id``.

    Return None, and change nothing, when there is no such order or the
    database refuses the row.
    """
    # Room for the "[truncated, N chars]" mark of a cut body.
    limit = exchange_body_limit() + 64

    def kept(text: str | None, cap: int) -> str:
        # What the database cannot hold (NUL, lone surrogates) is dropped.
        return clean_text(text or "", limit=cap)

    try:
        order_pk = _order_pk(order_id)
        if order_pk is None:
            return None
        # Inside a caller's transaction, a savepoint: a refused row must not
        # spoil it. Outside one, the insert commits by itself.
        in_transaction = transaction.get_connection().in_atomic_block
        with transaction.atomic() if in_transaction else contextlib.nullcontext():
            return UpstreamExchange.objects.create(
                order_id=order_pk,
                upstream=upstream[:32],
                method=method[:8],
                url=clean_text(url, limit=MAX_URL_CHARS),
                idempotency_key=(idempotency_key or "")[:MAX_KEY_CHARS],
                status=status,
                duration_ms=duration_ms,
                request_body=kept(request_body, limit),
                response_body=kept(response_body, limit),
                error=kept(error, 2000),
            )
    except DatabaseError:
        logger.exception(
            "upstream.exchange_not_kept",
            extra={"order_id": order_id, "upstream": upstream},
        )
        return None
