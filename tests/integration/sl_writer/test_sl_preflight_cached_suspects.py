"""The writer's preflight (pending sums from the load step's cache, the batch read by the keys written, its
targets' documents joined to its lines on PostgreSQL) names the same suspect targets, and finds the same,
as the per-batch SQL path, whatever state SL's invoice is in."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from slw_support import INVOICE
from test_sl_preflight_pending_scope import PLAN

from paytrace_sl.sl import catalog
from paytrace_sl.sl.pending import PendingApplications
from paytrace_sl.sl.preflight import WrittenKeys, _Scope, _suspect_targets, run_preflight
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

D, T = catalog.ARDoc, catalog.ARTran
INV = [D.c.RefNbr == INVOICE, D.c.DocType == "IN"]

STATES: list[tuple[str, Callable[[sa.Connection], object], bool]] = [
    ("as written", lambda conn: None, False),
    ("balance lowered", lambda conn: conn.execute(sa.update(D).where(*INV).values(CuryDocBal=250.0)), True),
    ("closed", lambda conn: conn.execute(sa.update(D).where(*INV).values(OpenDoc=0)), True),
    ("unreleased", lambda conn: conn.execute(sa.update(D).where(*INV).values(Rlsed=0)), True),
    ("deleted", lambda conn: conn.execute(sa.delete(D).where(*INV)), True),
]


def _cache_while_writing(conn: sa.Connection, bat_nbr: str) -> tuple[PendingApplications, WrittenKeys]:
    """The cache as the writer holds it while writing ``bat_nbr``: every other batch counted, this one
    staged from its lines; and the keys of the lines written."""
    rows = conn.execute(
        sa.select(
            T.c.CustId, T.c.TranType, T.c.RefNbr, T.c.DrCr, T.c.CostType, T.c.SiteId, T.c.CuryTranAmt
        ).where(T.c.BatNbr == bat_nbr)
    ).all()
    pending = PendingApplications()
    pending.refresh(conn)
    pending._drop(bat_nbr)
    pending.stage(conn, bat_nbr, [(r[0], r[4], r[5], r[6]) for r in rows if str(r[3]).strip() == "U"])
    return pending, WrittenKeys(frozenset((str(r[0]), str(r[1]), str(r[2])) for r in rows))


@pytest.mark.parametrize(("state", "change", "suspect"), STATES, ids=[s[0] for s in STATES])
def test_cached_suspects_equal_the_sql_paths(
    sl_engine: sa.Engine, state: str, change: Callable[[sa.Connection], object], suspect: bool
) -> None:
    bat_nbr = SLWriter(sl_engine).write_plan(PLAN).batches[0].bat_nbr
    with sl_engine.connect() as conn, conn.begin() as trans:
        change(conn)
        pending, keys = _cache_while_writing(conn, bat_nbr)
        cached = _suspect_targets(conn, _Scope("AR", bat_nbr, keys, conn), pending=pending)
        by_sql = _suspect_targets(conn, _Scope("AR", bat_nbr))
        assert (
            [str(s).strip() for s in cached]
            == [str(s).strip() for s in by_sql]
            == ([INVOICE] if suspect else [])
        ), state
        writers = run_preflight(conn, module="AR", bat_nbr=bat_nbr, pending=pending, keys=keys)
        assert writers == run_preflight(conn, module="AR", bat_nbr=bat_nbr), state
        assert bool(writers) == suspect, state
        trans.rollback()
