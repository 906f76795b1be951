"""Keep secrets and card numbers out of logs, files and messages (PCI; reference §8).

Three layers, because any one alone misses something:
* ``redact(obj)`` masks values of sensitive keys in dicts/lists (ActiveMerchant's scrub list plus our
  own), and masks card numbers and ``key=value`` / ``"key": "value"`` / ``Bearer …`` patterns in text;
* ``register_secret(value)`` remembers exact secret values (API password, integrator id, every issued
  access token) so they are scrubbed wherever they appear, whatever the surrounding text;
* ``RedactingFilter`` applies both to every log record passing a handler.
``find_pans``/``find_secrets`` are the detectors tests (and a PCI scan) use to prove nothing leaked.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, quote_plus

# the one PAN detector (pan_detector), re-exported: callers import it from here
from paytrace_sl.pan_detector import contains_pan as contains_pan
from paytrace_sl.pan_detector import find_pans as find_pans
from paytrace_sl.pan_detector import is_masked_card, luhn_valid, mask_pans

MASK = "***"

SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "pswd",
        "access_token",
        "refresh_token",
        "token",
        "authorization",
        "integrator_id",
        "x_integrator_id",
        "client_secret",
        "number",  # credit_card.number (PAN) in v1 request bodies
        "card_number",
        "credit_card_number",
        "cc_number",
        "csc",
        "cvv",
        "cvv2",
        "encrypted_number",
        "encrypted_csc",
        "hpf_token",
        "enc_key",
        "account_number",
        "routing_number",
        "swipe",
        "track_data",
    }
)

_KEY_ALTERNATION = "|".join(sorted((re.escape(k) for k in SENSITIVE_KEYS), key=len, reverse=True))
# key=value (form bodies, query strings) and "key": "value" / 'key': 'value' (JSON, Python reprs).
_KV_FORM = re.compile(rf"(?i)\b((?:x[-_])?(?:{_KEY_ALTERNATION}))=([^&\s\"',;]+)")
_KV_QUOTED = re.compile(rf"(?i)([\"']((?:x[-_])?(?:{_KEY_ALTERNATION}))[\"']\s*:\s*)([\"'])(.*?)(?<!\\)\3")
_KV_QUOTED_NUM = re.compile(rf"(?i)([\"']((?:x[-_])?(?:{_KEY_ALTERNATION}))[\"']\s*:\s*)(\d[\d ]*)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/:=-]+")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MIN_SECRET_LEN = 4  # shorter values would scrub ordinary words and numbers


def _variants(secret: str) -> set[str]:
    """The forms a secret takes on the wire: raw, URL-encoded (form bodies), JSON-escaped."""
    return {
        secret,
        quote_plus(secret),
        quote(secret, safe=""),
        secret.replace("\\", "\\\\").replace('"', '\\"'),
    }


def find_secrets(text: str, secrets: Iterable[str]) -> list[str]:
    """Which of ``secrets`` (raw or URL-/JSON-encoded) occur in ``text``; empty/tiny ones are skipped."""
    hits = []
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LEN and any(v in text for v in _variants(secret)):
            hits.append(secret)
    return hits


def register_secret(value: str | None) -> None:
    """Remember a secret value so every redaction scrubs it verbatim (and its encoded forms)."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _secrets_lock:
            _secrets.update(_variants(value))


def forget_secret(value: str | None) -> None:
    if value:
        with _secrets_lock:
            _secrets.difference_update(_variants(value))


def is_sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    norm = key.strip().lower().replace("-", "_")
    return norm in SENSITIVE_KEYS or norm.removeprefix("x_") in SENSITIVE_KEYS


def redact_text(text: str) -> str:
    """Scrub registered secrets, bearer tokens, ``key=value``/``"key": "value"`` secrets and PANs."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _KV_FORM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _KV_QUOTED.sub(lambda m: f"{m.group(1)}{m.group(3)}{MASK}{m.group(3)}", text)
    text = _KV_QUOTED_NUM.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return mask_pans(text)


def redact(obj: Any) -> Any:
    """A copy of ``obj`` safe to log: sensitive keys masked at any depth, text scrubbed."""
    if isinstance(obj, Mapping):
        return {
            k: (MASK if (is_sensitive_key(k) and v not in (None, "")) or _unmasked_card(k, v) else redact(v))
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, bytes):
        return redact_text(obj.decode("utf-8", errors="replace"))
    if isinstance(obj, int) and not isinstance(obj, bool) and 13 <= len(str(abs(obj))) <= 19:
        return mask_pans(str(obj)) if luhn_valid(str(abs(obj))) else obj
    if isinstance(obj, float | Decimal) and contains_pan(str(obj)):  # a PAN sent as a JSON number
        return mask_pans(str(obj))
    return obj


_MASKED_CARD_KEYS = frozenset({"masked_number", "masked_card_number", "card_masked"})


def _unmasked_card(key: object, value: object) -> bool:
    """A masked-card field whose value is not a masked card number: it could be anything, even a PAN
    in a form no detector knows, so it is never shown (paytrace-api.md §3.1: ``************1111``)."""
    return (
        isinstance(key, str)
        and key.strip().lower() in _MASKED_CARD_KEYS
        and value not in (None, "")
        and not (isinstance(value, str) and is_masked_card(value))
    )


class RedactingFilter(logging.Filter):
    """Scrub every record: the rendered message, the exception text and the stack. Never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not crash logging; fall back to the raw msg
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact_text(record.exc_text or self._formatter.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
