"""BillAPI: turns an order into the data set of its invoice."""

from integrations.http import UpstreamClient
from orders.models import Order
from phpservice import payloads


def bill_request_body(order: Order) -> dict:
    """Return what BillAPI is sent for the order: the SalesAPI fields."""
    return {
        "order_id": order.order_id,
        "product_id": order.product_id,
        "product_name": order.product_name,
        "product_price": str(order.product_price),
        "quantity": str(order.quantity),
        "customer_id": order.customer_id,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "customer_phone": order.customer_phone,
    }


class BillClient(UpstreamClient):
    name = "bill"
    label = "BillAPI"

    def create_invoice(self, *, order: Order, idempotency_key: str) -> dict:
        """Return the invoice data set BillAPI made for the order."""
        response = self.request(
            "POST",
            "/invoices",
            json=bill_request_body(order),
            idempotency_key=idempotency_key,
            order_id=order.order_id,
        )

        try:
            invoice = payloads.loads(response.text)
        except ValueError as err:
            raise self.invalid_answer(
                response,
                f"is not usable JSON ({err})",
                garbled=not isinstance(err, payloads.UnstorableValue),
            ) from err
        if not isinstance(invoice, dict):
            raise self.invalid_answer(response, "is not a JSON object")
        invoice_id = invoice.get("invoice_id")
        if not isinstance(invoice_id, str) or not invoice_id.strip():
            raise self.invalid_answer(response, "has no invoice_id")
        if not invoice_id.isprintable():
            raise self.invalid_answer(
                response, "has an invoice_id with control characters"
            )
        if len(invoice_id) > Order._meta.get_field("invoice_id").max_length:
            raise self.invalid_answer(
                response, "has an invoice_id longer than 128 characters"
            )
        if str(invoice.get("order_id", "")) != order.order_id:
            raise self.invalid_answer(
                response,
                f"is for order {invoice.get('order_id')!r}, not {order.order_id!r}",
            )
        return invoice
