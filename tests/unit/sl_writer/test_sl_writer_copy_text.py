"""COPY text rendering and column-wise row completion (the PostgreSQL bulk path's building blocks)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from paytrace_sl.sl import catalog
from paytrace_sl.sl.copy_text import lines, render, render_column
from paytrace_sl.sl.rows import SLValueError, complete_columns, complete_row


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "\\N"),
        ("a\tb\\c\nd\re", "a\\tb\\\\c\\nd\\re"),
        (True, "t"),
        (7, "7"),
        (0.1, "0.1"),
        (Decimal("12.30"), "12.30"),
        (dt.datetime(2025, 4, 1, 9, 5), "2025-04-01 09:05:00"),
        (dt.date(2025, 4, 1), "2025-04-01"),
    ],
)
def test_render_copy_text(value: object, text: str) -> None:
    assert render(value) == text


def test_render_refuses_zone_aware_and_unknown_types() -> None:
    with pytest.raises(TypeError, match="zone-aware"):
        render(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(TypeError, match="bytes"):
        render(b"x")


@pytest.mark.parametrize(
    "values",
    [
        ["x", "y\tz", "x"],
        ["plain", "text"],
        [1.5, 2.25, 1e-7, 3.0],
        [1, 2, 3, 4, 5],
        [None, "a", None],
        [dt.datetime(2025, 1, 1, 0, 1), dt.datetime(2025, 1, 2)] * 5,
        [Decimal("1.10")] * 9,
    ],
)
def test_render_column_equals_rendering_each_value(values: list[object]) -> None:
    assert render_column(values) == [render(v) for v in values]


def test_lines_append_constant_suffix() -> None:
    assert list(lines([["1", "2"], ["a", "b"]], [None, 0.0])) == ["1\ta\t\\N\t0.0\n", "2\tb\t\\N\t0.0\n"]


def test_complete_columns_gives_complete_row_values() -> None:
    rows: list[dict[str, object]] = [
        {"CustId": "C1  ", "OrigDocAmt": Decimal("1.5"), "DocDate": dt.date(2025, 4, 1)},
        {"CustId": "C2", "OrigDocAmt": 2, "DocDate": dt.date(2025, 4, 1)},
        {"OrigDocAmt": 3.25, "CustId": "", "DocDate": dt.datetime(2025, 4, 2, 10, 11, 12)},
    ]
    given, blanks = complete_columns(catalog.ARDoc, rows, include_identity=False)
    per_row = [complete_row(catalog.ARDoc, r, include_identity=False) for r in rows]
    for i, expected in enumerate(per_row):
        assert {**{k: v[i] for k, v in given}, **blanks} == expected


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("CustId", "C" * 16, "longer than char"),
        ("Rlsed", True, "needs an int"),
        ("OrigDocAmt", "1.00", "needs a number"),
        ("NoSuchColumn", "x", "not a writable column"),
    ],
)
def test_complete_columns_refuses_what_complete_row_refuses(column: str, value: object, problem: str) -> None:
    rows: list[dict[str, object]] = [{"CustId": "C1", "Rlsed": 0, "OrigDocAmt": 1.0} for _ in range(3)]
    rows[1] = {**rows[1], column: value}
    with pytest.raises(SLValueError, match=rf"ARDoc\.{column}: .*{problem}"):
        complete_columns(catalog.ARDoc, rows, include_identity=False)
