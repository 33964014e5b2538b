"""Turn a SalesAPI order record into validated order fields.

SalesAPI sends every value as a string. The rules, also in docs/orders.md:

- every one of the nine fields must be present and non-blank;
- ``order_id``: at most 64 characters of ``A-Z a-z 0-9 . _ : -``;
- ``product_price``: a positive amount in roubles, digits with an optional
  ``.`` and one or two digits of kopecks ("50000", "1299.9", "1299.90"). No
  sign, no exponent, no thousands separators and no decimal comma: "50 000,00"
  could mean fifty thousand or be a typo, and a wrong invoice costs more than
  an order held for staff to check. A JSON integer is accepted as well;
  a JSON fraction is not, since it may already have lost kopecks to binary
  floating point on the sender's side;
- ``quantity``: a whole number from 1 to 1,000,000 (string or JSON integer);
- ``customer_email``: a valid address;
- text fields fit their columns; surrounding whitespace is trimmed.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from phpservice.payloads import is_valid_text

ORDER_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# ASCII digits only: "١٢٣" or "１２３" are digits to Unicode, not to an invoice.
PRICE_RE = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")
QUANTITY_RE = re.compile(r"^[0-9]{1,7}$")
MAX_QUANTITY = 1_000_000

# Field name → longest accepted value; these match the Order columns.
TEXT_FIELDS = {
    "product_id": 64,
    "product_name": 255,
    "customer_id": 64,
    "customer_name": 255,
    "customer_email": 254,
    "customer_phone": 64,
}
REQUIRED_FIELDS = (
    "order_id",
    "product_id",
    "product_name",
    "product_price",
    "quantity",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_phone",
)


@dataclass
class SalesRecord:
    """The outcome of validating one record: usable fields and what was wrong."""

    order_id: str | None
    fields: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def error_message(self) -> str:
        return "Invalid SalesAPI order: " + "; ".join(self.errors)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def parse_order_id(value) -> str | None:
    """Return a usable order id, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and ORDER_ID_RE.match(value.strip()):
        return value.strip()
    return None


def parse_price(value) -> Decimal:
    """Return the price as a Decimal with two places, or raise ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f'{_shown(value)} must be a string such as "1299.90"')
    text = value.strip()
    if not PRICE_RE.match(text):
        raise ValueError(
            f"{_shown(value)} is not a price: use digits with an optional '.' "
            'and up to two decimals, e.g. "50000" or "1299.90"'
        )
    try:
        price = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation as err:  # unreachable after the pattern; kept narrow
        raise ValueError(f"{_shown(value)} is not a price") from err
    if price <= 0:
        raise ValueError(f"{_shown(value)} must be greater than zero")
    return price


def parse_quantity(value) -> int:
    """Return the quantity as an int from 1 to MAX_QUANTITY, or raise ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not QUANTITY_RE.match(value.strip()):
        raise ValueError(f"{_shown(value)} is not a whole number")
    quantity = int(value.strip())
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValueError(f"{_shown(value)} must be between 1 and {MAX_QUANTITY:,}")
    return quantity


def validate_sales_record(record) -> SalesRecord:
    """Validate one SalesAPI record, collecting every problem it has."""
    if not isinstance(record, dict):
        return SalesRecord(
            order_id=None, errors=[f"expected an order object, got {_shown(record)}"]
        )

    result = SalesRecord(order_id=parse_order_id(record.get("order_id")))
    if "order_id" not in record or record["order_id"] in ("", None):
        result.errors.append("order_id: missing")
    elif result.order_id is None:
        result.errors.append(
            f"order_id: {_shown(record['order_id'])} must be 1-64 characters "
            "of letters, digits, '.', '_', ':' or '-'"
        )

    for name in REQUIRED_FIELDS[1:]:
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            result.errors.append(f"{name}: missing")
            continue
        try:
            result.fields[name] = _parse_field(name, value)
        except ValueError as err:
            result.errors.append(f"{name}: {err}")
    return result


def _parse_field(name: str, value):
    if name == "product_price":
        return parse_price(value)
    if name == "quantity":
        return parse_quantity(value)

    if not isinstance(value, str):
        raise ValueError(f"{_shown(value)} must be a string")
    if not is_valid_text(value) or "\x00" in value:
        raise ValueError("contains characters that are not valid text")
    text = value.strip()
    if len(text) > TEXT_FIELDS[name]:
        raise ValueError(f"longer than {TEXT_FIELDS[name]} characters")
    if name == "customer_email":
        try:
            validate_email(text)
        except ValidationError as err:
            raise ValueError(f"{_shown(value)} is not a valid email address") from err
    return text
