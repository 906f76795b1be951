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
from typing import Any
from urllib.parse import quote, quote_plus

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
_PAN_CANDIDATE = re.compile(
    r"(?<![\d])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5})(?![\d])"
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MIN_SECRET_LEN = 4  # shorter values would scrub ordinary words and numbers


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every card number satisfies."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = int(char)
        if index % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def find_pans(text: str) -> list[str]:
    """Luhn-valid 13–19 digit card numbers in ``text`` (contiguous, or grouped with spaces/dashes)."""
    found: list[str] = []
    if len(text) < 13:  # hot path: most fields are short
        return found
    for match in _PAN_CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(match.group(0))
    return found


# a run of digits, spaces and dashes starting with a digit, long enough to hold a card number: every
# ``find_pans`` candidate lies inside one (it is made of those characters only and is ≥ 13 long)
_PAN_RUN = re.compile(r"\d[\d -]{12,}")


def contains_pan(text: str) -> bool:
    """``bool(find_pans(text))``, several times faster on large texts (landing files, GX frames).

    The regex engine skips everything but long digit/space/dash runs; ``find_pans`` then decides on
    each run exactly as it would on the whole text: a run is maximal (the characters around it are
    neither digits, spaces nor dashes), so the candidate pattern's digit look-arounds see the same
    thing inside the run as in the whole text.
    """
    if len(text) < 13:
        return False
    return any(find_pans(m.group(0)) for m in _PAN_RUN.finditer(text))


def mask_pans(text: str) -> str:
    """Replace each card number with ``*`` and its last 4 digits (PCI truncation)."""

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return "*" * (len(digits) - 4) + digits[-4:]
        return match.group(0)

    return _PAN_CANDIDATE.sub(_mask, text)


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
            k: (MASK if is_sensitive_key(k) and v not in (None, "") else redact(v)) for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, bytes):
        return redact_text(obj.decode("utf-8", errors="replace"))
    if isinstance(obj, int) and not isinstance(obj, bool) and 13 <= len(str(abs(obj))) <= 19:
        return mask_pans(str(obj)) if luhn_valid(str(abs(obj))) else obj
    return obj


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
