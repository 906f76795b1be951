"""validate's landing-file frame: the same frame as ``pd.DataFrame(rows)``, repeated strings folded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from paytrace_sl.pipeline.flows import payments
from paytrace_sl.pipeline.landing import Landing


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": 80_000_000 + i,
            "status": ("settled", "pending", "declined")[i % 3],
            "settled_at": None if i % 4 == 0 else "2025-04-01T20:01:35-07:00",
            "batch_number": None if i % 5 == 0 else 500 + i % 2,
            "description": f"Order {i}",
            "odd": ("x", 1, None, True, 2.5)[i % 5],  # mixed types: never folded, kept as they are
            "blank": "" if i % 2 else None,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_frame_is_the_frame_of_the_rows_at_any_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(payments, "_FRAME_CHUNK", chunk)
    landing = Landing(tmp_path, "run-frame")
    rows = _rows(23)
    landing.write_jsonl("tx.jsonl", rows)
    frame = payments._frame_from_jsonl(landing, "tx.jsonl")
    pd.testing.assert_frame_equal(frame, pd.DataFrame(list(landing.read_jsonl("tx.jsonl"))))


def test_equal_strings_of_a_chunk_share_one_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payments, "_FRAME_CHUNK", 10)
    landing = Landing(tmp_path, "run-fold")
    landing.write_jsonl("tx.jsonl", _rows(20))
    frame = payments._frame_from_jsonl(landing, "tx.jsonl")
    first_chunk = [v for v in frame["status"].iloc[:10] if v == "settled"]
    assert len(first_chunk) > 1 and len({id(v) for v in first_chunk}) == 1
    assert frame["settled_at"].isna().sum() == 5  # nulls stay nulls where the column has them


def test_rows_of_differing_shape_are_aligned_as_pandas_does(tmp_path: Path) -> None:
    landing = Landing(tmp_path, "run-shape")
    rows: list[dict[str, Any]] = [{"a": "x", "b": 1}, {"a": "y"}, {"b": 2, "a": "z"}]
    landing.write_jsonl("tx.jsonl", rows)
    expected = pd.DataFrame(list(landing.read_jsonl("tx.jsonl")))
    pd.testing.assert_frame_equal(payments._frame_from_jsonl(landing, "tx.jsonl"), expected)


def test_gx_frame_text_columns_are_categoricals_of_the_same_text() -> None:
    from paytrace_sl.pipeline import checks
    from paytrace_sl.pipeline.contracts import load_contract

    contract = load_contract("paytrace_transaction")
    source = pd.DataFrame(_rows(12)).drop(columns=["odd", "blank"])
    frame = checks._gx_frame(source, contract)
    for name in source.columns:
        column = frame[name]
        assert isinstance(column.dtype, pd.CategoricalDtype), name
        assert list(column.cat.categories) == list(dict.fromkeys(v for v in column if isinstance(v, str)))
        expected = checks._as_text(source[name])
        assert column.isna().tolist() == expected.isna().tolist(), name
        assert [v for v in column if isinstance(v, str)] == [v for v in expected if isinstance(v, str)], name
    assert frame["transaction_id__value"].dtype == "float64"
