"""PayTrace recurring billing (reference §2.1): schedules and their approved payments, parsed strictly.

Endpoints: ``POST /v1/recurrence/export`` (schedules; [I from S17], filter ``customer_id`` or
``recurrence_id``) and ``POST /v1/recurrence/export_approved`` (approved payments; [C-3p S19], filter
``customer_id``). The JSON shapes are **undocumented** ([U]): every name we read lives in
:data:`RECURRENCE_FIELDS` / :data:`RECURRING_PAYMENT_FIELDS` and the two collection keys, so one real
sandbox call can fix them in one place.

Strictness is that of :mod:`paytrace_sl.paytrace.parse`: ASCII-digit ids within their column ranges,
PayTrace's amount forms only, masked cards only, text a database can store. Dates come in PayTrace's odd
forms — ``M/D/YYYY``, ``MM/DD/YYYY`` or a full ``M/D/YYYY h:mm:ss AM/PM`` stamp — without a time zone and
are read in the merchant's zone (configuration). A record that fails raises
:class:`~paytrace_sl.paytrace.errors.RecordParseError` naming the record and the field, never the value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.parse import (
    _CONTROL,
    _UNSTORABLE,
    MAX_TRANSACTION_ID,
    _get_path,
    _parse_id_text,
    _parse_int,
    _parse_stamp,
    _parse_text,
    parse_amount,
    parse_masked_card,
)
from paytrace_sl.paytrace.timefmt import parse_paytrace_datetime
from paytrace_sl.redaction import contains_pan

RECURRENCE_EXPORT = "/v1/recurrence/export"
RECURRENCE_EXPORT_APPROVED = "/v1/recurrence/export_approved"
RECURRENCES_KEY = "recurrences"  # [U] collection key of recurrence/export
APPROVED_KEY = "transactions"  # [U] collection key of recurrence/export_approved

# Our record field -> PayTrace JSON path ([U]: inferred from the legacy ExportRecur fields, S17).
RECURRENCE_FIELDS: dict[str, str] = {
    "recurrence_id": "recurrence_id",
    "customer_id": "customer_id",
    "amount": "amount",
    "frequency": "frequency",
    "status": "status",
    "start_date": "start_date",
    "next_date": "next_date",
    "total_count": "total_count",
    "current_count": "current_count",
    "description": "description",
    "card_masked": "credit_card.masked_number",
    "created_at": "created.at",
    "last_transaction_id": "last_result.transaction_id",
    "last_result_at": "last_result.at",
    "last_response_code": "last_result.response_code",
    "last_message": "last_result.status_message",
}
RECURRING_PAYMENT_FIELDS: dict[str, str] = {
    "recurrence_id": "recurrence_id",
    "transaction_id": "transaction_id",
    "customer_id": "customer_id",
    "amount": "amount",
    "created_at": "created.at",
    "card_masked": "credit_card.masked_number",
}

FREQUENCIES = frozenset({"daily", "weekly", "biweekly", "first_of_month", "monthly", "quarterly", "annually"})
STATUSES = frozenset({"active", "paused", "completed", "cancelled", "failed"})
MAX_RECURRENCE_ID = MAX_TRANSACTION_ID
MAX_COUNT = 2_147_483_647
APPROVED_RESPONSE_CODES = frozenset({101, 0})  # 101 approved; 0 / absent: nothing charged yet

_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


@dataclass(frozen=True, slots=True)
class RecurringSchedule:
    """One PayTrace recurring schedule (a customer's standing charge); masked card only."""

    recurrence_id: int
    customer_id: str
    amount: Decimal
    frequency: str  # one of FREQUENCIES
    status: str  # one of STATUSES
    start_date: dt.date
    next_date: dt.date | None  # None when the schedule will not charge again
    total_count: int  # 0 = until cancelled
    current_count: int
    description: str
    card_masked: str
    created_at: dt.datetime | None
    last_transaction_id: int | None
    last_result_at: dt.datetime | None
    last_response_code: int | None
    last_message: str

    @property
    def last_failed(self) -> bool:
        """The latest charge attempt was declined (or otherwise not approved)."""
        return self.last_response_code is not None and self.last_response_code not in APPROVED_RESPONSE_CODES


@dataclass(frozen=True, slots=True)
class RecurringPayment:
    """One approved payment of a schedule: a normal PayTrace transaction, tagged with its schedule."""

    recurrence_id: int
    transaction_id: int
    customer_id: str
    amount: Decimal
    created_at: dt.datetime
    card_masked: str


def parse_paytrace_date(
    value: Any, tz: ZoneInfo, label: object, field: str, *, required: bool
) -> dt.date | None:
    """A day in PayTrace's forms: ``M/D/YYYY`` (any padding) or a full timestamp, read in ``tz``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordParseError(label, field, "missing")
        return None
    if not isinstance(value, str):
        raise RecordParseError(label, field, f"expected a 'M/D/YYYY' string, got {type(value).__name__}")
    match = _DATE.match(value)
    try:
        if match:
            month, day, year = (int(g) for g in match.groups())
            return dt.date(year, month, day)
        return parse_paytrace_datetime(value, tz).date()
    except ValueError:
        raise RecordParseError(label, field, "not a 'M/D/YYYY' date or PayTrace timestamp") from None


def _label(raw: Mapping[str, Any], key: str, what: str) -> str:
    """``"<what> <id>"`` when the id is plain digits in range; never echoes junk or a card number."""
    value = raw.get(key)
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    ok = text.isascii() and text.isdigit() and len(text) <= 10 and not _CONTROL.search(text)
    ok = ok and not _UNSTORABLE.search(text) and not contains_pan(text)
    return f"{what} {text}" if ok else f"{what} <unknown>"


def _word(raw: Mapping[str, Any], path: str, label: str, allowed: frozenset[str]) -> str:
    value = _get_path(raw, path)
    if not isinstance(value, str) or not value.strip():
        raise RecordParseError(label, path, "missing or not text")
    word = value.strip().lower().replace(" ", "_").replace("-", "_")
    if word not in allowed:
        raise RecordParseError(label, path, f"unknown value (expected one of {', '.join(sorted(allowed))})")
    return word


def parse_recurrence(raw: Any, tz: ZoneInfo) -> RecurringSchedule:
    """Normalize one ``recurrences[]`` element of ``recurrence/export``."""
    if not isinstance(raw, Mapping):
        raise RecordParseError(
            "recurrence <unknown>", "<record>", f"expected a JSON object, got {type(raw).__name__}"
        )
    f = RECURRENCE_FIELDS
    label = _label(raw, f["recurrence_id"], "recurrence")
    rid = _parse_int(_get_path(raw, f["recurrence_id"]), label, f["recurrence_id"], MAX_RECURRENCE_ID, 1)
    customer_id = _parse_id_text(raw, f["customer_id"], label)
    if not customer_id or len(customer_id) > 100:
        raise RecordParseError(label, f["customer_id"], "missing or longer than 100 characters")
    amount = parse_amount(_get_path(raw, f["amount"]), label, f["amount"])
    if amount <= 0:
        raise RecordParseError(label, f["amount"], "not positive")
    total = _get_path(raw, f["total_count"])
    last_tx = _get_path(raw, f["last_transaction_id"])
    last_code = _get_path(raw, f["last_response_code"])
    description = _parse_text(raw, f["description"], label)
    return RecurringSchedule(
        recurrence_id=rid,
        customer_id=customer_id,
        amount=amount,
        frequency=_word(raw, f["frequency"], label, FREQUENCIES),
        status=_word(raw, f["status"], label, STATUSES),
        start_date=_required_date(raw, f["start_date"], tz, label),
        next_date=parse_paytrace_date(
            _get_path(raw, f["next_date"]), tz, label, f["next_date"], required=False
        ),
        total_count=0 if total in (None, "") else _parse_int(total, label, f["total_count"], MAX_COUNT),
        current_count=_parse_int(
            _get_path(raw, f["current_count"]) or 0, label, f["current_count"], MAX_COUNT
        ),
        description=description[:200],
        card_masked=parse_masked_card(_get_path(raw, f["card_masked"]), label, f["card_masked"]),
        created_at=_parse_stamp(_get_path(raw, f["created_at"]), tz, label, f["created_at"], required=False),
        last_transaction_id=None
        if last_tx in (None, "")
        else _parse_int(last_tx, label, f["last_transaction_id"], MAX_TRANSACTION_ID, 1),
        last_result_at=_parse_stamp(
            _get_path(raw, f["last_result_at"]), tz, label, f["last_result_at"], required=False
        ),
        last_response_code=None
        if last_code in (None, "")
        else _parse_int(last_code, label, f["last_response_code"], 9999),
        last_message=_parse_text(raw, f["last_message"], label)[:200],
    )


def _required_date(raw: Mapping[str, Any], path: str, tz: ZoneInfo, label: str) -> dt.date:
    day = parse_paytrace_date(_get_path(raw, path), tz, label, path, required=True)
    assert day is not None
    return day


def parse_recurring_payment(raw: Any, tz: ZoneInfo) -> RecurringPayment:
    """Normalize one element of ``recurrence/export_approved``."""
    if not isinstance(raw, Mapping):
        raise RecordParseError(
            "recurring payment <unknown>", "<record>", f"expected a JSON object, got {type(raw).__name__}"
        )
    f = RECURRING_PAYMENT_FIELDS
    label = _label(raw, f["transaction_id"], "transaction")
    created = _parse_stamp(_get_path(raw, f["created_at"]), tz, label, f["created_at"], required=True)
    assert created is not None
    return RecurringPayment(
        recurrence_id=_parse_int(
            _get_path(raw, f["recurrence_id"]), label, f["recurrence_id"], MAX_RECURRENCE_ID, 1
        ),
        transaction_id=_parse_int(
            _get_path(raw, f["transaction_id"]), label, f["transaction_id"], MAX_TRANSACTION_ID, 1
        ),
        customer_id=_parse_id_text(raw, f["customer_id"], label),
        amount=parse_amount(_get_path(raw, f["amount"]), label, f["amount"]),
        created_at=created,
        card_masked=parse_masked_card(_get_path(raw, f["card_masked"]), label, f["card_masked"]),
    )
