"""Preflight of one batch sums only the unreleased applications its own customers and documents can be
short by (issue 17), and finds exactly what the check over every unreleased batch finds for it."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, INVOICE, OTHER_CUST

from paytrace_sl.plan import InvoiceApplication, PlannedBatch, PlannedPayment, PostingKind, PostingPlan
from paytrace_sl.sl import catalog
from paytrace_sl.sl.preflight import PT_APPL_SHORT_BALANCE, Finding, _Scope, _suspect_targets, run_preflight
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

D = catalog.ARDoc


def pay(txn: int, cust: str, amount: str, applied: str | None = None) -> PlannedPayment:
    apps = (InvoiceApplication(INVOICE, Decimal(applied)),) if applied else ()
    return PlannedPayment(txn, cust, Decimal(amount), DOC_DATE, CLEARING, apps)


def batch(*items: PlannedPayment) -> PlannedBatch:
    return PlannedBatch(PostingKind.PAYMENT, CPNY, items)


# Three unreleased batches: two apply to the invoice (together its whole open balance of 300.00), one of
# another customer applies nothing.
PLAN = PostingPlan(
    (
        batch(pay(1, CUST, "200.00", "200.00")),
        batch(pay(2, CUST, "100.00", "100.00"), pay(3, CUST, "5.00")),
        batch(pay(4, OTHER_CUST, "50.00")),
    )
)


def by_batch(conn: sa.Connection, bat_nbr: str) -> list[Finding]:
    return run_preflight(conn, module="AR", bat_nbr=bat_nbr)


def from_all(conn: sa.Connection, bat_nbr: str) -> list[Finding]:
    return [f for f in run_preflight(conn, module="AR") if f.bat_nbr == bat_nbr]


def test_one_batch_preflight_matches_the_check_over_all_unreleased_batches(sl_engine: sa.Engine) -> None:
    result = SLWriter(sl_engine).write_plan(PLAN)
    bat_nbrs = [b.bat_nbr for b in result.batches]
    assert len(set(bat_nbrs)) == 3
    with sl_engine.connect() as conn:
        for bat_nbr in bat_nbrs:
            assert by_batch(conn, bat_nbr) == from_all(conn, bat_nbr) == []

    # SL lowers the invoice's open balance below what the two batches apply (a credit memo released
    # meanwhile): each batch is short only because of the *other* batch's pending application
    with sl_engine.begin() as conn:
        conn.execute(sa.update(D).where(D.c.RefNbr == INVOICE, D.c.DocType == "IN").values(CuryDocBal=250.0))
    with sl_engine.connect() as conn:
        for bat_nbr in bat_nbrs:
            assert sorted(map(repr, by_batch(conn, bat_nbr))) == sorted(map(repr, from_all(conn, bat_nbr)))
        short = {b: [f.error for f in by_batch(conn, b)] for b in bat_nbrs}
    assert short == {
        bat_nbrs[0]: [PT_APPL_SHORT_BALANCE],
        bat_nbrs[1]: [PT_APPL_SHORT_BALANCE],
        bat_nbrs[2]: [],
    }


def test_an_invoice_paid_exactly_in_full_is_not_suspect_a_cent_short_is(sl_engine: sa.Engine) -> None:
    """Only targets the exact, rounded balance check could flag are read line by line: pending = balance
    (a day of full payments) is not suspect; a cent more than the balance is, and is found."""
    first = SLWriter(sl_engine).write_plan(PLAN).batches[0].bat_nbr
    with sl_engine.connect() as conn:
        assert _suspect_targets(conn, _Scope("AR", first)) == []  # 200.00 + 100.00 pending = 300.00 open
        assert by_batch(conn, first) == []
    with sl_engine.begin() as conn:
        conn.execute(sa.update(D).where(D.c.RefNbr == INVOICE, D.c.DocType == "IN").values(CuryDocBal=299.99))
    with sl_engine.connect() as conn:
        assert [str(s).strip() for s in _suspect_targets(conn, _Scope("AR", first))] == [INVOICE]
        assert [f.error for f in by_batch(conn, first)] == [PT_APPL_SHORT_BALANCE]
        assert by_batch(conn, first) == from_all(conn, first)
