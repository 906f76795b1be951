"""The writer's own preflight trusts the rows it checked on the way in, and only those."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from slw_support import INVOICE
from test_sl_preflight_rules import PAY_BAT, PLAN

from paytrace_sl.sl import catalog
from paytrace_sl.sl.preflight import PT_REQUIRED_BLANK, run_preflight
from paytrace_sl.sl.writer import PreflightFailed, SLWriter

pytestmark = pytest.mark.integration

D = catalog.ARDoc


def _stray_row(sl_engine: sa.Engine) -> None:
    """An ARDoc with a blank CpnyID already carrying the batch number the writer takes next."""
    with sl_engine.begin() as conn:
        row = dict(
            conn.execute(sa.select(D).where(D.c.RefNbr == INVOICE, D.c.DocType == "IN")).mappings().one()
        )
        row.update(BatNbr=PAY_BAT, RefNbr="000999", CpnyID=" ", Rlsed=0, tstamp=None)
        conn.execute(sa.insert(D).values(row))


@pytest.mark.parametrize("pending_cache", [True, False])
def test_rows_of_other_origin_in_the_new_batch_are_still_checked(
    sl_engine: sa.Engine, pending_cache: bool
) -> None:
    """A stray ARDoc already carrying the batch number the writer takes next joins that batch: the count
    differs from what the writer wrote, so its blank CpnyID is reported and the batch rolled back. With
    the pending cache too: ARDoc is read by ``BatNbr`` on both paths (SL's ``ARDoc8``); only ARTran is
    read by the keys written."""
    _stray_row(sl_engine)
    with pytest.raises(PreflightFailed) as failed:
        SLWriter(sl_engine, pending_cache=pending_cache).write_plan(PLAN)
    blank = [f for f in failed.value.findings if f.error == PT_REQUIRED_BLANK]
    assert [(f.bat_nbr, f.ref_nbr, f.message) for f in blank] == [
        (PAY_BAT, "000999", "ARDoc.CpnyID is blank")
    ]
    with sl_engine.connect() as conn:  # rolled back: only the stray row has the batch number
        assert conn.execute(sa.select(sa.func.count()).where(D.c.BatNbr == PAY_BAT)).scalar_one() == 1


def test_trusted_counts_skip_only_tables_that_match(sl_engine: sa.Engine) -> None:
    """``written`` with a wrong count for ARDoc: the ARDoc rows are read in full and the blank is found."""
    SLWriter(sl_engine).write_plan(PLAN)
    with sl_engine.connect() as conn, conn.begin() as trans:
        conn.execute(sa.update(D).where(D.c.BatNbr == PAY_BAT).values(CpnyID=" "))
        n = conn.execute(sa.select(sa.func.count()).where(D.c.BatNbr == PAY_BAT)).scalar_one()
        full = run_preflight(conn, module="AR", bat_nbr=PAY_BAT)
        assert PT_REQUIRED_BLANK in {f.error for f in full}
        wrong = run_preflight(conn, module="AR", bat_nbr=PAY_BAT, written={"ARDoc": n + 1})
        assert wrong == full
        trusted = run_preflight(conn, module="AR", bat_nbr=PAY_BAT, written={"ARDoc": n})
        assert trusted == [f for f in full if f.error != PT_REQUIRED_BLANK]  # the caller vouched for them
        trans.rollback()
