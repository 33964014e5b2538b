"""Read and check JSON from outside before it is trusted or stored.

Upstreams send what they like: numbers with thousands of digits, ``NaN``,
nesting deep enough to exhaust the parser's stack, text that is not valid
Unicode. Each becomes a ``ValueError`` with a plain reason here, instead of an
exception somewhere deep in a save.
"""

import json
import math

# MariaDB refuses JSON nested deeper than 32; nothing we receive needs 16.
MAX_DEPTH = 16
MAX_INT_DIGITS = 40


def _bounded_int(text: str):
    # Python refuses to convert integers of over 4300 digits; keep such a
    # number as its text so that validation can name the field instead.
    return int(text) if len(text) <= MAX_INT_DIGITS else text


class UnstorableValue(ValueError):
    """Well-formed JSON whose value cannot be stored faithfully."""


def _refuse_constant(name: str):
    raise UnstorableValue(f"{name} is not a JSON number")


def loads(text: str, *, whole: bool = True):
    """Parse JSON, raising ValueError for anything unusable.

    ``UnstorableValue``, a ValueError, tells well-formed JSON that cannot be
    stored from a text that is not JSON at all.

    With ``whole`` the value must be storable as it is. Without, only a text
    that cannot be parsed at all is refused: a list of records is then
    checked record by record, so that one bad record spoils only itself.
    """
    try:
        value = json.loads(
            text,
            parse_int=_bounded_int,
            parse_constant=_refuse_constant if whole else float,
        )
    except RecursionError as err:
        raise UnstorableValue("JSON nested too deeply") from err
    problem = storable_problem(value) if whole else None
    if problem:
        raise UnstorableValue(problem)
    return value


def storable_problem(value) -> str | None:
    """Return why ``value`` cannot be stored as JSON, or None when it can."""
    if type(value) is dict and all(
        type(key) is str and type(item) is str for key, item in value.items()
    ):
        # The usual SalesAPI record, one level of strings: a quicker walk.
        texts = (text for pair in value.items() for text in pair)
        return (
            None if all(map(is_valid_text, texts)) else "text that is not valid Unicode"
        )
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"JSON nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and not is_valid_text(item):
            return "text that is not valid Unicode"
        elif isinstance(item, float) and not math.isfinite(item):
            return "a number that is not finite"
    return None


def is_valid_text(text: str) -> bool:
    """Return whether ``text`` can be stored as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str, *, limit: int) -> str:
    """Return ``text`` made storable (bad code points replaced) and capped."""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"
