"""What the sandbox's BillAPI and CustomAPI answer: invoices and verdicts.

Pure functions, no state: the invoice data set BillAPI makes of an order,
CustomAPI's verdict on an invoice data set, and the text of its answer.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from integrations.sandbox.scenario import CustomError

SELLER_ID = "XYZ789"
SELLER_NAME = 'ООО "Продавец"'
CURRENCY = "RUB"
VAT_RATE = Decimal(20)
KOPECK = Decimal("0.01")
# Invoices are dated in Moscow time, as the operator dates them.
MOSCOW = timezone(timedelta(hours=3))

FORMAT_ERROR = CustomError(code=-1, message="Неверный формат данных")
SELLER_UNKNOWN = CustomError(code=-2, message="ИНН продавца не найден в реестре")
VAT_MISMATCH = CustomError(code=-3, message="Сумма НДС не совпадает с итогом")
REALISTIC_REJECTIONS = (FORMAT_ERROR, SELLER_UNKNOWN, VAT_MISMATCH)

# What a proxy in front of an upstream answers when the upstream is down.
HTML_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n"
    "<body>\n<center><h1>502 Bad Gateway</h1></center>\n"
    "<hr><center>nginx</center>\n</body>\n</html>\n"
)


class InvoiceError(ValueError):
    """An order BillAPI cannot make an invoice of; the message says why."""


def money(amount: Decimal) -> str:
    """Return ``amount`` rounded half-up to kopecks, as a string."""
    return str(amount.quantize(KOPECK, rounding=ROUND_HALF_UP))


def vat_included(amount: Decimal) -> Decimal:
    """Return the VAT included in ``amount``, rounded half-up to kopecks."""
    vat = amount * VAT_RATE / (100 + VAT_RATE)
    return vat.quantize(KOPECK, rounding=ROUND_HALF_UP)


def parse_amount(value, *, name: str) -> Decimal:
    """Return the money amount ``value`` (a string or number), or raise."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvoiceError(f"{name} must be a decimal number string")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as err:
        raise InvoiceError(f"{name} {value!r} is not a decimal number") from err
    if not amount.is_finite() or amount < 0:
        raise InvoiceError(f"{name} {value!r} is not a non-negative amount")
    return amount


def parse_quantity(value) -> int:
    """Return the quantity ``value`` as a positive whole number, or raise."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvoiceError("quantity must be a whole number string")
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise InvoiceError(f"quantity {value!r} is not a positive whole number")
    return int(text)


def invoice_build(order: dict) -> dict:
    """Return the invoice data set for ``order``, or raise ``InvoiceError``."""
    order_id = order["order_id"]
    unit_price = parse_amount(order.get("product_price"), name="product_price")
    quantity = parse_quantity(order.get("quantity"))

    amount = (unit_price * quantity).quantize(KOPECK, rounding=ROUND_HALF_UP)
    vat_amount = vat_included(amount)
    return {
        "invoice_id": f"INV-{order_id}",
        "order_id": order_id,
        "seller_id": SELLER_ID,
        "seller_name": SELLER_NAME,
        "buyer": {
            "customer_id": order.get("customer_id", ""),
            "customer_name": order.get("customer_name", ""),
        },
        "lines": [
            {
                "product_id": order.get("product_id", ""),
                "product_name": order.get("product_name", ""),
                "quantity": str(quantity),
                "unit_price": money(unit_price),
                "amount": money(amount),
                "vat_rate": str(VAT_RATE),
                "vat_amount": money(vat_amount),
            }
        ],
        "total": money(amount),
        "vat_total": money(vat_amount),
        "currency": CURRENCY,
        "issued_at": datetime.now(UTC).astimezone(MOSCOW).date().isoformat(),
    }


def order_share(order_id: str) -> tuple[float, int]:
    """Return a stable point in [0, 1) and a stable index for the order."""
    digest = hashlib.sha256(order_id.encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    return point, digest[8]


def custom_verdict(invoice: dict, *, reject_share: float) -> CustomError | None:
    """Return CustomAPI's error for the invoice data set, or None to accept it."""
    for key in ("invoice_id", "order_id"):
        if not isinstance(invoice.get(key), str) or not invoice[key]:
            return FORMAT_ERROR

    if "total" in invoice and "vat_total" in invoice:
        try:
            total = parse_amount(invoice["total"], name="total")
            vat_total = parse_amount(invoice["vat_total"], name="vat_total")
        except InvoiceError:
            return FORMAT_ERROR
        # Lines are rounded one by one, so allow a kopeck of slack per line.
        lines = invoice.get("lines")
        slack = KOPECK * max(1, len(lines) if isinstance(lines, list) else 1)
        if abs(vat_total - vat_included(total)) > slack:
            return VAT_MISMATCH

    point, index = order_share(invoice["order_id"])
    if point < reject_share:
        return REALISTIC_REJECTIONS[index % len(REALISTIC_REJECTIONS)]
    return None


def relaxed_string(text: str) -> str:
    """Return ``text`` as a single-quoted string literal of the relaxed form."""
    escaped = []
    for char in text:
        if char in "\\'":
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\r":
            escaped.append("\\r")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or char in "\u2028\u2029":
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return "'" + "".join(escaped) + "'"


def custom_answer_text(error: CustomError | None, *, relaxed: bool) -> str:
    """Return CustomAPI's answer: the documented relaxed form, or strict JSON."""
    if not relaxed:
        if error is None:
            return json.dumps({"success": True})
        answer = {
            "success": False,
            "error": {"code": error.code, "message": error.message},
        }
        return json.dumps(answer, ensure_ascii=False)
    if error is None:
        return "{\n success: true\n}"
    return (
        "{\n success: false,\n error: {\n"
        f"   code: {error.code},\n"
        f"   message: {relaxed_string(error.message)}\n"
        " }\n}"
    )


def truncated(text: str) -> str:
    """Return the first half of ``text``: an answer cut off mid-way."""
    return text[: max(1, len(text) // 2)]
