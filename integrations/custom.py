"""CustomAPI: the operator that accepts or rejects an invoice data set.

CustomAPI's documentation writes its answers with unquoted keys and single
quotes (``{success: false, error: {code: -1, message: '…'}}``), which is not
JSON. Answers are read as strict JSON first and, failing that, with a JSON5
parser, which reads that form without evaluating anything.
"""

import json
from dataclasses import dataclass

import json5

from integrations.http import UpstreamClient, UpstreamInvalidResponse


@dataclass
class CustomVerdict:
    """CustomAPI's answer: accepted, or rejected with its code and message."""

    accepted: bool
    code: str = ""
    message: str = ""


def parse_custom_answer(text: str):
    """Return the answer's value, read as JSON or CustomAPI's relaxed form."""
    try:
        return json.loads(text)
    except ValueError:
        return json5.loads(text)


class CustomClient(UpstreamClient):
    name = "custom"
    label = "CustomAPI"

    def file_invoice(
        self, *, invoice: dict, order_id: str, idempotency_key: str
    ) -> CustomVerdict:
        """File the invoice data set and return CustomAPI's verdict on it."""
        response = self.request(
            "POST",
            "/invoices",
            json=invoice,
            idempotency_key=idempotency_key,
            order_id=order_id,
        )

        def invalid(problem: str) -> UpstreamInvalidResponse:
            return UpstreamInvalidResponse(
                f"CustomAPI answer {problem}",
                upstream=self.label,
                url=response.url,
                status=response.status,
                body=response.text,
            )

        text = response.text.strip()
        if response.content_type == "text/html" or text[:1] == "<":
            raise invalid("is an HTML page, not JSON")
        try:
            answer = parse_custom_answer(text)
        except ValueError as err:
            raise invalid(f"cannot be parsed ({err})") from err
        if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
            raise invalid("has no true/false 'success'")
        if answer["success"]:
            return CustomVerdict(accepted=True)

        error = answer.get("error")
        if not isinstance(error, dict):
            error = {}
        code = error.get("code")
        message = error.get("message")
        return CustomVerdict(
            accepted=False,
            code="" if code is None else str(code)[:32],
            message=str(message).strip()
            if message
            else "CustomAPI rejected the invoice without a message",
        )
