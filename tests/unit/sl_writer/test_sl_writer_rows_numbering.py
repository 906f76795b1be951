"""Row completion (SL blanks, no silent truncation, smalldatetime) and SL's number sequences."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from paytrace_sl.sl import catalog
from paytrace_sl.sl.numbering import NumberingError, increment
from paytrace_sl.sl.rows import SLValueError, complete_row, money, to_smalldatetime


def test_complete_row_fills_every_column_with_sl_blanks() -> None:
    row = complete_row(catalog.ARDoc, {"CustId": "C100", "OrigDocAmt": 1.5}, include_identity=False)
    assert len(row) == len(catalog.ARDoc.columns) - 1  # all but tstamp
    assert row["CustId"] == "C100" and row["OrigDocAmt"] == 1.5
    assert row["TaskID"] == " " and row["Rlsed"] == 0 and row["DocDate"] == dt.datetime(1900, 1, 1)
    assert None not in row.values()
    artran = complete_row(catalog.ARTran, {}, include_identity=False)
    assert "RecordID" not in artran and "tstamp" not in artran
    assert "RecordID" in complete_row(catalog.ARTran, {}, include_identity=True)


def test_too_long_value_names_table_column_and_value() -> None:
    with pytest.raises(
        SLValueError, match=r"ARDoc\.RefNbr: longer than char\(10\) \(11 characters\).*12345678901"
    ):
        complete_row(catalog.ARDoc, {"RefNbr": "12345678901"}, include_identity=False)
    # Trailing blanks are SL padding, not content.
    assert (
        complete_row(catalog.ARDoc, {"RefNbr": "0123456789   "}, include_identity=False)["RefNbr"]
        == "0123456789"
    )


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("CustId", None, "NOT NULL"),
        ("CustId", 5, "needs a str"),
        ("Rlsed", 70000, "outside smallint"),
        ("Rlsed", True, "needs an int"),
        ("OrigDocAmt", "1.00", "needs a number"),
        ("DocDate", dt.date(2079, 6, 7), "outside smalldatetime"),
        ("DocDate", dt.date(1899, 12, 31), "outside smalldatetime"),
        ("NoSuchColumn", "x", "not a writable column"),
        ("tstamp", b"x", "not a writable column"),
    ],
)
def test_bad_values_refused(column: str, value: object, problem: str) -> None:
    with pytest.raises(SLValueError, match=problem):
        complete_row(catalog.ARDoc, {column: value}, include_identity=False)


def test_smalldatetime_minute_precision_and_zone_rule() -> None:
    assert to_smalldatetime(dt.datetime(2024, 3, 15, 10, 11, 59, 999)) == dt.datetime(2024, 3, 15, 10, 11)
    assert to_smalldatetime(dt.date(2079, 6, 6)) == dt.datetime(2079, 6, 6)
    with pytest.raises(SLValueError, match="time zone"):
        to_smalldatetime(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("amount", "decimals", "expected"),
    [
        (Decimal("10.005"), 2, 10.01),
        (Decimal("10.004"), 2, 10.0),
        (Decimal("-0.125"), 2, -0.13),
        (Decimal("5.5"), 0, 6.0),
        (Decimal("0.1") + Decimal("0.2"), 2, 0.3),
    ],
)
def test_money_rounds_half_up_to_currency_decimals(amount: Decimal, decimals: int, expected: float) -> None:
    assert money(amount, decimals) == expected


@pytest.mark.parametrize(
    ("last", "nxt"),
    [("000100", "000101"), ("0099", "0100"), ("  000009 ", "000010"), ("", "000001"), ("7", "8")],
)
def test_increment_keeps_width_like_pp_nextglbatnbr(last: str, nxt: str) -> None:
    assert increment(last) == nxt


@pytest.mark.parametrize("last", ["999999", "AB0001"])
def test_increment_refuses_overflow_and_non_numeric(last: str) -> None:
    with pytest.raises(NumberingError):
        increment(last)
