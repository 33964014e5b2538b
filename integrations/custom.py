"""CustomAPI: the operator that accepts or rejects an invoice data set.

CustomAPI's documentation writes its answers with unquoted keys and single
quotes (``{success: false, error: {code: -1, message: '…'}}``), which is not
JSON. Answers are read as strict JSON first and, failing that, with a JSON5
parser, which reads that form without evaluating anything.
"""

import json
from dataclasses import dataclass

import pyjson5

from integrations.http import UpstreamClient
from phpservice import payloads


@dataclass
class CustomVerdict:
    """CustomAPI's answer: accepted, or rejected with its code and message."""

    accepted: bool
    code: str = ""
    message: str = ""


MAX_MESSAGE_CHARS = 2000


def parse_custom_answer(text: str):
    """Return the answer's value, read as JSON or CustomAPI's relaxed form."""
    try:
        return payloads.loads(text)
    except ValueError:
        pass
    try:
        value = pyjson5.decode(text, maxdepth=payloads.MAX_DEPTH)
    except pyjson5.Json5NestingTooDeep as err:
        raise payloads.UnstorableValue("nested too deeply") from err
    except pyjson5.Json5DecoderException as err:
        raise ValueError(err.message) from err
    problem = payloads.storable_problem(value)
    if problem:
        raise payloads.UnstorableValue(problem)
    return value


def _as_text(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return payloads.clean_text(value.strip(), limit=MAX_MESSAGE_CHARS)


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

        text = response.text.strip()
        if response.content_type == "text/html" or text[:1] == "<":
            raise self.invalid_answer(
                response, "is an HTML page, not JSON", garbled=True
            )
        try:
            answer = parse_custom_answer(text)
        except ValueError as err:
            raise self.invalid_answer(
                response,
                f"cannot be parsed ({err})",
                garbled=not isinstance(err, payloads.UnstorableValue),
            ) from err
        if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
            raise self.invalid_answer(response, "has no true/false 'success'")
        if answer["success"]:
            return CustomVerdict(accepted=True)

        error = answer.get("error")
        if not isinstance(error, dict):
            error = {}
        message = _as_text(error.get("message"))
        return CustomVerdict(
            accepted=False,
            code=_as_text(error.get("code"))[:32],
            message=message or "CustomAPI rejected the invoice without a message",
        )
