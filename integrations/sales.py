"""SalesAPI: the source of orders.

Default contract: ``GET {SALES_API_URL}/orders?cursor=<opaque>&limit=<n>``
answers ``{"orders": [...], "next_cursor": "..."}``. A bare list of orders,
or one order object, is accepted too; then there is no cursor to keep.
"""

import json
from dataclasses import dataclass

from integrations.http import UpstreamClient, UpstreamInvalidResponse


@dataclass
class SalesPage:
    """One page of SalesAPI records and the cursor that follows it."""

    records: list
    next_cursor: str | None


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
            data = json.loads(response.text)
        except ValueError as err:
            raise UpstreamInvalidResponse(
                "SalesAPI answer is not JSON",
                upstream=self.label,
                url=response.url,
                status=response.status,
                body=response.text,
            ) from err
        return self._page_from(data, response)

    def _page_from(self, data, response) -> SalesPage:
        if isinstance(data, list):
            return SalesPage(records=data, next_cursor=None)
        if isinstance(data, dict) and "orders" in data:
            records, next_cursor = data["orders"], data.get("next_cursor")
            if isinstance(records, list) and (
                next_cursor is None or isinstance(next_cursor, (str, int))
            ):
                return SalesPage(
                    records=records,
                    next_cursor=None if next_cursor is None else str(next_cursor),
                )
        elif isinstance(data, dict) and "order_id" in data:
            return SalesPage(records=[data], next_cursor=None)
        raise UpstreamInvalidResponse(
            "SalesAPI answer is neither a page of orders, a list nor one order",
            upstream=self.label,
            url=response.url,
            status=response.status,
            body=response.text,
        )
