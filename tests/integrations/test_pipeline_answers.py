"""What BillAPI and CustomAPI answers do to an order, edge cases included.

Answers are played by ``responses``; the ordinary flow runs against the
sandbox over HTTP in tests/e2e.
"""

import json

import pytest
import responses

from integrations.pipeline import orders_process_due
from orders.models import OrderStatus
from tests.factories import make_order

pytestmark = pytest.mark.django_db(transaction=True)

BILL_URL = "http://127.0.0.1:9/bill/invoices"
CUSTOM_URL = "http://127.0.0.1:9/custom/invoices"


def process(order):
    orders_process_due()
    order.refresh_from_db()
    return order


def bill_answers(order, **invoice):
    body = {"invoice_id": f"INV-{order.order_id}", "order_id": order.order_id}
    body.update(invoice)
    responses.add(responses.POST, BILL_URL, json=body, status=201)


@responses.activate
def test_cyrillic_invoice_id_is_filed_with_an_ascii_key():
    order = make_order()
    bill_answers(order, invoice_id="СЧ-1/2026")
    responses.add(responses.POST, CUSTOM_URL, body="{success: true}")

    order = process(order)

    assert order.status == OrderStatus.SENT
    key = responses.calls[1].request.headers["Idempotency-Key"]
    assert key.isascii()
    assert key.startswith(f"custom-{order.order_id}-")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('{"invoice_id": "INV-1", "order_id": "%s", "total": NaN}', "NaN"),
        ('{"invoice_id": "INV-\\r\\n1", "order_id": "%s"}', "control characters"),
        (
            '{"invoice_id": "INV-1", "order_id": "%s", "x": '
            + "[" * 20
            + "]" * 20
            + "}",
            "nested deeper than 16",
        ),
        (
            '{"invoice_id": "INV-1", "order_id": "%s", "x": "\\ud800"}',
            "not valid Unicode",
        ),
        ('{"invoice_id": "INV-1", "order_id": "other"}', "is for order 'other'"),
        ('{"order_id": "%s"}', "has no invoice_id"),
    ],
)
@responses.activate
def test_unusable_invoice_goes_straight_to_error(answer, reason):
    order = make_order()
    body = answer % order.order_id if "%s" in answer else answer
    responses.add(responses.POST, BILL_URL, body=body, status=201)

    order = process(order)

    assert order.status == OrderStatus.ERROR
    assert order.message.startswith("BillAPI answer")
    assert reason in order.message
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("answer", "message", "code"),
    [
        (
            "{success: false, error: {code: -1, message: 'Неверный формат данных'}}",
            "Неверный формат данных",
            "-1",
        ),
        (
            "{success: false, error: {code: -2, message: ['a', 'б']}}",
            '["a", "б"]',
            "-2",
        ),
        ("{success: false}", "CustomAPI rejected the invoice without a message", ""),
    ],
)
@responses.activate
def test_custom_verdicts(answer, message, code):
    order = make_order()
    bill_answers(order)
    responses.add(responses.POST, CUSTOM_URL, body=answer)

    order = process(order)

    assert order.status == OrderStatus.ERROR
    assert (order.message, order.error_code) == (message, code)


@responses.activate
def test_an_expression_is_never_evaluated_and_the_filing_is_asked_again():
    order = make_order()
    bill_answers(order)
    responses.add(
        responses.POST,
        CUSTOM_URL,
        body="// comment\n{success: false, error: {code: 7, message: 'x' + 'y'}}",
    )

    order = process(order)

    assert order.status == OrderStatus.INVOICED
    assert order.message.startswith("CustomAPI answer cannot be parsed")
    assert "attempt 1 of" in order.message
    assert order.error_code == ""


@responses.activate
def test_huge_custom_message_is_capped():
    order = make_order()
    bill_answers(order)
    message = "ошибка " * 10_000
    responses.add(
        responses.POST,
        CUSTOM_URL,
        body=json.dumps({"success": False, "error": {"code": 1, "message": message}}),
    )

    order = process(order)

    assert len(order.message) == 2000
    assert order.message.endswith("…")


@responses.activate
def test_deeply_nested_custom_answer_is_an_error_not_a_retry():
    order = make_order()
    bill_answers(order)
    responses.add(responses.POST, CUSTOM_URL, body="[" * 5000 + "]" * 5000)

    order = process(order)

    assert order.status == OrderStatus.ERROR
    assert "CustomAPI answer cannot be parsed" in order.message
    assert len(responses.calls) == 2
