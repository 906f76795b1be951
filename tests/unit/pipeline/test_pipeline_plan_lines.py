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
from pipeline_tx_builders import tx

from paytrace_sl.paytrace.records import TransactionState
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
from paytrace_sl.pipeline.sl_context import LedgerEntry, OpenInvoice, SLContext
from paytrace_sl.pipeline.transform import _frame, build_plan, records_frame
from paytrace_sl.plan import (
    Account,
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.review.store import payer_details
from paytrace_sl.sl.writer import BatchResult, ItemOutcome, WriteResult

VISA = "4111111111111111"  # Luhn-valid test PAN
CLEARING = Account("1050", "000000")


def _payments(first: int, count: int) -> tuple[PlannedPayment, ...]:
    return tuple(
        PlannedPayment(
            transaction_id=i,
            cust_id=f"C{i:03d}",
            amount=Decimal("12.34"),
            doc_date=dt.date(2025, 3, 9),
            cash_account=CLEARING,
            applications=(InvoiceApplication(f"INV{i}", Decimal("12.34")),) if i % 2 else (),
            description=f"PayTrace sale {i}",
            review_reason="" if i % 3 else "order_not_invoiced: x",
            paytrace_state="settled",
            paytrace_type="SALE",
            customer_digest=f"d{i}",
        )
        for i in range(first, first + count)
    )


def _plan() -> PostingPlan:
    return PostingPlan(
        batches=(
            PlannedBatch(PostingKind.PAYMENT, "0010", _payments(1, 39), description="PT payments #1"),
            PlannedBatch(PostingKind.PAYMENT, "0010", _payments(40, 3), description="PT payments #2"),
            PlannedBatch(
                PostingKind.REFUND,
                "0020",
                (
                    PlannedRefund(
                        transaction_id=77,
                        cust_id="C1",
                        amount=Decimal("1.00"),
                        doc_date=dt.date(2025, 3, 9),
                        clearing_account=CLEARING,
                        refund_account=Account("2000", "x"),
                        reverses_invoice="INV1",
                    ),
                ),
                status="B",
                per_post="202503",
            ),
            PlannedBatch(PostingKind.VOID, "0010", (PlannedVoid(5, dt.date(2025, 3, 10), "void 5"),)),
            PlannedBatch(PostingKind.PAYMENT, "0030", ()),  # an empty batch survives the trip too
            PlannedBatch(
                PostingKind.SETTLEMENT,
                "0010",
                (PlannedSettlement(9, dt.date(2025, 3, 9), Decimal("-0.01"), CLEARING, Account("1000", "")),),
            ),
        )
    )


# ------------------------------------------------------------------------------------ landing


@pytest.mark.parametrize("chunk", [1, 7, 5000])
def test_plan_lines_round_trip_equals_the_single_document_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(landing, "_JSONL_CHUNK", chunk)
    plan = _plan()
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
    plan = _plan()
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
    plan = _plan()
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
    plan = _plan()
    bad_batch = PlannedBatch(PostingKind.PAYMENT, "0010", (), description=f"card {VISA}")
    bad_item = PlannedBatch(
        PostingKind.PAYMENT, "0010", (*_payments(100, 5), PlannedVoid(1, dt.date(2025, 3, 1), VISA))
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
    target.write_plan_lines("plan.jsonl", PostingPlan(batches=_plan().batches[3:4]))
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
        target.write_plan_lines("plan.jsonl", _plan())
    assert target.path("plan.jsonl").read_bytes() == before  # no half plan: the old file, untouched
    assert [p.name for p in target.dir.iterdir()] == ["plan.jsonl"]  # no temp file left behind


@pytest.mark.parametrize("cut", ["last_line", "mid_batch", "header_only", "extra_line", "counts"])
def test_a_plan_file_cut_short_or_altered_is_refused(tmp_path: Path, cut: str) -> None:
    target = Landing(tmp_path, "r")
    target.write_plan_lines("plan.jsonl", _plan())
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
    plan = PostingPlan(batches=_plan().batches[:4])
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


def _records() -> list[Any]:
    return [
        tx(1, invoice_id="INV-1", amount="100.00", billing_name="Ann Lee"),
        tx(2, invoice_id="INV-1", amount="60.00"),
        tx(3, customer_id="vault-9", invoice_id="INV-2", amount="5.00"),
        tx(4, customer_id="", invoice_id="INV-2"),
        tx(5, customer_id="nobody", billing_name="Bo Ray", invoice_id="X-9", amount="7.10"),
        tx(6, status=TransactionState.DECLINED),
        tx(7, transaction_type="AUTHORIZATION", status=TransactionState.AUTHORIZED),
        tx(8, transaction_type="REFUND", amount="3.00"),
        tx(9, amount="0.00"),
        tx(10, status=TransactionState.VOIDED),
        tx(11),
        tx(12, transaction_type="REFUND", status=TransactionState.VOIDED),
        tx(13, invoice_id="SO-404"),
        tx(14, customer_id="nobody-else", transaction_type="CAPTURE", status=TransactionState.PENDING),
    ]


def test_records_frame_gives_the_plan_outcomes_and_details_of_the_records() -> None:
    mapping = load_mapping()
    ctx = SLContext.build(
        cpny_id="0010",
        customers=["C100", "C200", "C300"],
        xref={"vault-9": "C200", "": "C300"},
        invoices=[
            OpenInvoice("INV-1", "C100", Decimal("150.00")),
            OpenInvoice("INV-2", "C200", Decimal("5.00")),
        ],
        ledger={
            10: LedgerEntry(kinds={"payment": "posted"}, paytrace_state="pending"),
            11: LedgerEntry(kinds={"payment": "posted"}, paytrace_state="settled"),
            12: LedgerEntry(kinds={"refund": "posted"}, paytrace_state="settled"),
        },
    )
    records = _records()
    frame = records_frame(r.to_json_dict() for r in records)
    pd.testing.assert_frame_equal(frame.drop(columns=["billing_name"]), _frame(records))
    window = (dt.datetime(2025, 4, 10, tzinfo=dt.UTC), dt.datetime(2025, 4, 11, tzinfo=dt.UTC))
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
    items = [item for batch in _plan().batches for item in batch.items]
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
    plan = _plan()

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
