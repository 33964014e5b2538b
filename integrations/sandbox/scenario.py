"""Scenarios: the scripted orders and faults a sandbox plays.

A scenario is a JSON object::

    {
      "orders": [{...}, ...],
      "faults": {"<order_id>": {"bill": F, "custom": F}},
      "reject_share": 0.0,
      "email_faults": {"<recipient address>": F},
      "sms_faults": {"<E.164 number>": F}
    }

Every key is optional. ``orders`` are served by SalesAPI verbatim, even when
they are not valid orders; without it the sandbox serves generated orders.
A fault ``F`` is one fault name, answered to every call for that order, or a
list of them, answered one per call after which calls succeed. For CustomAPI
``F`` may also be an error object ``{"code": -1, "message": "…"}``, which
rejects the invoice with that error. ``reject_share`` is the share of orders
without a CustomAPI fault that CustomAPI rejects: by default none of the
scripted orders, and the server's ``reject_share`` of generated ones.
``email_faults`` and ``sms_faults`` are what Mailgun and Twilio answer to a
message for that recipient, with the same fault names.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

# "ok" answers normally; it lets a list of faults put a success between faults.
FAULT_NAMES = ("ok", "http_500", "http_429", "http_400", "timeout", "malformed", "html")
UPSTREAMS = ("bill", "custom")
SCENARIO_KEYS = ("orders", "faults", "reject_share", "email_faults", "sms_faults")
# Scenario key of each messaging channel's faults, keyed by recipient.
MESSAGE_FAULT_KEYS = {"email_faults": "email", "sms_faults": "sms"}
E164_NUMBER = re.compile(r"\+[1-9]\d{7,14}")


class ScenarioError(ValueError):
    """A scenario that cannot be played; the message names the offending key."""


@dataclass(frozen=True)
class CustomError:
    """A CustomAPI rejection a scenario asks for."""

    code: int
    message: str


# One fault: a fault name, or (CustomAPI only) the error to reject with.
Fault = str | CustomError


@dataclass(frozen=True)
class FaultPlan:
    """What one upstream answers to the calls for one order."""

    faults: tuple[Fault, ...]
    repeat: bool

    def fault_for_call(self, call_index: int) -> Fault:
        """Return the fault for the order's call number ``call_index`` (from 0)."""
        if self.repeat:
            return self.faults[0]
        if call_index < len(self.faults):
            return self.faults[call_index]
        return "ok"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario."""

    orders: tuple | None = None
    # Keyed by (upstream, order_id), and by (channel, recipient) for messages.
    faults: dict[tuple[str, str], FaultPlan] = field(default_factory=dict)
    reject_share: float | None = None

    def plan_for(self, *, upstream: str, order_id: str) -> FaultPlan | None:
        """Return the fault plan of ``upstream`` for the order, if it has one."""
        return self.faults.get((upstream, order_id))


def parse_scenario(data) -> Scenario:
    """Return the scenario ``data`` describes, or raise ``ScenarioError``."""
    if isinstance(data, Scenario):
        return data
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario must be a JSON object, not {type_name(data)}")
    unknown = sorted(set(data) - set(SCENARIO_KEYS))
    if unknown:
        raise ScenarioError(
            f"scenario has unknown key {unknown[0]!r}; "
            f"known keys are {', '.join(SCENARIO_KEYS)}"
        )

    orders = data.get("orders")
    if orders is not None and not isinstance(orders, list):
        raise ScenarioError(f"'orders' must be a list, not {type_name(orders)}")

    faults = parse_faults(data.get("faults", {}))
    for key in MESSAGE_FAULT_KEYS:
        faults.update(parse_message_faults(data.get(key, {}), key=key))
    return Scenario(
        orders=None if orders is None else tuple(orders),
        faults=faults,
        reject_share=parse_reject_share(data.get("reject_share")),
    )


def parse_faults(faults) -> dict[tuple[str, str], FaultPlan]:
    """Return the fault plans keyed by (upstream, order_id)."""
    if not isinstance(faults, dict):
        raise ScenarioError(f"'faults' must be an object, not {type_name(faults)}")
    plans = {}
    for order_id, by_upstream in faults.items():
        if not isinstance(order_id, str) or not order_id:
            raise ScenarioError(
                f"'faults' key {order_id!r} must be a non-empty order_id string"
            )
        where = f"faults[{order_id!r}]"
        if not isinstance(by_upstream, dict):
            raise ScenarioError(
                f"{where} must be an object with 'bill' and/or 'custom', "
                f"not {type_name(by_upstream)}"
            )
        for upstream, spec in by_upstream.items():
            if upstream not in UPSTREAMS:
                raise ScenarioError(
                    f"{where} has unknown upstream {upstream!r}; "
                    f"expected one of {', '.join(UPSTREAMS)}"
                )
            plans[(upstream, order_id)] = parse_plan(
                spec, upstream=upstream, where=f"{where}[{upstream!r}]"
            )
    return plans


def parse_message_faults(faults, *, key: str) -> dict[tuple[str, str], FaultPlan]:
    """Return the plans of ``email_faults`` or ``sms_faults`` by (channel, recipient).

    Email addresses are kept in lower case: mail systems match them so.
    """
    if not isinstance(faults, dict):
        raise ScenarioError(f"{key!r} must be an object, not {type_name(faults)}")
    channel = MESSAGE_FAULT_KEYS[key]
    plans = {}
    for recipient, spec in faults.items():
        if channel == "email" and not is_email_address(recipient):
            raise ScenarioError(
                f"{key!r} key {recipient!r} must be an email address like "
                "ivan@example.com"
            )
        if channel == "sms" and not (
            isinstance(recipient, str) and E164_NUMBER.fullmatch(recipient)
        ):
            raise ScenarioError(
                f"{key!r} key {recipient!r} must be an E.164 phone number "
                "like +79999999999"
            )
        recipient_key = recipient.lower() if channel == "email" else recipient
        plans[(channel, recipient_key)] = parse_plan(
            spec, upstream=channel, where=f"{key}[{recipient!r}]"
        )
    return plans


def is_email_address(value) -> bool:
    """Return whether ``value`` is a bare address: ``local@domain``, no spaces."""
    if not isinstance(value, str) or any(char.isspace() for char in value):
        return False
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain and "<" not in value)


def parse_plan(spec, *, upstream: str, where: str) -> FaultPlan:
    """Return the plan for one fault or list of faults."""
    if isinstance(spec, list):
        if not spec:
            raise ScenarioError(f"{where} is an empty list; give at least one fault")
        faults = tuple(
            parse_fault(item, upstream=upstream, where=f"{where}[{index}]")
            for index, item in enumerate(spec)
        )
        return FaultPlan(faults=faults, repeat=False)
    return FaultPlan(
        faults=(parse_fault(spec, upstream=upstream, where=where),), repeat=True
    )


def parse_fault(spec, *, upstream: str, where: str) -> Fault:
    """Return one fault: a known fault name or, for CustomAPI, an error."""
    if isinstance(spec, str):
        if spec not in FAULT_NAMES:
            raise ScenarioError(
                f"{where}: unknown fault {spec!r}; "
                f"expected one of {', '.join(FAULT_NAMES)}"
            )
        return spec
    if isinstance(spec, dict) and upstream == "custom":
        return parse_custom_error(spec, where=where)
    expected = "a fault name or a list of them"
    if upstream == "custom":
        expected = "a fault name, an error object, or a list of them"
    raise ScenarioError(f"{where} must be {expected}, not {type_name(spec)}")


def parse_custom_error(spec: dict, *, where: str) -> CustomError:
    """Return the CustomAPI error ``{"code": int, "message": str}``."""
    unknown = sorted(set(spec) - {"code", "message"})
    if unknown:
        raise ScenarioError(
            f"{where} has unknown key {unknown[0]!r}; "
            "an error object has only 'code' and 'message'"
        )
    code = spec.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise ScenarioError(
            f"{where}['code'] must be an integer, not {type_name(code)}"
        )
    message = spec.get("message")
    if not isinstance(message, str) or not message:
        raise ScenarioError(f"{where}['message'] must be a non-empty string")
    return CustomError(code=code, message=message)


def parse_reject_share(value) -> float | None:
    """Return the scenario's rejection share, a number from 0 to 1, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(
            f"'reject_share' must be a number from 0 to 1, not {type_name(value)}"
        )
    if not 0 <= value <= 1:
        raise ScenarioError(f"'reject_share' must be from 0 to 1, not {value}")
    return float(value)


def load_scenario_file(path) -> Scenario:
    """Return the scenario in the JSON file at ``path``, or raise ``ScenarioError``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(
            f"{path}: cannot read the scenario ({err.strerror})"
        ) from err
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: the scenario is not UTF-8 ({err})") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScenarioError(
            f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from err
    try:
        return parse_scenario(data)
    except ScenarioError as err:
        raise ScenarioError(f"{path}: {err}") from err


def type_name(value) -> str:
    """Return the JSON name of ``value``'s type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
