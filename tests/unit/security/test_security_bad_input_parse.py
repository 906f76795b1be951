"""Property: every hostile export record is parsed, or rejected with a RecordParseError naming the record
and the field -- never another exception, never a silent drop, never an echo of the bad value."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bad_input_strategies import BASE_RECORDS, HUGE, PAN, SQL, hostile_records
from hypothesis import given, settings

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.parse import MAX_TRANSACTION_ID, parse_transaction
from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.redaction import contains_pan

LA = ZoneInfo("America/Los_Angeles")


def _expected_label(raw: dict[str, Any]) -> object:
    """Only a valid id (ASCII digits, within SL's RefNbr) is echoed: never junk, never a PAN."""
    value = raw.get("transaction_id")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TRANSACTION_ID:
        return value
    return "<unknown>"


def _related(field: str, paths: list[str]) -> bool:
    """The error names a field we broke (or the field our break made unreadable)."""
    top = field.split(".")[0]
    tops = {p.split(".")[0] for p in paths}
    if top in tops:
        return True
    # a broken status message / response code changes how status_code reads
    return field == "status_code" and bool(tops & {"status_message", "response_code"})


@settings(max_examples=300, deadline=None)
@given(hostile_records())
def test_hostile_record_parses_or_is_rejected_by_name(case: tuple[dict[str, Any], list[str]]) -> None:
    raw, paths = case
    try:
        tx = parse_transaction(raw, LA)
    except RecordParseError as err:
        assert isinstance(err.field, str) and err.field, err
        assert _related(err.field, paths), (err, paths)
        assert err.transaction_id == _expected_label(raw), (err, raw.get("transaction_id"))
        message = str(err)
        assert message.startswith(f"transaction {err.transaction_id}: field {err.field!r}: "), message
        assert not contains_pan(message) and SQL not in message and HUGE[:100] not in message
        assert len(message) < 300
        return
    # parsed: nothing silently changed about the record's identity, and no PAN survived
    assert isinstance(tx, Transaction)
    assert tx.transaction_id == int(raw["transaction_id"])
    for text in (tx.card_masked, tx.description, tx.customer_id, tx.invoice_id, tx.billing_name):
        assert not contains_pan(text)
    assert tx.amount.is_finite() and tx.amount == tx.amount.quantize(tx.amount.__class__("0.01"))


def test_sql_and_unicode_text_is_kept_literally() -> None:
    raw = dict(BASE_RECORDS[0], description=SQL, customer_id="Zoë'; --", invoice_id="東京-1")
    tx = parse_transaction(raw, LA)
    assert (tx.description, tx.customer_id, tx.invoice_id) == (SQL, "Zoë'; --", "東京-1")


def test_full_card_number_in_the_mask_field_is_refused_without_echo() -> None:
    raw = dict(BASE_RECORDS[0], credit_card={"masked_number": PAN})
    try:
        parse_transaction(raw, LA)
    except RecordParseError as err:
        assert err.field == "credit_card.masked_number" and PAN not in str(err)
    else:
        raise AssertionError("a full card number was accepted as a masked number")


@pytest.mark.parametrize("amount", [1e308, "1e30", 10**27, "99999999999999.99"])
def test_astronomic_amount_is_rejected_by_name(amount: object) -> None:
    raw = dict(BASE_RECORDS[0], amount=amount)
    try:
        parse_transaction(raw, LA)
    except RecordParseError as err:
        assert err.field == "amount"
    else:
        raise AssertionError("an amount no SL float column can hold was accepted")


@pytest.mark.parametrize("txid", [float("nan"), float("inf")])
def test_non_finite_transaction_id_is_rejected_by_name(txid: float) -> None:
    raw = dict(BASE_RECORDS[0], transaction_id=txid)
    try:
        parse_transaction(raw, LA)
    except RecordParseError as err:
        assert err.field == "transaction_id"
    else:
        raise AssertionError("a non-finite transaction id was accepted")
