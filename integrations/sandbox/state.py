"""The sandbox's upstreams without the HTTP: orders, invoices, verdicts, stats.

Every public method takes what a request carried and returns the ``Answer``
to send. All state sits behind one lock; nothing here sleeps, so a slow
answer (latency, a ``timeout`` fault) never holds the lock.

An "effect" is what a real upstream would do once per request: issue an
invoice, file it with the operator. Requests that repeat an Idempotency-Key
already answered are replays: they get the stored answer and cause nothing.
Only successes are stored: CustomAPI's rejections are judged afresh, so an
invoice the operator rejected can be filed again under the same key.
"""

import base64
import binascii
import copy
import json
import threading
from dataclasses import dataclass, field, replace

from integrations.sandbox.answers import (
    HTML_ERROR_PAGE,
    InvoiceError,
    custom_answer_text,
    custom_verdict,
    invoice_build,
    truncated,
)
from integrations.sandbox.generator import OrderStream
from integrations.sandbox.scenario import CustomError, Fault, parse_scenario

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Cursors of scripted orders; generated ones carry their stream's prefix.
SCENARIO_SOURCE = "scenario"

# Faults that answer at the HTTP level, before the upstream does anything.
HTTP_FAULTS = {
    "http_500": (500, "internal server error", {}),
    "http_429": (429, "too many requests", {"Retry-After": "1"}),
    "http_400": (400, "bad request", {}),
}


@dataclass
class Answer:
    """An HTTP answer: status, body text, and how long to hold it back."""

    status: int
    body: str
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


def json_answer(status: int, payload, **kwargs) -> Answer:
    """Return an answer whose body is ``payload`` as UTF-8 JSON."""
    return Answer(status, json.dumps(payload, ensure_ascii=False), **kwargs)


def error_answer(status: int, message: str, **kwargs) -> Answer:
    """Return an answer ``{"error": message}``."""
    return json_answer(status, {"error": message}, **kwargs)


def read_object(body: bytes) -> dict | None:
    """Return the JSON object ``body`` holds, or None if it holds none."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def cursor_encode(source: str, offset: int) -> str:
    """Return the opaque cursor for ``offset`` in the orders of ``source``."""
    raw = f"{source}:{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def cursor_decode(cursor: str) -> tuple[str, int]:
    """Return the (source, offset) of a cursor, or raise ``ValueError``."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise ValueError(cursor) from err
    source, _, offset = raw.rpartition(":")
    if not source or not offset.isdigit():
        raise ValueError(cursor)
    return source, int(offset)


def empty_stats() -> dict:
    """Return the stats of a sandbox that has answered nothing yet."""
    return {
        "sales": {"requests": 0, "orders_served": 0},
        "bill": {
            "requests": 0,
            "effects": 0,
            "replays": 0,
            "by_order": {},
            "by_idempotency_key": {},
        },
        "custom": {
            "requests": 0,
            "effects": 0,
            "replays": 0,
            "accepted": 0,
            "rejected": 0,
            "by_order": {},
            "by_idempotency_key": {},
        },
    }


class SandboxState:
    """The three upstreams' behaviour and memory, safe to share across threads."""

    def __init__(
        self,
        *,
        stream: OrderStream,
        scenario=None,
        timeout_seconds: float = 30.0,
        reject_share: float = 0.1,
        relaxed_json: bool = True,
    ):
        self.lock = threading.Lock()
        self.stream = stream
        self.scenario = parse_scenario(scenario) if scenario is not None else None
        self.timeout_seconds = timeout_seconds
        self.reject_share = reject_share
        self.relaxed_json = relaxed_json
        self.counts = empty_stats()
        self.answered = {"bill": {}, "custom": {}}
        self.fault_calls = {}

    # --- Control ---------------------------------------------------------

    def stats(self) -> dict:
        """Return a copy of the request, effect and replay counts."""
        with self.lock:
            return copy.deepcopy(self.counts)

    def reset(self) -> None:
        """Forget stats, stored answers and how far each fault list has got."""
        with self.lock:
            self.counts = empty_stats()
            self.answered = {"bill": {}, "custom": {}}
            self.fault_calls = {}

    def load_scenario(self, scenario) -> None:
        """Play ``scenario`` from now on, its fault lists from their start."""
        parsed = parse_scenario(scenario) if scenario is not None else None
        with self.lock:
            self.scenario = parsed
            self.fault_calls = {}

    # --- SalesAPI --------------------------------------------------------

    def sales_orders(self, *, cursor: str, limit: str | None) -> Answer:
        """Answer a page of orders after ``cursor``."""
        with self.lock:
            self.counts["sales"]["requests"] += 1
        try:
            page_size = DEFAULT_LIMIT if limit in (None, "") else int(limit)
        except ValueError:
            page_size = 0
        if not 1 <= page_size <= MAX_LIMIT:
            return error_answer(
                400, f"limit must be a whole number from 1 to {MAX_LIMIT}"
            )

        with self.lock:
            scripted = self.scenario is not None and self.scenario.orders is not None
            source = SCENARIO_SOURCE if scripted else self.stream.order_id_prefix
            offset = 0
            if cursor:
                try:
                    cursor_source, offset = cursor_decode(cursor)
                except ValueError:
                    return error_answer(400, "cursor is not one this sandbox issued")
                # A cursor from an earlier run's stream: its orders are gone,
                # so serve the new stream from its beginning.
                if cursor_source != source:
                    offset = 0
            available = (
                len(self.scenario.orders) if scripted else self.stream.available()
            )
            stop = min(available, offset + page_size)
            if offset >= stop:
                return json_answer(200, {"orders": [], "next_cursor": cursor})
            if scripted:
                orders = list(self.scenario.orders[offset:stop])
            else:
                orders = self.stream.orders(offset, stop)
            self.counts["sales"]["orders_served"] += len(orders)
        return json_answer(
            200, {"orders": orders, "next_cursor": cursor_encode(source, stop)}
        )

    # --- BillAPI ---------------------------------------------------------

    def bill_invoice(self, *, body: bytes, idempotency_key: str | None) -> Answer:
        """Answer a request for an order's invoice data set."""
        order = read_object(body)
        with self.lock:
            self.count_request("bill", idempotency_key)
        if order is None:
            return error_answer(400, "request body must be a JSON object")
        order_id = order.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            return error_answer(422, "order_id must be a non-empty string")

        with self.lock:
            per_order = self.counts["bill"]["by_order"].setdefault(
                order_id, {"requests": 0, "effects": 0}
            )
            per_order["requests"] += 1
            fault = self.next_fault("bill", order_id)
            if fault == "malformed":
                return Answer(200, truncated(self.invoice_answer(order).body))
            answer = self.fault_answer(fault)
            if answer is not None:
                return answer

            answer = self.replay("bill", idempotency_key, order_id)
            if answer is None:
                answer = self.invoice_answer(order)
                if answer.status == 201:
                    self.counts["bill"]["effects"] += 1
                    per_order["effects"] += 1
                    self.remember("bill", idempotency_key, order_id, answer)
        return self.held_back(answer, fault)

    def invoice_answer(self, order: dict) -> Answer:
        """Return BillAPI's answer for ``order``: its invoice, or why not."""
        try:
            return json_answer(201, invoice_build(order))
        except InvoiceError as err:
            return error_answer(422, str(err))

    # --- CustomAPI -------------------------------------------------------

    def custom_invoice(self, *, body: bytes, idempotency_key: str | None) -> Answer:
        """Answer the filing of an invoice data set with the operator's verdict."""
        invoice = read_object(body)
        with self.lock:
            self.count_request("custom", idempotency_key)
        if invoice is None:
            return error_answer(400, "request body must be a JSON object")
        order_id = invoice.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            order_id = None

        with self.lock:
            per_order = None
            fault = "ok"
            if order_id is not None:
                per_order = self.counts["custom"]["by_order"].setdefault(
                    order_id,
                    {"requests": 0, "effects": 0, "accepted": 0, "rejected": 0},
                )
                per_order["requests"] += 1
                fault = self.next_fault("custom", order_id)
            if fault == "malformed":
                return Answer(200, truncated(self.verdict_text(None)))
            answer = self.fault_answer(fault)
            if answer is not None:
                return answer

            answer = self.replay("custom", idempotency_key, order_id)
            if answer is not None:
                return self.held_back(answer, fault)

            if isinstance(fault, CustomError):
                error = fault
            else:
                error = custom_verdict(invoice, reject_share=self.custom_reject_share())
            outcome = "rejected" if error else "accepted"
            self.counts["custom"]["effects"] += 1
            self.counts["custom"][outcome] += 1
            if per_order is not None:
                per_order["effects"] += 1
                per_order[outcome] += 1
            answer = Answer(200, self.verdict_text(error))
            if error is None:
                self.remember("custom", idempotency_key, order_id, answer)
        return self.held_back(answer, fault)

    def verdict_text(self, error: CustomError | None) -> str:
        """Return the text of CustomAPI's answer in the configured form."""
        return custom_answer_text(error, relaxed=self.relaxed_json)

    def custom_reject_share(self) -> float:
        """Return the share of orders CustomAPI rejects of its own accord."""
        if self.scenario is None:
            return self.reject_share
        if self.scenario.reject_share is not None:
            return self.scenario.reject_share
        # Scripted orders are rejected only when the scenario says so.
        return 0.0 if self.scenario.orders is not None else self.reject_share

    # --- Mailgun and Twilio ----------------------------------------------

    def message_fault(self, *, channel: str, recipients) -> Fault:
        """Return the scenario's fault for a message, and count the call.

        The first of ``recipients`` the scenario has faults for decides.
        """
        with self.lock:
            if self.scenario is None:
                return "ok"
            for recipient in recipients:
                key = recipient.lower() if channel == "email" else recipient
                if self.scenario.plan_for(upstream=channel, order_id=key) is not None:
                    return self.next_fault(channel, key)
        return "ok"

    # --- Shared (called with the lock held) -------------------------------

    def count_request(self, upstream: str, idempotency_key: str | None) -> None:
        """Count one request to ``upstream`` and the key it carried."""
        counts = self.counts[upstream]
        counts["requests"] += 1
        if idempotency_key:
            by_key = counts["by_idempotency_key"]
            by_key[idempotency_key] = by_key.get(idempotency_key, 0) + 1

    def replay(self, upstream: str, idempotency_key, order_id) -> Answer | None:
        """Return the answer stored under the key, counted as a replay, or None."""
        if not idempotency_key or idempotency_key not in self.answered[upstream]:
            return None
        stored_order_id, stored = self.answered[upstream][idempotency_key]
        # A key reused for another order is a client bug; say so rather than
        # hand one order's answer to another.
        if stored_order_id != order_id:
            return error_answer(
                422,
                f"Idempotency-Key {idempotency_key!r} was already used "
                f"for order {stored_order_id!r}",
            )
        self.counts[upstream]["replays"] += 1
        return replace(stored)

    def remember(self, upstream: str, idempotency_key, order_id, answer) -> None:
        """Store ``answer`` under the key, for replays."""
        if idempotency_key:
            self.answered[upstream][idempotency_key] = (order_id, replace(answer))

    def next_fault(self, upstream: str, order_id: str):
        """Return the scenario's fault for this call, and count the call."""
        if self.scenario is None:
            return "ok"
        plan = self.scenario.plan_for(upstream=upstream, order_id=order_id)
        if plan is None:
            return "ok"
        call_index = self.fault_calls.get((upstream, order_id), 0)
        self.fault_calls[(upstream, order_id)] = call_index + 1
        return plan.fault_for_call(call_index)

    def fault_answer(self, fault) -> Answer | None:
        """Return the answer of a fault that stops the upstream, or None."""
        if fault in HTTP_FAULTS:
            status, message, headers = HTTP_FAULTS[fault]
            return error_answer(status, message, headers=dict(headers))
        if fault == "html":
            return Answer(200, HTML_ERROR_PAGE, content_type=HTML)
        return None

    def held_back(self, answer: Answer, fault) -> Answer:
        """Return ``answer``, held back past the client's patience on a timeout."""
        if fault == "timeout":
            answer.delay_seconds = self.timeout_seconds
        return answer
