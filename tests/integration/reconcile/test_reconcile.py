"""Reconciliation against a real SL replica written by the real writer, one crafted case per exception."""

from __future__ import annotations

from collections import Counter

import pytest
from reconcile_world import END, NOW, START, World

from paytrace_sl.reconcile.engine import ReconOptions, reconcile

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
