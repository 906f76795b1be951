"""PayTrace vault profiles (``/v1/customer/export``) as typed, PCI-safe records.

Two shapes are accepted (paytrace-api.md §2.1; the export's fields are [I]): the card nested under
``credit_card`` (``masked_number``, ``expiration_month``, ``expiration_year``) as the export answers, or
at the top level (``masked_card_number``, ``expiration_month``, ``expiration_year``) as real
create-customer answers put it. Only the last four digits of the card are kept (``xxxxxxxxxxxx1234``):
a value that holds a full card number is refused, the profile dead-lettered with the field named.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.parse import parse_masked_card
from paytrace_sl.redaction import contains_pan


class ProfileError(PaytraceSlError, ValueError):
    """A vault profile that cannot be stored; names the profile and the field, never the value."""

    def __init__(self, customer_id: str, field: str, reason: str) -> None:
        self.customer_id = customer_id
        self.field = field
        self.reason = reason
        super().__init__(f"vault customer {customer_id}: field {field!r}: {reason}")


@dataclass(frozen=True, slots=True)
class VaultProfile:
    """One vault customer: who they are and which card is on file (last four digits only)."""

    customer_id: str
    name: str
    street: str
    street2: str
    city: str
    state: str
    postal_code: str
    country: str
    email: str
    phone: str
    masked_card: str  # "xxxxxxxxxxxx1234" or ""
    exp_month: int | None
    exp_year: int | None

    @property
    def address(self) -> str:
        return " ".join(p for p in (self.street, self.street2) if p)

    def content_hash(self) -> str:
        """SHA-256 of the profile, hex digits written as letters g–p (as the dead letters' digests):
        a hex digest can hold a Luhn-valid run of digits, which the PAN scans would report."""
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return digest.translate(_HEX_TO_LETTERS)


_HEX_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LIMITS = {
    "name": 60,
    "street": 60,
    "street2": 60,
    "city": 30,
    "state": 3,
    "postal_code": 10,
    "country": 3,
    "email": 80,
    "phone": 30,
}


def _label(raw: Mapping[str, Any]) -> str:
    value = raw.get("customer_id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return "<unknown>"
    shown = str(value).strip()
    if not shown or len(shown) > 50 or _CONTROL.search(shown) or contains_pan(shown):
        return "<unknown>"
    return shown


def _text(data: Mapping[str, Any], key: str, cid: str, field: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ProfileError(cid, field, f"expected text, got {type(value).__name__}")
    text = " ".join(str(value).split())
    if _CONTROL.search(text):
        raise ProfileError(cid, field, "contains control characters")
    if contains_pan(text):
        raise ProfileError(cid, field, "contains a full card number; refused")
    return text


def _month_year(value: Any, cid: str, field: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ProfileError(cid, field, "not a whole number") from None
    if field.endswith("year") and 0 <= number < 100:
        number += 2000  # "27" as PayTrace's forms take it
    if not low <= number <= high:
        raise ProfileError(cid, field, f"outside {low}..{high}")
    return number


def last_four(masked: str) -> str:
    """``xxxxxxxxxxxx1234`` from any masked form (the BIN, when present, is dropped)."""
    digits = re.sub(r"\D", "", masked[-4:])
    return "x" * 12 + digits if len(digits) == 4 else ""


def parse_profile(raw: Any) -> VaultProfile:
    """One ``customers[]`` element (or a create-customer answer) → :class:`VaultProfile`."""
    if not isinstance(raw, Mapping):
        raise ProfileError("<unknown>", "<record>", f"expected a JSON object, got {type(raw).__name__}")
    cid = _label(raw)
    if cid == "<unknown>":
        raise ProfileError(cid, "customer_id", "missing, not text, too long or card-like")
    card = raw.get("credit_card")
    if card is not None and not isinstance(card, Mapping):
        raise ProfileError(cid, "credit_card", f"expected an object, got {type(card).__name__}")
    card = card or {}
    if "masked_number" in card:
        masked_field, masked_raw = "credit_card.masked_number", card.get("masked_number")
    else:
        masked_field, masked_raw = "masked_card_number", raw.get("masked_card_number")
    try:
        masked = parse_masked_card(masked_raw, f"vault customer {cid}", masked_field)
    except RecordParseError as exc:
        raise ProfileError(cid, masked_field, exc.reason) from None
    month_key = "credit_card.expiration_month" if "expiration_month" in card else "expiration_month"
    year_key = "credit_card.expiration_year" if "expiration_year" in card else "expiration_year"
    month = _month_year(card.get("expiration_month", raw.get("expiration_month")), cid, month_key, 1, 12)
    year = _month_year(card.get("expiration_year", raw.get("expiration_year")), cid, year_key, 2000, 2099)
    billing = raw.get("billing_address")
    if billing is not None and not isinstance(billing, Mapping):
        raise ProfileError(cid, "billing_address", f"expected an object, got {type(billing).__name__}")
    billing = billing or {}
    values = {
        "name": _text(billing, "name", cid, "billing_address.name"),
        "street": _text(billing, "street_address", cid, "billing_address.street_address"),
        "street2": _text(billing, "street_address2", cid, "billing_address.street_address2"),
        "city": _text(billing, "city", cid, "billing_address.city"),
        "state": _text(billing, "state", cid, "billing_address.state"),
        "postal_code": _text(billing, "zip", cid, "billing_address.zip"),
        "country": _text(billing, "country", cid, "billing_address.country"),
        "email": _text(raw, "email", cid, "email"),
        "phone": _text(raw, "phone", cid, "phone"),
    }
    for key, limit in _LIMITS.items():
        values[key] = values[key][:limit]
    return VaultProfile(
        customer_id=cid,
        masked_card=last_four(masked) if masked else "",
        exp_month=month,
        exp_year=year,
        **values,
    )
