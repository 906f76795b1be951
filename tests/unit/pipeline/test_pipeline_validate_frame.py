"""validate's landing-file frame (one builder): the same frame as ``pd.DataFrame(rows)``, equal strings
folded; with ``text_as_category`` text columns as categoricals of the same values, and the same frame for
GX as from the plain columns."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from paytrace_sl.pipeline import checks
from paytrace_sl.pipeline.contracts import load_contract
from paytrace_sl.pipeline.flows import payments
from paytrace_sl.pipeline.landing import Landing

CONTRACT = load_contract("paytrace_transaction")
ODD_COLUMNS = ("late_number", "late_text", "late_int", "huge", "odd", "nulls", "blank")


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": 80_000_000 + i,
            "status": ("settled", "pending", "declined")[i % 3],
            "settled_at": None if i % 4 == 0 else "2025-04-01T20:01:35-07:00",
            "batch_number": None if i % 5 == 0 else 500 + i % 2,
            "description": f"Order {i % 7}",
            "late_number": str(i) if i < 5 else i,  # text first, then an int: kept as plain values
            "late_text": i if i < 5 else str(i),  # an int first, then text: kept as plain values
            "late_int": None if i < 3 else i,  # nulls, then ints: float64 with NaN as pandas makes it
            "huge": 2**63 + i if i == 7 else i,  # beyond int64: pandas decides
            "odd": ("x", 1, None, True, 2.5)[i % 5],  # mixed types: kept as they are
            "nulls": None,
            "blank": "" if i % 2 else None,
        }
        for i in range(n)
    ]


def _frames(
    tmp_path: Path, rows: list[dict[str, Any]], *, text_as_category: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The builder's frame of ``rows`` landed, and ``pd.DataFrame`` of the landed rows."""
    landing = Landing(tmp_path, "run-frame")
    landing.write_jsonl("tx.jsonl", rows)
    return (
        payments._frame_from_jsonl(landing, "tx.jsonl", text_as_category=text_as_category),
        pd.DataFrame(list(landing.read_jsonl("tx.jsonl"))),
    )


@pytest.mark.parametrize("n", [0, 1, 2, 23, 200])
def test_frame_is_the_frame_of_the_rows(tmp_path: Path, n: int) -> None:
    frame, plain = _frames(tmp_path, _rows(n), text_as_category=False)
    pd.testing.assert_frame_equal(frame, plain)


def test_equal_strings_share_one_object(tmp_path: Path) -> None:
    frame, _ = _frames(tmp_path, _rows(20), text_as_category=False)
    settled = [v for v in frame["status"] if v == "settled"]
    assert len(settled) > 1 and len({id(v) for v in settled}) == 1
    assert frame["settled_at"].isna().sum() == 5  # nulls stay nulls where the column has them


@pytest.mark.parametrize("text_as_category", [False, True])
def test_rows_of_differing_shape_give_the_frame_pandas_gives(tmp_path: Path, text_as_category: bool) -> None:
    rows: list[dict[str, Any]] = [{"a": "x", "b": 1}, {"a": "y"}, {"b": 2, "a": "z"}]
    frame, plain = _frames(tmp_path, rows, text_as_category=text_as_category)
    pd.testing.assert_frame_equal(frame, plain)


def test_text_columns_are_categoricals_of_the_same_values(tmp_path: Path) -> None:
    frame, plain = _frames(tmp_path, _rows(23))
    assert list(frame.columns) == list(plain.columns)
    for name in ("status", "settled_at", "description", "blank"):
        column = frame[name]
        assert isinstance(column.dtype, pd.CategoricalDtype), name
        # categories: each distinct value once, in order of first appearance, none unused
        assert list(column.cat.categories) == list(dict.fromkeys(plain[name].dropna()))
        pd.testing.assert_series_equal(column.astype(plain[name].dtype), plain[name])
    for name in ("transaction_id", "batch_number", *ODD_COLUMNS[:-1]):
        pd.testing.assert_series_equal(frame[name], plain[name])


def test_gx_frame_text_columns_are_categoricals_of_the_same_text() -> None:
    source = pd.DataFrame(_rows(12)).drop(columns=list(ODD_COLUMNS))
    frame = checks._gx_frame(source, CONTRACT)
    for name in source.columns:
        column = frame[name]
        assert isinstance(column.dtype, pd.CategoricalDtype), name
        assert list(column.cat.categories) == list(dict.fromkeys(v for v in column if isinstance(v, str)))
        expected = checks._as_text(source[name])
        assert column.isna().tolist() == expected.isna().tolist(), name
        assert [v for v in column if isinstance(v, str)] == [v for v in expected if isinstance(v, str)], name
    assert frame["transaction_id__value"].dtype == "float64"


@pytest.mark.parametrize("pan_row", [0, 5, 11])
def test_gx_frame_of_the_categorical_frame_is_that_of_the_plain_frame(tmp_path: Path, pan_row: int) -> None:
    rows = [dict(r) for r in _rows(12)]
    for i, row in enumerate(rows):
        for name in ODD_COLUMNS:
            del row[name]
        row["card_masked"] = "411111******1111" if i % 2 else "************1111"
        row["amount"] = f"{10 + i % 3}.00"
    rows[pan_row]["card_masked"] = "4111111111111111"  # off the mask pattern: redacted
    rows[pan_row]["description"] = "card 5555-5555-5555-4444 on file"  # a PAN in free text: marked
    rows[3]["amount"] = "12.0O"  # not a number: NaN in the numeric companion
    rows[4]["description"] = None
    safe = [
        dict(r, card_masked="************1111", description="") if i == pan_row else r
        for i, r in enumerate(rows)
    ]
    frame, _ = _frames(tmp_path, safe)  # landing refuses a card number: put it in afterwards
    plain = pd.DataFrame(rows)[list(frame.columns)]  # landing writes keys sorted
    for name in ("card_masked", "description"):
        column = frame[name].cat.add_categories([rows[pan_row][name]])
        column[pan_row] = rows[pan_row][name]
        frame[name] = column.cat.remove_unused_categories()
        assert isinstance(frame[name].dtype, pd.CategoricalDtype)
    expected = checks._gx_frame(plain, CONTRACT)
    got = checks._gx_frame(frame, CONTRACT)
    pd.testing.assert_frame_equal(got, expected)
    for name in got.columns:
        if isinstance(got[name].dtype, pd.CategoricalDtype):
            assert list(got[name].cat.categories) == list(expected[name].cat.categories), name
    assert "4111111111111111" not in set(got["card_masked"].dropna())
    assert got.at[pan_row, "description"] == "card [PAN REDACTED] on file"


def test_a_categorical_not_in_order_of_appearance_is_read_as_its_values() -> None:
    source = pd.DataFrame(
        {
            "status": pd.Categorical(
                ["pending", "settled", None, "pending"], categories=["settled", "pending", "x"]
            ),
            "transaction_id": [1, 2, 3, 4],
        }
    )
    plain = pd.DataFrame({"status": ["pending", "settled", None, "pending"], "transaction_id": [1, 2, 3, 4]})
    got = checks._gx_frame(source, CONTRACT)
    pd.testing.assert_frame_equal(got, checks._gx_frame(plain, CONTRACT))
    assert list(got["status"].cat.categories) == ["pending", "settled"]


def test_amount_total_of_a_categorical_column_is_that_of_its_values() -> None:
    values = ["10.00", None, "2.50", "10.00", "x"]
    plain = pd.Series(values, dtype=object)
    category = pd.Series(pd.Categorical(values))
    # a null is no amount (NaN would make the total NaN), an unreadable value is skipped, as for plain text
    assert checks._decimal_sum(category) == checks._decimal_sum(plain) == Decimal("22.50")
