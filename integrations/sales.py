"""SalesAPI: the source of orders.

Default contract: ``GET {SALES_API_URL}/orders?cursor=<opaque>&limit=<n>``
answers ``{"orders": [...], "next_cursor": "..."}``. A bare list of orders,
or one order object, is accepted too; then there is no cursor to keep.
"""

from dataclasses import dataclass

from integrations.http import UpstreamClient
from phpservice import payloads

# Longer cursors are refused as an upstream fault rather than stored.
MAX_CURSOR_CHARS = 2048


@dataclass
class SalesPage:
    """One page of SalesAPI records and the cursor that follows it."""

    records: list
    next_cursor: str | None


def _usable_cursor(cursor) -> bool:
    return (
        isinstance(cursor, str)
        and len(cursor) <= MAX_CURSOR_CHARS
        and cursor.isprintable()
    )


class SalesClient(UpstreamClient):
    name = "sales"
    label = "SalesAPI"

    def fetch_page(self, *, cursor: str, limit: int) -> SalesPage:
        """Return the records after ``cursor``, at most ``limit`` of them."""
        params = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = self.request("GET", "/orders", params=params)
        try:
            data = payloads.loads(response.text, whole=False)
        except ValueError as err:
            raise self.invalid_answer(response, f"is not usable JSON ({err})") from err
        return self._page_from(data, response)

    def _page_from(self, data, response) -> SalesPage:
        if isinstance(data, list):
            return SalesPage(records=data, next_cursor=None)
        if isinstance(data, dict) and "orders" in data:
            records, next_cursor = data["orders"], data.get("next_cursor")
            if isinstance(next_cursor, int) and not isinstance(next_cursor, bool):
                next_cursor = str(next_cursor)
            if isinstance(records, list) and (
                next_cursor is None or _usable_cursor(next_cursor)
            ):
                return SalesPage(records=records, next_cursor=next_cursor)
        elif isinstance(data, dict) and "order_id" in data:
            return SalesPage(records=[data], next_cursor=None)
        raise self.invalid_answer(
            response,
            "is neither a page of orders (with a printable next_cursor of at most "
            f"{MAX_CURSOR_CHARS} characters), a list nor one order",
        )
