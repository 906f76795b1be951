"""batches.max_documents: a day larger than the cap is written as several balanced SL batches, and a run
stopped after some of them is finished by the re-run with the same parts and nothing posted twice."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from pipeline_tx_builders import LA, tx
from slw_support import CLEARING, CPNY, CUST, REFUNDS, count

from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.pipeline.mapping import GlRule, Mapping, load_mapping
from paytrace_sl.pipeline.sl_context import load_sl_context
from paytrace_sl.pipeline.transform import build_plan
from paytrace_sl.plan import PostingPlan
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger
from paytrace_sl.sl.preflight import run_preflight
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

MAPPING = dataclasses.replace(
    load_mapping(),
    company=CPNY,
    gl_rules=(GlRule("card-clearing", CLEARING),),
    refund_account=REFUNDS,
    bank_account=None,
    batch_max_documents=3,
)
NOON = dt.datetime(2024, 3, 15, 12, 0, tzinfo=LA)
# eight sales of one day, listed and created out of id order
DAY = [
    tx(t, customer_id=CUST, amount=f"{t}.25", created_at=NOON + dt.timedelta(minutes=9 - t))
    for t in (8, 2, 5, 1, 7, 3, 6, 4)
]


def plan(engine: sa.Engine, rows: list[Transaction], mapping: Mapping = MAPPING) -> PostingPlan:
    with engine.connect() as conn:
        ctx = load_sl_context(
            conn,
            transaction_ids=[r.transaction_id for r in rows],
            customer_ids=[CUST],
            invoice_ids=[],
            cpny_id=CPNY,
        )
    return build_plan(rows, ctx, mapping).plan


def ids(p: PostingPlan) -> list[list[int]]:
    return [sorted(i.transaction_id for i in b.items) for b in p.batches]


def test_large_day_is_split_into_balanced_batches_and_a_stopped_run_is_finished_alike(
    sl_engine: sa.Engine,
) -> None:
    first = plan(sl_engine, DAY)
    assert ids(first) == [[1, 2, 3], [4, 5, 6], [7, 8]]

    # the run stops after writing the first part (a crash, a timeout)
    done = SLWriter(sl_engine).write_plan(PostingPlan(batches=first.batches[:1]))
    assert done.posted == 3

    # the re-run sees those three in the ledger and cuts the rest into the parts planned before
    rerun = plan(sl_engine, DAY)
    assert [b.items for b in rerun.batches] == [b.items for b in first.batches[1:]]
    result = SLWriter(sl_engine).write_plan(rerun)
    assert result.posted == 5

    written = [b.bat_nbr for b in done.batches + result.batches]
    assert len(set(written)) == 3
    B, D = catalog.Batch, catalog.ARDoc
    with sl_engine.connect() as conn:
        for bat_nbr, part in zip(written, first.batches, strict=True):
            # each batch balanced: its control total is the sum of its documents, and SL's checks pass
            total = conn.execute(
                sa.select(sa.func.sum(D.c.CuryOrigDocAmt)).where(D.c.BatNbr == bat_nbr)
            ).scalar_one()
            ctrl = conn.execute(
                sa.select(B.c.CuryCtrlTot).where(B.c.Module == "AR", B.c.BatNbr == bat_nbr)
            ).scalar_one()
            expected = float(sum(i.amount for i in part.items))  # type: ignore[union-attr]
            assert round(total, 2) == round(ctrl, 2) == round(expected, 2)
            assert run_preflight(conn, module="AR", bat_nbr=bat_nbr) == []
    assert count(sl_engine, D, D.c.DocType == "PA") == 8
    assert count(sl_engine, xPTLedger) == 8

    # a third run posts nothing new
    assert plan(sl_engine, DAY).batches == ()


def test_cap_does_not_change_a_day_within_it(sl_engine: sa.Engine) -> None:
    within = plan(sl_engine, DAY, dataclasses.replace(MAPPING, batch_max_documents=8))
    uncapped = plan(sl_engine, DAY, dataclasses.replace(MAPPING, batch_max_documents=0))
    assert within == uncapped and len(within.batches) == 1
