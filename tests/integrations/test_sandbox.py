"""The upstream sandbox, driven over real HTTP on 127.0.0.1."""

import re
import time
from datetime import date
from decimal import Decimal

import pyjson5
import pytest
import requests

from integrations.sandbox.generator import OrderStream
from orders.validation import REQUIRED_FIELDS

PHONE = re.compile(
    r"^(\+7 \(\d{3}\) \d{3}-\d{2}-\d{2}"
    r"|8 \(\d{3}\) \d{3}-\d{2}-\d{2}"
    r"|8-\d{3}-\d{3}-\d{2}-\d{2}"
    r"|\+7\d{10})$"
)
ACCEPTED = "{\n success: true\n}"
FORMAT_REJECTION = (
    "{\n success: false,\n error: {\n   code: -1,\n"
    "   message: 'Неверный формат данных'\n }\n}"
)


def sales_order(order_id="A1", price="1299.90", quantity="3") -> dict:
    return {
        "order_id": order_id,
        "product_id": "CF-0007",
        "product_name": "Кофе ☕",
        "product_price": price,
        "quantity": quantity,
        "customer_id": "7890",
        "customer_name": "Иван Иванов",
        "customer_email": "ivan@example.com",
        "customer_phone": "+7 (999) 999-99-99",
    }


def post(server, path, payload, key=None, timeout=5) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(
        server.url + path, json=payload, headers=headers, timeout=timeout
    )


def get(server, path, **params) -> requests.Response:
    return requests.get(server.url + path, params=params, timeout=5)


# --- SalesAPI ---------------------------------------------------------------


def test_sales_pages_scenario_orders_verbatim_then_answers_caught_up(start):
    orders = [sales_order(f"S{n}") for n in range(4)] + [{"order_id": 42}]
    server = start(scenario={"orders": orders})

    served, cursor = [], ""
    for expected_size in (2, 2, 1):
        page = get(server, "/sales/orders", cursor=cursor, limit=2).json()
        assert len(page["orders"]) == expected_size
        served += page["orders"]
        cursor = page["next_cursor"]
    caught_up = get(server, "/sales/orders", cursor=cursor, limit=2)

    assert served == orders
    assert caught_up.status_code == 200
    assert caught_up.json() == {"orders": [], "next_cursor": cursor}
    assert server.stats()["sales"] == {"requests": 4, "orders_served": 5}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "1001"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "ten"}, "limit must be a whole number from 1 to 1000"),
        ({"cursor": "not a cursor!"}, "cursor is not one this sandbox issued"),
    ],
)
def test_sales_refuses_bad_limit_or_cursor(start, params, message):
    response = get(start(), "/sales/orders", **params)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_generated_orders_look_like_real_sales_orders(start):
    orders = get(start(seed=1), "/sales/orders").json()["orders"]

    assert len(orders) == 5
    assert len({order["order_id"] for order in orders}) == 5
    for order in orders:
        assert set(order) == set(REQUIRED_FIELDS)
        assert all(isinstance(value, str) for value in order.values())
        price = Decimal(order["product_price"])
        assert price > 0
        assert price.as_tuple().exponent >= -2
        assert order["quantity"] in {"1", "2", "3", "4", "5"}
        assert re.search("[А-Яа-яЁё]", order["customer_name"])
        assert re.fullmatch(
            r"[a-z0-9._]+@example\.(com|org|net)", order["customer_email"]
        )
        assert PHONE.match(order["customer_phone"]), order["customer_phone"]


def test_generated_content_follows_the_seed_but_order_ids_never_repeat():
    first, second = OrderStream(seed=5), OrderStream(seed=5)

    def content(order):
        return {key: value for key, value in order.items() if key != "order_id"}

    assert [content(o) for o in first.orders(0, 20)] == [
        content(o) for o in second.orders(0, 20)
    ]
    assert first.order(0)["order_id"] != second.order(0)["order_id"]


def test_generated_orders_become_available_at_the_configured_rate():
    now = [100.0]
    stream = OrderStream(seed=1, orders_per_minute=60, clock=lambda: now[0])

    assert stream.available() == 5
    now[0] += 30
    assert stream.available() == 35


# --- BillAPI ----------------------------------------------------------------


def test_bill_answers_the_invoice_data_set_with_vat_included(start):
    response = post(start(), "/bill/invoices", sales_order("A1", "1299.90", "3"))
    invoice = response.json()

    assert response.status_code == 201
    assert invoice["invoice_id"] == "INV-A1"
    assert invoice["order_id"] == "A1"
    assert invoice["seller_id"] == "XYZ789"
    assert invoice["seller_name"] == 'ООО "Продавец"'
    assert invoice["buyer"] == {"customer_id": "7890", "customer_name": "Иван Иванов"}
    assert invoice["lines"] == [
        {
            "product_id": "CF-0007",
            "product_name": "Кофе ☕",
            "quantity": "3",
            "unit_price": "1299.90",
            "amount": "3899.70",
            "vat_rate": "20",
            "vat_amount": "649.95",
        }
    ]
    assert (invoice["total"], invoice["vat_total"]) == ("3899.70", "649.95")
    assert Decimal(invoice["vat_total"]) == (
        Decimal(invoice["total"]) * 20 / 120
    ).quantize(Decimal("0.01"))
    assert invoice["currency"] == "RUB"
    assert date.fromisoformat(invoice["issued_at"])


@pytest.mark.parametrize(
    ("price", "vat"), [("50000", "8333.33"), ("0.03", "0.01"), ("100.00", "16.67")]
)
def test_bill_rounds_vat_half_up_to_kopecks(start, price, vat):
    invoice = post(start(), "/bill/invoices", sales_order(price=price, quantity="1"))

    assert invoice.json()["vat_total"] == vat


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (sales_order(price="12,50"), 422, "product_price '12,50' is not a decimal"),
        (sales_order(quantity="0"), 422, "quantity '0' is not a positive whole"),
        ({"product_price": "10"}, 422, "order_id must be a non-empty string"),
        ([sales_order()], 400, "request body must be a JSON object"),
    ],
)
def test_bill_refuses_orders_it_cannot_invoice(start, payload, status, message):
    server = start()

    response = post(server, "/bill/invoices", payload, key="k1")

    assert response.status_code == status
    assert response.json()["error"].startswith(message)
    assert server.stats()["bill"]["effects"] == 0


def test_bill_replay_with_same_key_returns_stored_answer_and_one_effect(start):
    server = start()

    first = post(server, "/bill/invoices", sales_order("A1"), key="bill-A1")
    again = post(server, "/bill/invoices", sales_order("A1"), key="bill-A1")
    post(server, "/bill/invoices", sales_order("A1"))
    post(server, "/bill/invoices", sales_order("A1"))

    bill = server.stats()["bill"]
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert (bill["requests"], bill["effects"], bill["replays"]) == (4, 3, 1)
    assert bill["by_order"] == {"A1": {"requests": 4, "effects": 3}}
    assert bill["by_idempotency_key"] == {"bill-A1": 2}


def test_bill_refuses_an_idempotency_key_reused_for_another_order(start):
    server = start()
    post(server, "/bill/invoices", sales_order("A1"), key="same")

    response = post(server, "/bill/invoices", sales_order("B2"), key="same")

    assert response.status_code == 422
    assert response.json() == {
        "error": "Idempotency-Key 'same' was already used for order 'A1'"
    }
    assert server.stats()["bill"]["effects"] == 1


def test_bill_fault_list_answers_in_turn_then_succeeds(start):
    server = start(scenario={"faults": {"A1": {"bill": ["http_500", "http_500"]}}})

    statuses = [
        post(server, "/bill/invoices", sales_order("A1"), key="k").status_code
        for _ in range(3)
    ]

    assert statuses == [500, 500, 201]
    assert server.stats()["bill"]["by_order"]["A1"] == {"requests": 3, "effects": 1}


def test_rate_limit_fault_asks_to_retry_after_a_second(start):
    server = start(scenario={"faults": {"A1": {"bill": "http_429"}}})

    response = post(server, "/bill/invoices", sales_order("A1"))

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"error": "too many requests"}


def test_timeout_fault_performs_the_effect_so_a_retry_is_a_replay(start, capfd):
    server = start(
        timeout_seconds=0.5, scenario={"faults": {"A1": {"bill": ["timeout"]}}}
    )

    with pytest.raises(requests.ReadTimeout):
        post(server, "/bill/invoices", sales_order("A1"), key="k", timeout=(1, 0.2))
    effects_before_retry = server.stats()["bill"]["effects"]
    retry = post(server, "/bill/invoices", sales_order("A1"), key="k")
    # Let the held-back answer meet the closed connection.
    time.sleep(0.45)

    bill = server.stats()["bill"]
    assert effects_before_retry == 1
    assert retry.status_code == 201
    assert retry.json()["invoice_id"] == "INV-A1"
    assert (bill["effects"], bill["replays"]) == (1, 1)
    assert capfd.readouterr().err == ""


def test_html_and_malformed_faults_answer_200_without_an_effect(start):
    server = start(scenario={"faults": {"A1": {"bill": "html", "custom": "malformed"}}})

    page = post(server, "/bill/invoices", sales_order("A1"))
    cut = post(server, "/custom/invoices", {"invoice_id": "INV-A1", "order_id": "A1"})

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")
    assert cut.status_code == 200
    with pytest.raises(pyjson5.Json5DecoderException):
        pyjson5.decode(cut.text)
    stats = server.stats()
    assert (stats["bill"]["effects"], stats["custom"]["effects"]) == (0, 0)


# --- CustomAPI --------------------------------------------------------------


def test_custom_answers_exactly_in_the_documented_relaxed_form(start):
    server = start()
    invoice = post(server, "/bill/invoices", sales_order("A1")).json()

    accepted = post(server, "/custom/invoices", invoice)
    rejected = post(server, "/custom/invoices", {"order_id": "A1"})

    assert accepted.status_code == rejected.status_code == 200
    assert accepted.headers["Content-Type"] == "application/json; charset=utf-8"
    assert accepted.text == ACCEPTED
    assert rejected.text == FORMAT_REJECTION


def test_custom_strict_json_answers_plain_json(start):
    server = start(relaxed_json=False)

    response = post(server, "/custom/invoices", {"order_id": "A1"})

    assert response.json() == {
        "success": False,
        "error": {"code": -1, "message": "Неверный формат данных"},
    }


def test_custom_error_object_fault_rejects_every_call_with_escaped_message(start):
    message = "Поле 'total' \\ неверно"
    server = start(
        scenario={
            "faults": {"A1": {"custom": {"code": -7, "message": message}}},
        }
    )
    invoice = {"invoice_id": "INV-A1", "order_id": "A1"}

    answers = [post(server, "/custom/invoices", invoice, key="c").text for _ in "12"]

    assert answers[0] == answers[1]
    assert "message: 'Поле \\'total\\' \\\\ неверно'" in answers[0]
    assert pyjson5.decode(answers[0]) == {
        "success": False,
        "error": {"code": -7, "message": message},
    }
    custom = server.stats()["custom"]
    assert (custom["effects"], custom["rejected"], custom["replays"]) == (2, 2, 0)


def test_custom_rejects_a_share_of_orders_the_same_way_every_time(start):
    server = start(reject_share=1)
    invoice = post(server, "/bill/invoices", sales_order("A1")).json()

    verdicts = {post(server, "/custom/invoices", invoice).text for _ in "123"}

    assert len(verdicts) == 1
    assert pyjson5.decode(verdicts.pop())["error"]["code"] in {-1, -2, -3}


def test_new_scenario_lets_custom_accept_a_refiling_under_the_same_key(start):
    server = start(
        scenario={"faults": {"A1": {"custom": {"code": -2, "message": "ИНН"}}}}
    )
    invoice = {"invoice_id": "INV-A1", "order_id": "A1"}
    rejected = post(server, "/custom/invoices", invoice, key="c-A1")

    loaded = requests.post(server.url + "/_sandbox/scenario", json={}, timeout=5)
    accepted = post(server, "/custom/invoices", invoice, key="c-A1")
    replayed = post(server, "/custom/invoices", invoice, key="c-A1")

    assert pyjson5.decode(rejected.text)["success"] is False
    assert loaded.json() == {"ok": True}
    assert accepted.text == replayed.text == ACCEPTED
    assert server.stats()["custom"]["by_order"]["A1"] == {
        "requests": 3,
        "effects": 2,
        "accepted": 1,
        "rejected": 1,
    }
