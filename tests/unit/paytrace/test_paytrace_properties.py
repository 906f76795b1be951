"""Property tests: PayTrace timestamps and amounts survive the parser for any value, DST edges included."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from paytrace_sl.paytrace.parse import parse_amount, parse_transaction
from paytrace_sl.paytrace.timefmt import format_paytrace_datetime

ZONES = st.sampled_from(["America/Los_Angeles", "America/New_York", "America/Phoenix", "UTC"])
# Aware UTC instants; conversion to the merchant zone yields fold=1 values on the repeated DST hour.
INSTANTS = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2037, 12, 31), timezones=st.just(dt.UTC)
).map(lambda d: d.replace(microsecond=0))


def _record(created: str, settled: str, amount: object, tax: object) -> dict[str, object]:
    return {
        "transaction_id": 1,
        "transaction_type": "SALE",
        "amount": amount,
        "tax_amount": tax,
        "status_code": "GB1",
        "status_message": "",
        "created": {"at": created},
        "settled": settled,
    }


@settings(max_examples=300, deadline=None)
@given(INSTANTS, ZONES)
@example(dt.datetime(2025, 3, 9, 10, 30, tzinfo=dt.UTC), "America/Los_Angeles")  # 2:30 skipped locally
@example(dt.datetime(2025, 11, 2, 8, 30, tzinfo=dt.UTC), "America/Los_Angeles")  # 1:30 PDT (first)
@example(dt.datetime(2025, 11, 2, 9, 30, tzinfo=dt.UTC), "America/Los_Angeles")  # 1:30 PST (repeat)
@example(dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.UTC), "America/Los_Angeles")  # midnight → 12:00:00 AM
@example(dt.datetime(2025, 1, 1, 20, 0, tzinfo=dt.UTC), "America/Los_Angeles")  # noon → 12:00:00 PM
def test_timestamp_round_trip(instant: dt.datetime, zone: str) -> None:
    tz = ZoneInfo(zone)
    text = format_paytrace_datetime(instant, tz)
    tx = parse_transaction(_record(text, text, 1, "0"), tz)
    local = instant.astimezone(tz)
    # Wall clock is always preserved and the result is zone-aware in the merchant zone.
    assert tx.created_at.replace(tzinfo=None) == local.replace(tzinfo=None, fold=0)
    assert tx.created_at.tzinfo is tz and tx.settled_at == tx.created_at
    # The instant is preserved except in the repeated DST hour, which PayTrace's format cannot tell
    # apart (no offset): we read the first occurrence, one hour earlier.
    if local.fold == 0:
        assert tx.created_at.timestamp() == instant.timestamp()
    else:  # (PEP 495 makes ambiguous times unequal across zones, so compare POSIX timestamps)
        assert instant.timestamp() - tx.created_at.timestamp() == 3600
    assert format_paytrace_datetime(tx.created_at, tz) == text


CENTS = st.integers(min_value=-(10**11), max_value=10**11)


@settings(max_examples=300, deadline=None)
@given(CENTS)
def test_amount_number_and_string_agree(cents: int) -> None:
    exact = Decimal(cents).scaleb(-2)
    as_string = parse_amount(f"{exact:.2f}")
    as_decimal_json = parse_amount(json.loads(json.dumps(float(exact)), parse_float=Decimal))
    assert as_string == exact and as_decimal_json == exact
    assert as_string.as_tuple().exponent == -2  # always 2 places: "110" becomes "110.00"
    if abs(cents) < 2**53 // 100:  # floats below ~9e13 cents represent every 2-place value exactly enough
        assert parse_amount(float(exact)) == exact


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_whole_amounts_as_int_and_string(units: int) -> None:
    assert parse_amount(units) == parse_amount(str(units)) == Decimal(units).quantize(Decimal("0.01"))
    assert str(parse_amount(units)).endswith(".00")
