"""The plan landed as JSON lines and read back one batch at a time (issue 17), and the transform's
column-wise record frame: the same plan, outcomes and payer details as the object path."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pipeline_tx_builders import (
    CLEARING,
    WINDOW,
    planned_payments,
    sample_context,
    sample_plan,
    sample_records,
)

from paytrace_sl.pipeline import landing
from paytrace_sl.pipeline.flows.payments import (
    _frame_facts,
    outcome_lists,
    transform_outcome,
    write_counts,
    write_plan_batches,
)
from paytrace_sl.pipeline.landing import Landing, LandingError, decode_plan, encode_plan
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.transform import _frame, build_plan, records_frame
from paytrace_sl.plan import (
    PlannedBatch,
    PlannedPayment,
    PlannedVoid,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.review.store import payer_details
from paytrace_sl.sl.writer import BatchResult, ItemOutcome, WriteResult

VISA = "4111111111111111"  # Luhn-valid test PAN


# ------------------------------------------------------------------------------------ landing


@pytest.mark.parametrize("chunk", [1, 7, 5000])
def test_plan_lines_round_trip_equals_the_single_document_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(landing, "_JSONL_CHUNK", chunk)
    plan = sample_plan()
    target = Landing(tmp_path, "r")
    target.write_plan("plan.json", plan)
    target.write_plan_lines("plan.jsonl", plan)
    old = decode_plan(target.read_json("plan.json"))
    reader = target.read_plan("plan.jsonl")
    assert not reader.legacy
    assert reader.cpny_ids == ("0010", "0020", "0030")
    assert (reader.batch_count, reader.item_count) == (6, 45)
    new = reader.plan()
    assert new == old == plan
    assert encode_plan(new) == encode_plan(old)  # fields outside ==/repr (paytrace_state…) too
    # one line per item plus a head per batch, a header and a closing line
    assert len(target.path("plan.jsonl").read_text().splitlines()) == 1 + 6 + 45 + 1
    empty = Landing(tmp_path, "e")
    empty.write_plan_lines("plan.jsonl", PostingPlan())
    assert empty.read_plan("plan.jsonl").plan() == PostingPlan()
    assert empty.read_plan("plan.jsonl").cpny_ids == ()


def test_read_plan_reads_a_plan_landed_as_one_document(tmp_path: Path) -> None:
    """A run that stopped across the upgrade has plan.json from the old transform: load still reads it."""
    plan = sample_plan()
    target = Landing(tmp_path, "r")
    target.write_plan("plan.json", plan)
    reader = target.read_plan("plan.json")
    assert reader.legacy
    assert reader.cpny_ids == ("0010", "0020", "0030")
    assert list(reader.batches()) == list(plan.batches)
    small = PostingPlan(batches=plan.batches[3:4])
    target.write_json("small.json", encode_plan(small))  # write_json indents a small document
    assert target.read_plan("small.json").plan() == small


def test_batches_come_one_at_a_time_in_plan_order(tmp_path: Path) -> None:
    plan = sample_plan()
    target = Landing(tmp_path, "r")
    target.write_plan_lines("plan.jsonl", plan)
    batches = target.read_plan("plan.jsonl").batches()
    first = next(batches)
    assert first == plan.batches[0]
    assert [b.description for b in batches] == [b.description for b in plan.batches[1:]]


def test_write_plan_lines_refuses_a_card_number_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing, "_JSONL_CHUNK", 3)
    plan = sample_plan()
    bad_batch = PlannedBatch(PostingKind.PAYMENT, "0010", (), description=f"card {VISA}")
    bad_item = PlannedBatch(
        PostingKind.PAYMENT, "0010", (*planned_payments(100, 5), PlannedVoid(1, dt.date(2025, 3, 1), VISA))
    )
    target = Landing(tmp_path, "r")
    for poisoned in (
        PostingPlan(batches=(*plan.batches, bad_batch)),
        PostingPlan(batches=(bad_batch, *plan.batches)),
        PostingPlan(batches=(*plan.batches[:2], bad_item)),
    ):
        with pytest.raises(LandingError, match="unmasked card number"):
            target.write_plan_lines("plan.jsonl", poisoned)
        assert list(target.dir.iterdir()) == []


def test_a_crash_mid_write_leaves_the_previous_plan_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing, "_JSONL_CHUNK", 2)
    target = Landing(tmp_path, "r")
    target.write_plan_lines("plan.jsonl", PostingPlan(batches=sample_plan().batches[3:4]))
    before = target.path("plan.jsonl").read_bytes()
    encode = landing.encode_plan_value
    seen: list[Any] = []

    def dying(value: Any) -> Any:
        seen.append(value)
        if len(seen) > 20:
            raise KeyboardInterrupt("killed mid-write")
        return encode(value)

    monkeypatch.setattr(landing, "encode_plan_value", dying)
    with pytest.raises(KeyboardInterrupt):
        target.write_plan_lines("plan.jsonl", sample_plan())
    assert target.path("plan.jsonl").read_bytes() == before  # no half plan: the old file, untouched
    assert [p.name for p in target.dir.iterdir()] == ["plan.jsonl"]  # no temp file left behind


@pytest.mark.parametrize("cut", ["last_line", "mid_batch", "header_only", "extra_line", "counts"])
def test_a_plan_file_cut_short_or_altered_is_refused(tmp_path: Path, cut: str) -> None:
    target = Landing(tmp_path, "r")
    target.write_plan_lines("plan.jsonl", sample_plan())
    path = target.path("plan.jsonl")
    lines = path.read_text().splitlines(keepends=True)
    if cut == "last_line":
        lines = lines[:-1]
    elif cut == "mid_batch":
        lines = lines[:20]
    elif cut == "header_only":
        lines = lines[:1]
    elif cut == "extra_line":
        lines = [*lines, lines[-2]]
    else:
        lines[-1] = lines[-1].replace('"items":45', '"items":44')
    path.write_text("".join(lines))
    reader = target.read_plan("plan.jsonl")
    with pytest.raises(LandingError, match="incomplete or inconsistent"):
        list(reader.batches())


def test_an_unknown_line_format_is_refused(tmp_path: Path) -> None:
    target = Landing(tmp_path, "r")
    target.dir.mkdir(parents=True)
    target.path("plan.jsonl").write_text('{"__plan__":"paytrace-sl plan lines 99","batches":0}\n')
    with pytest.raises(LandingError, match="plan lines 99"):
        target.read_plan("plan.jsonl")
    with pytest.raises(LandingError, match="not found"):
        target.read_plan("missing.jsonl")


# ------------------------------------------------------------------------------------ load


class _Writer:
    """Records what the load step asks of the SL writer (its public API only)."""

    pending_cache = True

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def write_batches(self, cpny_ids: Any, batches: Any, *, keep_outcomes: bool, refs: Any) -> WriteResult:
        """SLWriter.write_batches' contract as the load step relies on it (prepare first, then in order)."""
        self.calls.append(("refs", sorted(refs)))
        self.prepare(cpny_ids)
        result = WriteResult()
        for batch in batches:
            written = self.write_batch(batch)
            result.batches.append(written if keep_outcomes else dataclasses.replace(written, outcomes={}))
        return result

    def prepare(self, cpny_ids: Any) -> None:
        self.calls.append(("prepare", tuple(cpny_ids)))

    def write_batch(self, batch: PlannedBatch) -> BatchResult:
        self.calls.append(("batch", batch.description))
        result = BatchResult(kind=str(batch.kind), cpny_id=batch.cpny_id, module="AR", bat_nbr="000123")
        for item in batch.items:
            result.add(ItemOutcome(item.ledger_key, "posted"))
        result.posted = len(batch.items)
        return result


def test_write_plan_batches_prepares_first_then_writes_each_batch_in_order(tmp_path: Path) -> None:
    plan = PostingPlan(batches=sample_plan().batches[:4])
    target = Landing(tmp_path, "r")
    target.write_plan_lines("plan.jsonl", plan)
    reader = target.read_plan("plan.jsonl")
    writer = _Writer()
    result = write_plan_batches(writer, reader)
    refs = sorted({a.ref_nbr for b in plan.batches for i in b.items for a in getattr(i, "applications", ())})
    assert refs  # the plan applies to invoices: the cheap pass must find them all
    assert writer.calls == [
        ("refs", refs),
        ("prepare", ("0010", "0020")),
        *[("batch", b.description) for b in plan.batches],
    ]
    assert result.posted == 39 + 3 + 1 + 1
    assert all(b.outcomes == {} for b in result.batches)  # per-item outcomes not kept
    counts, batches = write_counts(result)
    assert counts.posted == 44 and counts.sl_batches == len(batches) == 4


# ------------------------------------------------------------------------------------ transform


def test_records_frame_gives_the_plan_outcomes_and_details_of_the_records() -> None:
    mapping, ctx, window = load_mapping(), sample_context(), WINDOW
    records = sample_records()
    frame = records_frame(r.to_json_dict() for r in records)
    pd.testing.assert_frame_equal(frame.drop(columns=["billing_name"]), _frame(records))
    from_records = build_plan(records, ctx, mapping, window=window)
    from_frame = build_plan(frame, ctx, mapping, window=window)
    assert encode_plan(from_records.plan) == encode_plan(from_frame.plan)
    pd.testing.assert_frame_equal(from_records.outcomes, from_frame.outcomes)
    assert from_frame.review and from_frame.skipped
    outcome = outcome_lists(from_frame, *_frame_facts(frame, from_frame))
    assert outcome == transform_outcome(from_records, records)
    assert {r["transaction_id"]: r["details"] for r in outcome["review"]} == {
        t.transaction_id: payer_details(t) for t in records if t.transaction_id in from_records.review
    }
    assert records_frame(iter(())).empty


def test_item_lines_are_the_tagged_json_of_encode_plan_value() -> None:
    """The C-encoder fast path writes, and the object-hook decoder reads, exactly the generic codec's JSON."""
    encode = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
    items = [item for batch in sample_plan().batches for item in batch.items]
    items.append(PlannedPayment(1, "C", Decimal("1.00"), dt.date(2025, 1, 1), CLEARING, ar_account=CLEARING))
    for item in items:
        line = landing._ITEM_ENCODER.encode(item)
        assert line == encode(landing.encode_plan_value(item))
        decoded = landing._ITEM_DECODER.decode(line)
        assert decoded == landing.decode_plan_value(json.loads(line)) == item
        assert landing.encode_plan_value(decoded) == landing.encode_plan_value(item)


def test_a_plan_source_whose_batches_do_not_match_its_counts_lands_nothing(tmp_path: Path) -> None:
    """A streamed plan announces its counts in the header before its batches are built: one that then
    yields other batches is refused and no file is left behind."""
    plan = sample_plan()

    class Lying:
        batch_count, item_count, cpny_ids = plan.batch_count, plan.item_count + 1, plan.cpny_ids

        def iter_batches(self) -> Any:
            return iter(plan.batches)

    target = Landing(tmp_path, "r")
    with pytest.raises(LandingError, match="announced"):
        target.write_plan_lines("plan.jsonl", Lying())
    assert list(target.dir.iterdir()) == []
    target.write_plan_lines("plan.jsonl", plan)  # a PostingPlan is a PlanSource too
    assert target.read_plan("plan.jsonl").plan() == plan
