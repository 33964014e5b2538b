"""Remove secrets and mask customer contact data in anything about to be kept.

Used by the log formatters and by whatever stores upstream exchanges: secret
values (by key name, by shape such as a JWT or a bearer token, and every
configured secret value wherever it appears) become ``[REDACTED]``; emails and
phone numbers keep only enough to be told apart.
"""

import datetime
import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

REDACTED = "[REDACTED]"
REDACTED_JWT = "[REDACTED-JWT]"
MIN_SECRET_CHARS = 6
MAX_DEPTH = 32

_SENSITIVE_KEY_PARTS = (
    r"authorization|password|passwd|secret|token|api[_-]?key|signing[_-]?key"
    r"|cookie|credential"
)
_SECRET_KEY_RE = re.compile(rf"{_SENSITIVE_KEY_PARTS}|^(?:access|refresh|key)$")
_PUBLIC_KEYS = frozenset({"idempotency_key"})  # names an operation, opens nothing
_EMAIL_KEYS = frozenset({"customer_email", "email", "to", "recipient", "from_email"})
_PHONE_KEYS = frozenset({"customer_phone", "phone", "to"})
_JSON_START_RE = re.compile(r"\s*[\[{]")

_EMAIL_RE = re.compile(r"(?<![\w.%+-])([\w%+-])[\w.%+-]*@((?:[\w-]+\.)+[^\W\d_]{2,})")
# A "+" and at least ten digits, or a leading 7/8 and at least ten more; the
# digits may be split by spaces, brackets and dashes.
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+[ \t(]*\d(?:[ \t()-]*\d){9,}|[78](?:[ \t()-]*\d){10,})(?!\w)"
)
_PHONE_VALUE_RE = re.compile(r"\+?[\d\s().-]+")
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?")
_BEARER_RE = re.compile(r"\b(Bearer)\s+(?!\[REDACTED)[^\s\"',;]+", re.IGNORECASE)
# ``password=…``, ``"token": "…"``, ``Authorization: Basic …`` in free text.
_KEY_VALUE_RE = re.compile(
    rf"""(?<![\w-])(?P<key>access|refresh|key|[\w-]*(?:{_SENSITIVE_KEY_PARTS})[\w-]*+)
        (?P<sep>["']?[ \t]*[:=][ \t]*)
        (?:(?:bearer|basic|token|jwt)[ \t]+)?
        (?P<value>\[REDACTED[^\]]*\]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'
            |[^\s&,;"'<>()\[\]{{}}]+)""",
    re.IGNORECASE | re.VERBOSE,
)


def mask_email(text: str) -> str:
    """Return ``text`` with each e-mail address cut to its first letter and domain."""
    return _EMAIL_RE.sub(r"\1***@\2", text)


def mask_phone(text: str) -> str:
    """Return ``text`` as a leading ``+``, stars and its last two digits.

    ``+7 (999) 123-45-67`` becomes ``+*********67``; with fewer than five
    digits every digit is starred.
    """
    digits = [char for char in text if char.isdigit()]
    if not digits:
        return text
    kept = "".join(digits[-2:]) if len(digits) >= 5 else ""
    prefix = "+" if text.lstrip().startswith("+") else ""
    return prefix + "*" * (len(digits) - len(kept)) + kept


def truncate(text, limit: int | None) -> str:
    """Return ``text`` cut to ``limit`` characters, marked with its full length."""
    text = text if isinstance(text, str) else str(text)
    if limit is None or len(text) <= limit:
        return text
    return f"{text[: max(limit, 0)]}…[truncated, {len(text)} chars]"


def redact(value):
    """Return a copy of ``value`` that is safe to log.

    Mappings, lists and strings holding JSON objects or arrays are walked:
    values of secret keys become ``[REDACTED]``, contact keys are masked. Every
    string is cleaned as free text: configured secret values, bearer tokens,
    JWTs and ``secret=value`` pairs redacted, e-mails and phones masked.
    Numbers, booleans and None are kept; anything else becomes its ``str()``.
    """
    return _redact(value, 0)


def _redact(value, depth):
    if isinstance(value, str):
        return _redact_string(value, depth)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        return "[TOO DEEP]"
    if isinstance(value, Mapping):
        return {str(k): _redact_item(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return _redact_string(bytes(value).decode("utf-8", "replace"), depth)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return _redact_string(str(value), depth)


def _redact_item(key, value, depth):
    kind = _key_kind(key)
    if kind == "secret":
        return value if value is None or value == "" else REDACTED
    if kind == "contact":
        return _mask_contact(_redact(value, depth))
    return _redact(value, depth)


@lru_cache(maxsize=2048)
def _key_kind(key: str) -> str | None:
    name = key.lower().replace("-", "_")
    if name in _PUBLIC_KEYS:
        return None
    if _SECRET_KEY_RE.search(name):
        return "secret"
    return "contact" if name in _EMAIL_KEYS or name in _PHONE_KEYS else None


def _mask_contact(value):
    if isinstance(value, list):
        return [_mask_contact(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _PHONE_VALUE_RE.fullmatch(value.strip()):
        return mask_phone(value)
    return value


def _redact_string(text, depth):
    if _JSON_START_RE.match(text):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict | list):
            return json.dumps(_redact(parsed, depth + 1), ensure_ascii=False)
    return _redact_text(text)


def _redact_text(text: str) -> str:
    if len(text) < MIN_SECRET_CHARS:
        return text
    secrets_re = _secrets_state()[1]
    if secrets_re is not None:
        text = secrets_re.sub(REDACTED, text)
    text = _JWT_RE.sub(REDACTED_JWT, text)
    text = _KEY_VALUE_RE.sub(_redact_key_value, text)
    text = _BEARER_RE.sub(rf"\1 {REDACTED}", text)
    text = mask_email(text)
    return _PHONE_RE.sub(lambda match: mask_phone(match.group(0)), text)


def _redact_key_value(match: re.Match) -> str:
    quote_char = match["value"][0] if match["value"][0] in "\"'" else ""
    return f"{match['key']}{match['sep']}{quote_char}{REDACTED}{quote_char}"


# --- Secret values from settings ------------------------------------------------

_secrets_cache: tuple[tuple[str, ...], re.Pattern | None] | None = None


def configured_secrets() -> tuple[str, ...]:
    """Return the values of secret settings, empty until settings are configured.

    ``SECRET_KEY``, ``JWT_SIGNING_KEY``, each ``UPSTREAMS[…]["TOKEN"]``, each
    ``DATABASES[…]["PASSWORD"]`` and the settings named in ``LOG_SECRET_SETTINGS``
    (dotted names reach into dicts); values under six characters are skipped.
    """
    return _secrets_state()[0]


@receiver(setting_changed)
def reset_configured_secrets(**signal_kwargs) -> None:
    """Forget the cached secret values; the next record reads settings again."""
    global _secrets_cache
    _secrets_cache = None


def _secrets_state():
    global _secrets_cache
    if _secrets_cache is not None:
        return _secrets_cache
    if not settings.configured:
        return (), None
    names = ["SECRET_KEY", "JWT_SIGNING_KEY"]
    names += [f"UPSTREAMS.{name}.TOKEN" for name in _setting("UPSTREAMS") or {}]
    names += [f"DATABASES.{alias}.PASSWORD" for alias in _setting("DATABASES") or {}]
    names += list(_setting("LOG_SECRET_SETTINGS") or ())
    values = set()
    for name in names:
        value = _setting(name)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
            # Also as written inside JSON text and URLs.
            values |= {value, json.dumps(value)[1:-1], quote(value, safe="")}
    ordered = tuple(sorted(values, key=len, reverse=True))
    pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
    _secrets_cache = (ordered, pattern)
    return _secrets_cache


def _setting(dotted_name: str):
    head, *rest = dotted_name.split(".")
    try:
        value = getattr(settings, head, None)
    except ImproperlyConfigured:  # e.g. an empty SECRET_KEY
        return None
    for part in rest:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value
