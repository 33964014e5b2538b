"""Remove secrets and mask customer contact data in anything about to be kept.

Used by the log formatters and by whatever stores upstream exchanges: secret
values (by key name, by shape such as a JWT or a bearer token, and every
configured secret value wherever it appears) become ``[REDACTED]``; emails and
phone numbers keep only enough to be told apart, and whatever else is written
under a contact key (``customer_phone``, ``to``…) becomes ``[MASKED]``.
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
MASKED = "[MASKED]"
MIN_SECRET_CHARS = 6
MIN_PHONE_DIGITS = 5
MAX_DEPTH = 32

_SECRET_KEY_RE = re.compile(
    r"authorization|password|passwd|secret|token|api[_-]?key|signing[_-]?key"
    r"|cookie|credential|^(?:access|refresh|key)$"
)
_PUBLIC_KEYS = frozenset({"idempotency_key"})  # names an operation, opens nothing
# Customer addresses. ``from`` and ``from_email`` hold ours, and in inbound
# webhooks the customer's: they are left to the shape rules below.
_CONTACT_KEYS = frozenset(
    {"customer_email", "email", "recipient", "cc", "bcc"}  # e-mail addresses
    | {"customer_phone", "phone", "to"}  # phones; ``to`` may hold either
)
_JSON_START_RE = re.compile(r"\s*[\[{]")

# Domains may also be ``[192.0.2.1]``, ``[IPv6:…]`` or bare IPv4 addresses.
_DOMAIN = r"(?P<domain>(?:[\w-]+\.)+[^\W\d_]{2,}|\[[^\]\s]+\]|\d{1,3}(?:\.\d{1,3}){3})"
_EMAIL_RE = re.compile(rf"(?<![\w.%+*-])(?P<local>[\w%+-][\w.%+*-]*+)@{_DOMAIN}")
# ``"first last"@example.com``, also with the quotes escaped inside JSON text.
_QUOTED_EMAIL_RE = re.compile(rf'\\?"(?P<local>[^"\\\r\n]+)\\?"@{_DOMAIN}')
# Mailgun's message ids look like e-mail addresses; they name our message,
# not a person, and are needed to find it in Mailgun's logs.
_MAILGUN_ID_RE = re.compile(r"\d{14}\.\d+(?:\.[0-9A-Fa-f]+)+")

_SPACES = " \t\u00a0\u2007\u2009\u202f"
_DASHES = "\\-\u2010-\u2015\u2212"
_GAP = f"[{_SPACES}{_DASHES}()]{{0,3}}"  # between two digits of a phone number
# A "+" and 10-15 digits; a 7 or 8 and ten more; or ten digits starting with 9
# (a Russian mobile without its country code). Not part of an id glued on by a
# dash (``INV-9991234567``, ``9991234567-A``), of a decimal or a longer number.
_PHONE_RE = re.compile(
    rf"""(?=[+(789])(?<![\w+])(?<!\w[{_DASHES}])(?<!\d\.)
        (?:\+{_GAP}\d(?:{_GAP}\d){{9,14}}|[78](?:{_GAP}\d){{10}}|\(?9(?:{_GAP}\d){{9}})
        (?![\w+]|[{_DASHES}]\w|\.\d)""",
    re.VERBOSE,
)
_MASKED_PHONE_RE = re.compile(r"\+?\*+\d{0,2}")
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?")
# "Bearer" first, then "not after a letter": twice as fast as a leading \b.
_BEARER_RE = re.compile(r"(?i:(bearer))(?<!\w.{6})\s+(?!\[REDACTED)[^\s\"',;]+")
_DIGIT_RE = re.compile(r"\d")
# ``password=…``, ``"token": "…"``, ``{customer_phone: '…'}`` in free text: any
# key is found, then ``_key_kind`` decides. A quote left open by a cut ends the
# value at the end of the text.
_PAIR_RE = re.compile(r"""(?<![\w-])(?P<key>[\w-]++)["']?[ \t]*[:=][ \t]*""")
_QUOTED = r""""(?:[^"\\]|\\.)*(?:"|\Z)|'(?:[^'\\]|\\.)*(?:'|\Z)"""
_BARE_VALUE = r"""[^\s&,;"'<>()\[\]{}]+"""
_SECRET_VALUE_RE = re.compile(
    r"(?:(?:bearer|basic|token|jwt)[ \t]+)?"
    rf"(?P<value>\[REDACTED[^\]]*\]|{_QUOTED}|{_BARE_VALUE})",
    re.IGNORECASE,
)
_CONTACT_VALUE_RE = re.compile(
    rf"(?P<value>{_QUOTED}|\+?\(?\d(?:{_GAP}\d)*|{_BARE_VALUE})"
)
_VALUE_RES = {"secret": _SECRET_VALUE_RE, "contact": _CONTACT_VALUE_RE}


def mask_email(text: str) -> str:
    """Return ``text`` with each e-mail address cut to its first letter and domain."""
    if '"@' in text:
        text = _QUOTED_EMAIL_RE.sub(_masked_address, text)
    return _EMAIL_RE.sub(_mask_email_match, text)


def mask_phone(text: str) -> str:
    """Return ``text`` as a leading ``+``, stars and its last two digits.

    ``+7 (999) 123-45-67`` becomes ``+*********67``; with fewer than five
    digits every digit is starred.
    """
    digits = _DIGIT_RE.findall(text)
    if not digits:
        return text
    kept = "".join(digits[-2:]) if len(digits) >= MIN_PHONE_DIGITS else ""
    prefix = "+" if text.lstrip().startswith("+") else ""
    return prefix + "*" * (len(digits) - len(kept)) + kept


def truncate(text, limit: int | None) -> str:
    """Return ``text`` cut to ``limit`` characters, marked with its full length."""
    text = text if isinstance(text, str) else str(text)
    if limit is None or len(text) <= limit:
        return text
    return f"{text[: max(limit, 0)]}…[truncated, {len(text)} chars]"


class Redacted(str):
    """Text that has been through ``redact`` already; ``redact`` keeps it as is.

    Upstream bodies are redacted once where they are logged and kept; marking
    the result spares the log formatter walking the same JSON again.
    """


def redact(value):
    """Return a copy of ``value`` that is safe to log.

    Mappings, lists and strings holding JSON objects or arrays are walked:
    values of secret keys become ``[REDACTED]``; values of contact keys keep
    only masked addresses or phone digits, and become ``[MASKED]`` when they
    hold neither. Every string is cleaned as free text: configured secret
    values, bearer tokens, JWTs and ``secret=value`` pairs redacted, contact
    pairs, e-mails and phones masked. Numbers, booleans and None are kept;
    anything else becomes its ``str()``.
    """
    return _redact(value, 0)


def _redact(value, depth):
    if isinstance(value, Redacted):
        return value
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
        return _mask_contact(value, depth)
    return _redact(value, depth)


@lru_cache(maxsize=2048)
def _key_kind(key: str) -> str | None:
    name = key.lower().replace("-", "_")
    if name in _PUBLIC_KEYS:
        return None
    if _SECRET_KEY_RE.search(name):
        return "secret"
    return "contact" if name in _CONTACT_KEYS else None


def _mask_contact(value, depth):
    if value is None or isinstance(value, bool | Mapping) or depth >= MAX_DEPTH:
        return _redact(value, depth)
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_contact(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    return _mask_contact_text(value if isinstance(value, str) else str(value))


def _mask_contact_text(text: str) -> str:
    """Return only the masked addresses or phone digits in ``text``, or MASKED."""
    if not text.strip() or _MASKED_PHONE_RE.fullmatch(text):
        return text
    if "@" in text:
        found = _EMAIL_RE.finditer(mask_email(text))
        if addresses := [_masked_address(match) for match in found]:
            return ", ".join(addresses)
    if len(_DIGIT_RE.findall(text)) >= MIN_PHONE_DIGITS:
        return mask_phone(text)
    return MASKED


def _mask_email_match(match: re.Match) -> str:
    if _MAILGUN_ID_RE.fullmatch(match["local"]):
        return match[0]
    return _masked_address(match)


def _masked_address(match: re.Match) -> str:
    return f"{match['local'][0]}***@{match['domain']}"


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
    if "eyJ" in text:
        text = _JWT_RE.sub(REDACTED_JWT, text)
    if ":" in text or "=" in text:
        text = _redact_pairs(text)
    text = _BEARER_RE.sub(rf"\1 {REDACTED}", text)
    if "@" in text:
        text = mask_email(text)
    return _PHONE_RE.sub(lambda match: mask_phone(match[0]), text)


def _redact_pairs(text: str) -> str:
    """Return ``text`` with the values of secret and contact keys replaced."""
    parts, done = [], 0
    for pair in _PAIR_RE.finditer(text):
        kind = _key_kind(pair["key"])
        if kind is None or pair.start() < done:  # not ours, or inside a value
            continue
        value = _VALUE_RES[kind].match(text, pair.end())
        if value is None:
            continue
        parts += [text[done : pair.end()], _replace_value(kind, value["value"])]
        done = value.end()
    return "".join(parts) + text[done:] if parts else text


def _replace_value(kind: str, value: str) -> str:
    quote = value[0] if value[0] in "\"'" else ""
    inner = value[len(quote) :]
    closing = quote if quote and inner.endswith(quote) else ""
    inner = inner[: len(inner) - len(closing)]
    masked = REDACTED if kind == "secret" else _mask_contact_text(inner)
    return f"{quote}{masked}{closing}"


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
