"""Strict parsing of PayTrace recurrence exports: PayTrace's odd date forms in the merchant's zone, masked
cards only, errors naming the record and the field (never the value)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.recurring import parse_paytrace_date, parse_recurrence, parse_recurring_payment

LA = ZoneInfo("America/Los_Angeles")
PAN = "4111111111111111"


def _schedule(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "recurrence_id": 5001,
        "customer_id": "CUST00001",
        "amount": 49.95,
        "frequency": "Monthly",
        "status": "ACTIVE",
        "start_date": "4/2/2025",
        "next_date": "05/02/2025",
        "total_count": "12",
        "current_count": 1,
        "description": "gold plan",
        "credit_card": {"masked_number": "xxxxxxxxxxxx1111"},
        "created": {"at": "4/1/2025 1:00:00 AM"},
        "last_result": {
            "transaction_id": 81234567,
            "at": "4/2/2025 6:00:00 AM",
            "response_code": 101,
            "status_message": "approved",
        },
    }
    raw.update(changes)
    return raw


def test_a_schedule_in_paytrace_forms() -> None:
    s = parse_recurrence(_schedule(), LA)
    assert (s.recurrence_id, s.customer_id, s.amount) == (5001, "CUST00001", Decimal("49.95"))
    assert (s.frequency, s.status) == ("monthly", "active")
    assert s.start_date == dt.date(2025, 4, 2) and s.next_date == dt.date(2025, 5, 2)
    assert (s.total_count, s.current_count) == (12, 1)
    assert s.last_result_at == dt.datetime(2025, 4, 2, 6, 0, tzinfo=LA) and s.last_result_at.utcoffset()
    assert s.last_transaction_id == 81234567 and not s.last_failed


def test_optional_fields_and_a_failed_charge() -> None:
    s = parse_recurrence(
        _schedule(
            next_date="", total_count=None, last_result={"response_code": "102", "status_message": "EXPIRED"}
        ),
        LA,
    )
    assert s.next_date is None and s.total_count == 0 and s.last_failed and s.last_message == "EXPIRED"
    assert parse_recurrence(_schedule(last_result={}), LA).last_failed is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4/2/2025", dt.date(2025, 4, 2)),
        ("04/02/2025", dt.date(2025, 4, 2)),
        (" 4/2/2025 ", dt.date(2025, 4, 2)),
        ("4/2/2025 11:59:59 PM", dt.date(2025, 4, 2)),  # a timestamp: its merchant-local day
    ],
)
def test_date_forms(value: str, expected: dt.date) -> None:
    assert parse_paytrace_date(value, LA, "recurrence 1", "next_date", required=True) == expected


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"recurrence_id": "12a"}, "recurrence_id"),
        ({"recurrence_id": 0}, "recurrence_id"),
        ({"recurrence_id": True}, "recurrence_id"),
        ({"customer_id": ""}, "customer_id"),
        ({"customer_id": PAN}, "customer_id"),
        ({"amount": "1,250.00"}, "amount"),
        ({"amount": "12.505"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"frequency": "fortnightly"}, "frequency"),
        ({"status": None}, "status"),
        ({"start_date": "2025-04-02"}, "start_date"),
        ({"start_date": "13/40/2025"}, "start_date"),
        ({"start_date": None}, "start_date"),
        ({"next_date": 20250502}, "next_date"),
        ({"credit_card": {"masked_number": PAN}}, "credit_card.masked_number"),
        ({"credit_card": {"masked_number": "4111 1111 1111 1111"}}, "credit_card.masked_number"),
        ({"current_count": -1}, "current_count"),
        ({"last_result": {"at": "yesterday"}}, "last_result.at"),
    ],
)
def test_bad_fields_are_named_never_echoed(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(RecordParseError) as caught:
        parse_recurrence(_schedule(**changes), LA)
    assert caught.value.field == field
    assert PAN not in str(caught.value) and "4111 1111" not in str(caught.value)
    assert "recurrence" in str(caught.value.transaction_id)


def test_a_junk_id_is_not_echoed() -> None:
    with pytest.raises(RecordParseError) as caught:
        parse_recurrence(_schedule(recurrence_id=PAN), LA)
    assert caught.value.transaction_id == "recurrence <unknown>" and PAN not in str(caught.value)
    with pytest.raises(RecordParseError):
        parse_recurrence(["not", "an", "object"], LA)


def test_an_approved_payment() -> None:
    raw = {
        "recurrence_id": "5001",
        "transaction_id": 81234567,
        "customer_id": "CUST00001",
        "amount": "49.95",
        "created": {"at": "11/2/2025 1:30:00 AM"},  # the day DST ends: the first 1:30 (PDT)
        "credit_card": {"masked_number": "************1111"},
    }
    p = parse_recurring_payment(raw, LA)
    assert (p.recurrence_id, p.transaction_id, p.amount) == (5001, 81234567, Decimal("49.95"))
    assert p.created_at.utcoffset() == dt.timedelta(hours=-7)
    for bad, field in (({"created": {}}, "created.at"), ({"transaction_id": None}, "transaction_id")):
        with pytest.raises(RecordParseError) as caught:
            parse_recurring_payment({**raw, **bad}, LA)
        assert caught.value.field == field
