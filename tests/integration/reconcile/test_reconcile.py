"""Reconciliation against a real SL replica written by the real writer, one crafted case per exception."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from mapping_examples import TWO_CLEARING_MAPPING
from reconcile_world import D1, END, NOW, START, World, batch_of, tx

from paytrace_sl.paytrace.records import BrandTotals
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.settlement import plan_settlements
from paytrace_sl.plan import Account, PlannedBatch, PlannedPayment, PostingKind, PostingPlan
from paytrace_sl.reconcile.engine import ReconOptions, reconcile
from paytrace_sl.reconcile.settled_batch import reconcile_and_save, reconcile_settlement_batch
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTRecon
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

OPTS = ReconOptions(pending_days=3, hold_days=5, expect_settlement=True)


def test_clean_world_matches(clean_world: World) -> None:
    report = reconcile(clean_world.engine, START, END, landing_dir=clean_world.landing, options=OPTS, now=NOW)
    assert report.source == "landing"
    assert [b.status for b in report.batches] == ["matched"]
    rec = report.batches[0]
    assert (rec.paytrace.net, rec.posted.net, rec.settlement_posted) == (rec.paytrace.net,) * 3
    assert str(rec.paytrace.net) == "130.00"
    kinds = {e.kind for e in report.exceptions}
    assert kinds <= {"refunded_after_posting"}  # informational, explained
    assert report.ok


def test_every_exception_kind(messy_world: World) -> None:
    report = reconcile(messy_world.engine, START, END, landing_dir=messy_world.landing, options=OPTS, now=NOW)
    by = {(e.kind, e.transaction_id): e for e in report.exceptions}
    kinds = Counter(e.kind for e in report.exceptions)
    # Unexplained, one per crafted case.
    assert not by[("missing_in_sl", 2008)].explained
    assert not by[("edited_in_sl", 2009)].explained
    assert ("edited_in_sl", 2007) not in by  # the void's own ledger row is not an SL document
    assert not by[("deleted_in_sl", 2010)].explained
    assert not by[("amount_differs", 2011)].explained
    assert not by[("closed_period", 2012)].explained
    assert not by[("missing_in_paytrace", 9999)].explained
    assert not by[("pending_too_long", 2006)].explained
    assert (
        kinds["hold_too_long"] == 1
        and not next(e for e in report.exceptions if e.kind == "hold_too_long").explained
    )
    # Explained by our own tables.
    assert by[("missing_in_sl", 2004)].explained and "review" in by[("missing_in_sl", 2004)].reason
    # The advice names commands that exist: the review workbench for the item, or fix and replay that day.
    advice = by[("missing_in_sl", 2004)].action
    assert "paytrace-sl replay --start 2025-04-02 --end 2025-04-03" in advice
    from typer.main import get_command

    from paytrace_sl.cli import app

    review_cmds = get_command(app).commands["review"].commands  # type: ignore[attr-defined]
    named = set(re.findall(r"paytrace-sl review (\w+)", advice))
    assert named == {"list", "resolve", "dismiss"} and named <= set(review_cmds)
    assert "transaction 2004" in advice
    assert by[("missing_in_sl", 2014)].explained and "skipped" in by[("missing_in_sl", 2014)].reason
    assert by[("missing_in_sl", 2015)].explained and "dead-letter" in by[("missing_in_sl", 2015)].reason
    assert by[("voided_after_posting", 2007)].explained
    assert by[("refunded_after_posting", 1003)].explained
    # Batch 502: 75.00 short in SL, explained by the review item.
    batches = {b.batch_number: b for b in report.batches}
    assert batches[501].status == "matched"
    assert batches[502].status == "difference" and batches[502].difference_cents == 7500
    assert batches[502].explained
    assert [i.transaction_id for i in batches[502].items] == [2004]
    assert not report.ok
    # Every exception carries an action a person can take.
    assert all(e.action and e.reason for e in report.exceptions)


def test_same_inputs_same_result(messy_world: World) -> None:
    a = reconcile(messy_world.engine, START, END, landing_dir=messy_world.landing, options=OPTS, now=NOW)
    b = reconcile(messy_world.engine, START, END, landing_dir=messy_world.landing, options=OPTS, now=NOW)
    assert a.to_json_dict() == b.to_json_dict()


def test_every_exception_kind_on_postgres(pg_messy_world: World) -> None:
    """Same crafted cases on PostgreSQL: char padding and types behave differently there."""
    report = reconcile(
        pg_messy_world.engine, START, END, landing_dir=pg_messy_world.landing, options=OPTS, now=NOW
    )
    kinds = {(e.kind, e.explained) for e in report.exceptions}
    assert {
        ("missing_in_sl", False),
        ("edited_in_sl", False),
        ("deleted_in_sl", False),
        ("amount_differs", False),
        ("closed_period", False),
        ("missing_in_paytrace", False),
        ("pending_too_long", False),
        ("hold_too_long", False),
        ("missing_in_sl", True),
        ("voided_after_posting", True),
    } <= kinds
    assert {b.batch_number: b.status for b in report.batches} == {501: "matched", 502: "difference"}
    pg_messy_world.engine.dispose()


def test_planned_settlement_is_written_and_reconciles(tmp_path: Path) -> None:
    """plan_settlements (Amex apart) → the real writer → per-batch reconciliation finds the deposit entry."""
    text = (
        TWO_CLEARING_MAPPING.read_text()
        .replace('acct: "1015"', 'acct: "1030"')
        .replace('{acct: "1010", sub: "000000"}', '{acct: "1020", sub: "000000"}')
        .replace('bank_account: {acct: "1000"', 'bank_account: {acct: "1010"')
    )
    (tmp_path / "mapping.yaml").write_text(text)
    mapping = load_mapping(tmp_path / "mapping.yaml")
    url = f"sqlite:///{tmp_path / 'sl.db'}"
    init_sandbox(url, MerchantConfig(days=1, tx_per_day=3, customers=3))
    engine = create_sl_engine(url)
    batch = batch_of(777, D1, ["100.00", "40.00"], [])
    batch = replace(
        batch,
        brands=(
            BrandTotals("amex", 1, Decimal("100.00"), 0, Decimal("0.00")),
            BrandTotals("visa", 1, Decimal("40.00"), 0, Decimal("0.00")),
        ),
    )
    plan = plan_settlements([batch], mapping, "PTDEMO")
    SLWriter(engine, run_id="r1").write_plan(plan)
    pays = PlannedBatch(
        PostingKind.PAYMENT,
        "PTDEMO",
        (
            PlannedPayment(1, "CUST00001", Decimal("100.00"), D1, Account("1030", "000000")),
            PlannedPayment(2, "CUST00001", Decimal("40.00"), D1, Account("1020", "000000")),
        ),
    )
    SLWriter(engine, run_id="r1").write_plan(PostingPlan((pays,)))
    listed = [tx(1, "100.00", batch=777), tx(2, "40.00", batch=777)]
    with engine.begin() as conn:
        record = reconcile_and_save(conn, batch, listed, "r1", mapping=mapping, expect_settlement=True)
        stored = conn.execute(sa.select(xPTRecon)).all()
        again = reconcile_and_save(conn, batch, listed, "r2", mapping=mapping, expect_settlement=True)
        assert conn.execute(sa.select(sa.func.count()).select_from(xPTRecon)).scalar_one() == 1  # upsert
        gl = conn.execute(
            sa.select(catalog.GLTran.c.Acct, catalog.GLTran.c.DrAmt, catalog.GLTran.c.CrAmt)
            .where(catalog.GLTran.c.Module == "GL")
            .order_by(catalog.GLTran.c.LineNbr)
        ).all()
    assert record.status == "matched" and record.settlement_posted == Decimal("140.00") and again == record
    assert len(stored) == 1 and stored[0].status == "matched" and stored[0].difference_cents == 0
    assert sorted((a.strip(), dr, cr) for a, dr, cr in gl) == [
        ("1010", 40.0, 0.0),
        ("1010", 100.0, 0.0),
        ("1020", 0.0, 40.0),
        ("1030", 0.0, 100.0),
    ]
    engine.dispose()


def test_deposit_entry_edited_is_a_batch_difference(clean_world: World) -> None:
    """If someone changes the deposit GL entry, the batch no longer matches (checked read-only here)."""
    batch = clean_world.batches[0]
    listed = [t for t in clean_world.transactions if t.batch_number == batch.number]
    with clean_world.engine.connect() as conn:
        trans = conn.begin()
        try:
            conn.execute(
                sa.update(catalog.GLTran)
                .where(catalog.GLTran.c.Module == "GL", catalog.GLTran.c.DrAmt > 0)
                .values(DrAmt=120.0)
            )
            conn.execute(
                sa.update(catalog.GLTran)
                .where(catalog.GLTran.c.Module == "GL", catalog.GLTran.c.CrAmt > 0)
                .values(CrAmt=120.0)
            )
            record = reconcile_settlement_batch(conn, batch, listed, expect_settlement=True)
        finally:
            trans.rollback()
    assert record.status == "difference" and record.settlement_difference_cents == 1000
    assert not record.explained
