"""The fast paths of transform, landing, PAN scan and the GX frame give exactly what the plain ones give."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pipeline_tx_builders import WINDOW, sample_context, sample_plan, sample_records

from paytrace_sl.pipeline import checks, landing
from paytrace_sl.pipeline.landing import Landing, LandingError, decode_plan, encode_plan
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.transform import TransformError, _cents, _cents_column, build_plan
from paytrace_sl.plan import (
    PlannedBatch,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.redaction import contains_pan, find_pans

VISA = "4111111111111111"  # Luhn-valid test PAN

# ------------------------------------------------------------------------------------------ PAN scan


@pytest.mark.parametrize(
    "text",
    [
        "",
        VISA,
        f"x{VISA}y",
        f"amount 12.{VISA}",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "3782 822463 10005",  # Amex grouping
        f"1{VISA}",  # 17 digits, not Luhn-valid as a whole
        f"----    {VISA}    ----",
        "2025-04-01 2025-04-02 2025-04-03",
        "４１１１１１１１１１１１１１１１",  # full-width digits: \\d matches them, so find_pans does too
        f"line one\n{VISA[:8]}\n{VISA[8:]}",  # split by a line break: not a card
        "5555555555554444 and 4000000000000002",
        "12345678901234567890123",  # too long a run
    ],
)
def test_contains_pan_agrees_with_find_pans_on_examples(text: str) -> None:
    assert contains_pan(text) is bool(find_pans(text))


def test_contains_pan_agrees_with_find_pans_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = "0123456789" * 6 + '  --\n.abc:"{}٣'
    pans = [VISA, "5555555555554444", "378282246310005", "6011111111111117", "4111 1111 1111 1111"]
    for _ in range(3000):
        parts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))]
        if rng.random() < 0.3:
            parts.insert(rng.randint(0, 1), rng.choice(pans))
        text = "".join(parts)
        assert contains_pan(text) is bool(find_pans(text)), text


# ------------------------------------------------------------------------------------------ landing


@pytest.mark.parametrize("chunk", [1, 7, 5000])
def test_write_plan_writes_the_document_write_json_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(landing, "_JSONL_CHUNK", chunk)
    plan = sample_plan()
    target = Landing(tmp_path, "r")
    target.write_json("a.json", encode_plan(plan))
    target.write_plan("b.json", plan)
    assert (
        target.read_json("b.json") == target.read_json("a.json") == json.loads(json.dumps(encode_plan(plan)))
    )
    decoded = decode_plan(target.read_json("b.json"))
    assert decoded == plan
    assert [i.paytrace_state for i in decoded.batches[0].items] == ["settled"] * 39  # type: ignore[union-attr]
    empty = Landing(tmp_path, "e")
    empty.write_plan("plan.json", PostingPlan())
    assert decode_plan(empty.read_json("plan.json")) == PostingPlan()


def test_write_plan_refuses_a_card_number_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing, "_JSONL_CHUNK", 3)
    plan = sample_plan()
    bad = PlannedBatch(kind=PostingKind.PAYMENT, cpny_id="0010", items=(), description=f"card {VISA}")
    target = Landing(tmp_path, "r")
    for poisoned in (PostingPlan(batches=(*plan.batches, bad)), PostingPlan(batches=(bad, *plan.batches))):
        with pytest.raises(LandingError, match="unmasked card number"):
            target.write_plan("plan.json", poisoned)
        assert not target.exists("plan.json")
        assert list(target.dir.iterdir()) == []


def test_write_jsonl_streams_in_chunks_and_refuses_a_card_in_any_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing, "_JSONL_CHUNK", 4)
    target = Landing(tmp_path, "r")
    rows = [{"transaction_id": i, "amount": Decimal("1.10"), "at": dt.date(2025, 1, 1)} for i in range(10)]
    assert target.write_jsonl("t.jsonl", iter(rows)) == 10
    assert list(target.read_jsonl("t.jsonl")) == [
        {"transaction_id": i, "amount": "1.10", "at": "2025-01-01"} for i in range(10)
    ]
    assert target.path("t.jsonl").read_text().count("\n") == 10
    assert target.write_jsonl("empty.jsonl", []) == 0
    assert target.path("empty.jsonl").read_text() == ""
    with pytest.raises(LandingError, match="unmasked card number"):
        target.write_jsonl("bad.jsonl", [*rows, {"note": f"card {VISA}"}])
    assert not target.exists("bad.jsonl")
    assert sorted(p.name for p in target.dir.iterdir()) == ["empty.jsonl", "t.jsonl"]


def test_write_json_indents_small_files_and_keeps_large_ones_compact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = Landing(tmp_path, "r")
    data = {"b": [1, 2], "a": Decimal("1.5")}
    target.write_json("small.json", data)
    assert target.path("small.json").read_text() == json.dumps(
        {"a": "1.5", "b": [1, 2]}, indent=1, sort_keys=True
    )
    monkeypatch.setattr(landing, "_INDENT_LIMIT", 5)
    target.write_json("large.json", data)
    assert target.path("large.json").read_text() == '{"a":"1.5","b":[1,2]}'
    with pytest.raises(LandingError, match="unmasked card number"):
        target.write_json("bad.json", {"x": VISA})


# ---------------------------------------------------------------------------------------- transform


def test_cents_column_is_cents_per_row_and_names_the_first_bad_row() -> None:
    amounts = pd.Series(["1.10", "1.10", "0.00", "12", Decimal("3.5"), 7, "1.10"], dtype=object)
    tids = pd.Series(range(1, 8))
    assert _cents_column(amounts, tids) == [_cents(v, t) for v, t in zip(amounts, tids, strict=True)]
    with pytest.raises(TransformError, match=r"transaction 3: amount '1\.005'"):
        _cents_column(pd.Series(["1.00", "2.00", "1.005", "1.005"], dtype=object), pd.Series([1, 2, 3, 4]))
    with pytest.raises(TransformError, match="transaction 2: amount 'abc'"):
        _cents_column(pd.Series(["1.00", "abc"], dtype=object), pd.Series([1, 2]))


def test_records_and_their_json_rows_give_the_same_plan_and_outcomes() -> None:
    mapping, ctx, window, records = load_mapping(), sample_context(), WINDOW, sample_records()
    from_records = build_plan(records, ctx, mapping, window=window)
    from_rows = build_plan(pd.DataFrame([r.to_json_dict() for r in records]), ctx, mapping, window=window)
    assert encode_plan(from_records.plan) == encode_plan(from_rows.plan)
    assert from_records.skipped == from_rows.skipped
    assert from_records.review == from_rows.review
    assert from_records.already_posted == from_rows.already_posted == (11,)
    pd.testing.assert_frame_equal(from_records.outcomes, from_rows.outcomes)
    assert {r.code for r in from_records.review.values()} == {"unknown_customer"}
    assert from_records.posted + len(from_records.already_posted) + len(from_records.skipped) + len(
        from_records.review
    ) == len(records)


# --------------------------------------------------------------------------------------- GX frame


def _slow_as_text(series: pd.Series) -> pd.Series:
    """The per-value rule the vectorised branch of ``_as_text`` must agree with."""
    return series.map(checks._value_text).astype("str")


@pytest.mark.parametrize(
    "values",
    [
        ["a", None, "b"],
        ["a", float("nan"), ""],
        ["x", pd.NA, "y"],
        [None, None],
        [" 4111 ", None, "é"],
        ["a", 1, None],  # mixed: the per-value path
        [dt.date(2025, 1, 1), "x"],
    ],
)
def test_as_text_fast_path_matches_the_per_value_path(values: list[Any]) -> None:
    series = pd.Series(values, dtype=object)
    pd.testing.assert_series_equal(checks._as_text(series), _slow_as_text(series))


def _float_text(v: float) -> str | None:
    """``_as_text``'s rule for one value of a float column (ints stay ints)."""
    if pd.isna(v):
        return None
    return str(int(v)) if float(v).is_integer() else repr(float(v))


@pytest.mark.parametrize(
    "values",
    [
        [501.0, None, 502.0],  # an integer column with nulls (batch_number): whole floats
        [1.5, None, 2.0],
        [float("inf"), 1.0],
        [-0.0, 2.0**60, None, 2.0**53 - 1],
        [None, None],
        [],
    ],
)
def test_as_text_of_float_columns_matches_the_per_value_rule(values: list[Any]) -> None:
    series = pd.Series(values, dtype="float64")
    expected = series.map(_float_text).astype("str")
    pd.testing.assert_series_equal(checks._as_text(series), expected)
