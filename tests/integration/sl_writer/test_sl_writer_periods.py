"""Periods: never post before SL's current period or into a closed one; PerEnt is the period at entry.

The seed's SL: current AR and GL period ``202409`` (March 2024 of a July–June year), last closed GL
period ``202408``. February 2024 is ``202408`` (closed), January ``202407``, May ``202411`` (future).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import BANK, CLEARING, CPNY, CUST, PER_POST, REFUNDS, count, fetch, snapshot

from paytrace_sl.plan import (
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PostingKind,
)
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview
from paytrace_sl.sl.preflight import PT_CLOSED_PERIOD, PT_PRIOR_PERIOD, run_preflight
from paytrace_sl.sl.writer import SLWriter, WriterError

pytestmark = pytest.mark.integration

B, D, T, G = catalog.Batch, catalog.ARDoc, catalog.ARTran, catalog.GLTran
CLOSED_DAY = dt.date(2024, 2, 10)  # period 202408: closed
FUTURE_DAY = dt.date(2024, 5, 10)  # period 202411: after the current period
PAY = ("Batch", "ARDoc")  # an unapplied payment has no ARTran line
MEMO = ("Batch", "ARDoc", "ARTran")


def pay_batch(txn: int, day: dt.date) -> PlannedBatch:
    item = PlannedPayment(txn, CUST, Decimal("25.00"), day, CLEARING, description=f"late {txn}")
    return PlannedBatch(PostingKind.PAYMENT, CPNY, (item,))


def set_periods(
    engine: sa.Engine, *, ar: str | None = None, gl: str | None = None, closed: str | None = None
) -> None:
    with engine.begin() as conn:
        if ar is not None:
            conn.execute(sa.update(catalog.ARSetup).values(PerNbr=ar))
        if gl is not None:
            conn.execute(sa.update(catalog.GLSetup).values(PerNbr=gl))
        if closed is not None:
            conn.execute(sa.update(catalog.GLSetup).values(LastClosePerNbr=closed))


def periods_of(engine: sa.Engine, bat_nbr: str) -> set[tuple[str, str, str]]:
    """(table, PerPost, PerEnt) of every row of an AR batch."""
    out = {
        ("Batch", r["PerPost"], r["PerEnt"])
        for r in fetch(engine, B, B.c.BatNbr == bat_nbr, B.c.Module == "AR")
    }
    out |= {("ARDoc", r["PerPost"], r["PerEnt"]) for r in fetch(engine, D, D.c.BatNbr == bat_nbr)}
    out |= {("ARTran", r["PerPost"], r["PerEnt"]) for r in fetch(engine, T, T.c.BatNbr == bat_nbr)}
    return out


def test_item_in_a_closed_period_posts_in_the_current_period_with_its_date(sl_engine: sa.Engine) -> None:
    res = SLWriter(sl_engine).write_batch(pay_batch(5001, CLOSED_DAY))
    assert (res.posted, res.late_from) == (1, "202408")
    assert periods_of(sl_engine, res.bat_nbr) == {(t, PER_POST, PER_POST) for t in PAY}
    doc = fetch(sl_engine, D, D.c.BatNbr == res.bat_nbr)[0]
    assert doc["DocDate"] == dt.datetime(2024, 2, 10)  # the receipt's own date is kept
    assert fetch(sl_engine, xPTLedger)[0]["per_post"] == PER_POST
    with sl_engine.connect() as conn:
        assert run_preflight(conn, module="AR", bat_nbr=res.bat_nbr) == []


def test_item_before_the_current_but_open_period_moves_too(sl_engine: sa.Engine) -> None:
    set_periods(sl_engine, ar="202410")  # 202409 is open (not closed) but before AR's current period
    res = SLWriter(sl_engine).write_batch(pay_batch(5002, dt.date(2024, 3, 15)))
    assert res.late_from == "202409"
    assert periods_of(sl_engine, res.bat_nbr) == {(t, "202410", "202410") for t in PAY}


def test_future_period_keeps_its_perpost_and_perent_is_the_period_at_entry(sl_engine: sa.Engine) -> None:
    res = SLWriter(sl_engine).write_batch(pay_batch(5003, FUTURE_DAY))
    assert res.late_from == ""
    assert periods_of(sl_engine, res.bat_nbr) == {(t, "202411", PER_POST) for t in PAY}


def test_refund_and_settlement_in_a_closed_period(sl_engine: sa.Engine) -> None:
    refund = PlannedRefund(5004, CUST, Decimal("4.00"), CLOSED_DAY, CLEARING, REFUNDS)
    res = SLWriter(sl_engine).write_batch(PlannedBatch(PostingKind.REFUND, CPNY, (refund,)))
    assert periods_of(sl_engine, res.bat_nbr) == {(t, PER_POST, PER_POST) for t in MEMO}
    set_periods(sl_engine, gl="202410")  # GL's own current period rules GL batches
    settle = PlannedSettlement(77, CLOSED_DAY, Decimal("10.00"), CLEARING, BANK)
    gl = SLWriter(sl_engine).write_batch(PlannedBatch(PostingKind.SETTLEMENT, CPNY, (settle,)))
    lines = fetch(sl_engine, G, G.c.Module == "GL", G.c.BatNbr == gl.bat_nbr)
    assert {(r["PerPost"], r["PerEnt"], r["FiscYr"]) for r in lines} == {("202410", "202410", "2024")}
    assert {r["TranDate"] for r in lines} == {dt.datetime(2024, 2, 10)}
    header = fetch(sl_engine, B, B.c.Module == "GL", B.c.BatNbr == gl.bat_nbr)[0]
    assert (header["PerPost"], header["PerEnt"]) == ("202410", "202410")


def test_refuse_posts_nothing_and_opens_one_review_item(sl_engine: sa.Engine) -> None:
    before = snapshot(sl_engine)
    writer = SLWriter(sl_engine, run_id="run-refuse", late_items="refuse")
    res = writer.write_batch(pay_batch(5005, CLOSED_DAY))
    assert (res.posted, res.refused, res.refused_new, res.bat_nbr) == (0, 1, 1, "")
    outcome = res.outcomes["paytrace:5005:payment"]
    assert outcome.outcome == "refused" and "202408 is closed" in outcome.message
    items = fetch(sl_engine, xPTReview)
    assert [(r["transaction_id"], r["reason_code"]) for r in items] == [(5005, "closed_period")]
    # Nothing in SL, no number consumed, no ledger row (a later run decides again).
    after = snapshot(sl_engine)
    assert after[:8] == before[:8] and after[9:] == before[9:] and after[8] == before[8] + 1
    again = writer.write_batch(pay_batch(5005, CLOSED_DAY))
    assert (again.refused, again.refused_new) == (1, 0)  # still refused, no second open item
    assert count(sl_engine, xPTReview) == 1
    # After the setting changes the item posts, in the current period.
    posted = SLWriter(sl_engine).write_batch(pay_batch(5005, CLOSED_DAY))
    assert posted.posted == 1 and periods_of(sl_engine, posted.bat_nbr) == {
        (t, PER_POST, PER_POST) for t in PAY
    }


def test_current_period_closed_too_is_an_error(sl_engine: sa.Engine) -> None:
    set_periods(sl_engine, closed="202409")
    before = snapshot(sl_engine)
    with pytest.raises(WriterError, match=r"current AR period 202409 is closed too"):
        SLWriter(sl_engine).write_batch(pay_batch(5006, CLOSED_DAY))
    assert snapshot(sl_engine) == before
    # A future item is still fine.
    assert SLWriter(sl_engine).write_batch(pay_batch(5007, FUTURE_DAY)).posted == 1


def test_invalid_late_items_setting() -> None:
    with pytest.raises(WriterError, match="late_items"):
        SLWriter(sa.create_engine("sqlite://"), late_items="previous")


def test_preflight_flags_batches_in_prior_and_closed_periods(sl_engine: sa.Engine) -> None:
    res = SLWriter(sl_engine).write_batch(pay_batch(5008, dt.date(2024, 3, 15)))
    with sl_engine.connect() as conn:
        assert run_preflight(conn, module="AR", bat_nbr=res.bat_nbr) == []
    # Someone (or an older version of the bridge) dated the batch into the closed period 202408.
    with sl_engine.begin() as conn:
        for tbl in (D, T):
            conn.execute(sa.update(tbl).where(tbl.c.BatNbr == res.bat_nbr).values(PerPost="202408"))
        conn.execute(
            sa.update(B).where(B.c.BatNbr == res.bat_nbr, B.c.Module == "AR").values(PerPost="202408")
        )
    with sl_engine.connect() as conn:
        findings = run_preflight(conn, module="AR", bat_nbr=res.bat_nbr)
    assert {(f.error, f.bat_nbr) for f in findings} == {
        (PT_CLOSED_PERIOD, res.bat_nbr),
        (PT_PRIOR_PERIOD, res.bat_nbr),
    }
    closed = next(f for f in findings if f.error == PT_CLOSED_PERIOD)
    assert "LastClosePerNbr 202408" in closed.message and closed.title == "posts into a closed period"
    # A later period that is open but before the current one: prior only.
    set_periods(sl_engine, ar="202410", closed="202407")
    with sl_engine.begin() as conn:
        for tbl in (B, D, T):
            conn.execute(sa.update(tbl).where(tbl.c.BatNbr == res.bat_nbr).values(PerPost="202409"))
    with sl_engine.connect() as conn:
        assert [f.error for f in run_preflight(conn, module="AR", bat_nbr=res.bat_nbr)] == [PT_PRIOR_PERIOD]
