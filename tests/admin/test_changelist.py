"""The orders list: its columns, filters, search, and its cost per page."""

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.admin import OrderAdmin
from orders.models import Order, OrderStatus
from tests.admin.conftest import failed_order
from tests.factories import make_order

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/orders/order/"


def listed(response) -> list[str]:
    """Return the order ids on a list page, in their order."""
    return [order.order_id for order in response.context["cl"].result_list]


def test_list_shows_the_columns_staff_need(support_client):
    order = failed_order(invoiced=True, message="Неверный формат данных")

    response = support_client.get(LIST_URL)

    assert response.status_code == 200
    page = response.content.decode()
    for header in ("Order id", "Customer", "Product", "Amount, ₽", "Status"):
        assert header in page
    assert order.order_id in page
    assert "Иван Иванов" in page
    assert "Ноутбук" in page
    assert "50,000.00" in page
    assert '<span class="order-status order-status-error">ошибка</span>' in page
    assert "Неверный формат данных" in page


def test_long_messages_are_cut_in_the_list_and_whole_in_the_tooltip(support_client):
    message = "CustomAPI answer is an HTML page, not JSON: " + "x" * 200
    failed_order(invoiced=True, message=message)

    page = support_client.get(LIST_URL).content.decode()

    assert f'title="{message}"' in page
    assert message[:80] in page


def test_status_filter_lists_only_that_status(support_client):
    failed = failed_order(invoiced=False)
    make_order(status=OrderStatus.PROCESSING)

    response = support_client.get(LIST_URL, {"status__exact": "error"})

    assert listed(response) == [failed.order_id]


def test_pipeline_filter_finds_dead_letters_and_retries(support_client):
    dead = failed_order(invoiced=False, message="gave up", attempts=4)
    retrying = make_order(attempts=2)
    failed_order(invoiced=True)

    dead_letters = support_client.get(LIST_URL, {"pipeline": "dead_letter"})
    retries = support_client.get(LIST_URL, {"pipeline": "retrying"})

    assert listed(dead_letters) == [dead.order_id]
    assert listed(retries) == [retrying.order_id]


def test_date_filter_keeps_todays_orders(support_client):
    order = make_order()

    response = support_client.get(
        LIST_URL,
        {
            "created_at__gte": "2000-01-01 00:00:00+03:00",
            "created_at__lt": "2999-01-01 00:00:00+03:00",
        },
    )

    assert listed(response) == [order.order_id]


@pytest.mark.parametrize(
    ("field", "term"),
    [
        ("order_id", None),
        ("customer_id", "7001"),
        ("customer_name", "Пётр"),
        ("customer_email", "petr.s@"),
        ("customer_phone", "(912) 555"),
        ("invoice_id", "INV-XYZ-1"),
    ],
)
def test_search_finds_the_order_by(support_client, field, term):
    wanted = make_order(
        customer_id="7001",
        customer_name="Пётр Сидоров",
        customer_email="petr.s@example.org",
        customer_phone="+7 (912) 555-01-02",
        invoice_id="INV-XYZ-1",
    )
    make_order()
    term = term or wanted.order_id

    response = support_client.get(LIST_URL, {"q": term})

    assert listed(response) == [wanted.order_id], field


def test_identifiers_match_exactly_not_in_part(support_client):
    make_order(customer_id="70011")

    response = support_client.get(LIST_URL, {"q": "7001"})

    assert listed(response) == []


def test_an_exact_id_is_preferred_to_a_part_of_a_phone(support_client):
    customer = make_order(customer_id="7001")
    make_order(customer_phone="+7 (912) 555-70-01", customer_id="42")

    by_id = support_client.get(LIST_URL, {"q": "7001"})
    by_phone = support_client.get(LIST_URL, {"q": "555-70"})

    assert listed(by_id) == [customer.order_id]
    assert len(listed(by_phone)) == 1


def page_queries(client, count: int, per_page: int) -> int:
    Order.objects.all().delete()
    for number in range(count):
        if number % 3 == 0:
            failed_order(invoiced=bool(number % 2))
        else:
            make_order()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST_URL)
    assert response.status_code == 200
    assert len(listed(response)) == min(count, per_page)
    return len(queries)


def test_a_page_costs_the_same_queries_whatever_its_size(support_client, monkeypatch):
    monkeypatch.setattr(OrderAdmin, "list_per_page", 100)

    small = page_queries(support_client, 2, 100)
    full = page_queries(support_client, 100, 100)
    overflowing = page_queries(support_client, 130, 100)

    assert small == full == overflowing
    assert full <= 8
