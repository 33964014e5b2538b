from decimal import Decimal

import pytest

from orders.validation import validate_sales_record
from tests.factories import SPEC_SAMPLE as SAMPLE


def test_sample_order_is_valid_with_decimal_price():
    result = validate_sales_record(SAMPLE)

    assert result.is_valid, result.errors
    assert result.order_id == "123456"
    assert result.fields["product_price"] == Decimal("50000.00")
    assert isinstance(result.fields["product_price"], Decimal)
    assert result.fields["quantity"] == 1


@pytest.mark.parametrize(
    ("price", "expected"),
    [("1299.9", "1299.90"), ("1299.90", "1299.90"), (" 15 ", "15.00"), (7, "7.00")],
)
def test_accepted_prices(price, expected):
    result = validate_sales_record({**SAMPLE, "product_price": price})

    assert result.fields["product_price"] == Decimal(expected)


@pytest.mark.parametrize(
    "price",
    ["50 000,00", "50000,00", "-1", "abc", "0", "1e3", "1.234", 50000.5, True, ""],
)
def test_rejected_prices_name_the_field(price):
    result = validate_sales_record({**SAMPLE, "product_price": price})

    assert not result.is_valid
    assert "product_price" in result.error_message
    assert "product_price" not in result.fields


@pytest.mark.parametrize("quantity", ["0", "-2", "1.5", "два", "10000000"])
def test_rejected_quantities_name_the_field(quantity):
    result = validate_sales_record({**SAMPLE, "quantity": quantity})

    assert [e.split(":")[0] for e in result.errors] == ["quantity"]


def test_malformed_email_names_the_field():
    result = validate_sales_record({**SAMPLE, "customer_email": "ivan@@example"})

    assert result.errors == [
        "customer_email: 'ivan@@example' is not a valid email address"
    ]


def test_every_missing_field_is_listed():
    record = dict(SAMPLE)
    del record["customer_phone"]
    record["product_name"] = "   "

    result = validate_sales_record(record)

    assert result.errors == ["product_name: missing", "customer_phone: missing"]
    assert result.order_id == "123456"


@pytest.mark.parametrize("order_id", [None, "", "a b", "x" * 65, ["1"]])
def test_unusable_order_id_leaves_no_id(order_id):
    result = validate_sales_record({**SAMPLE, "order_id": order_id})

    assert result.order_id is None
    assert result.errors[0].startswith("order_id:")


def test_non_object_record_is_invalid():
    result = validate_sales_record(["123456"])

    assert result.order_id is None
    assert "expected an order object" in result.error_message


@pytest.mark.parametrize("digits", ["١٢٣", "１２３", "𝟏𝟐𝟑"])
def test_digits_other_than_ascii_are_refused(digits):
    result = validate_sales_record(
        {**SAMPLE, "product_price": digits, "quantity": digits}
    )

    assert [e.split(":")[0] for e in result.errors] == ["product_price", "quantity"]
