"""Preflight's balance check compares exact decimals rounded half-up to the currency's decimals, on every
path (the writer's cached pending sums, the per-batch SQL sums, the whole-scope check): not Python's
``round`` of binary floats, which rounded a balance of 299.965 (the double 299.96499…) down to 299.96."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, INVOICE

from paytrace_sl.plan import InvoiceApplication, PlannedBatch, PlannedPayment, PostingKind, PostingPlan
from paytrace_sl.sl import catalog
from paytrace_sl.sl.preflight import PT_APPL_SHORT_BALANCE, _exceeds, _suspects, run_preflight
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

D = catalog.ARDoc


def _plan(applied: str) -> PostingPlan:
    pay = PlannedPayment(
        1, CUST, Decimal(applied), DOC_DATE, CLEARING, (InvoiceApplication(INVOICE, Decimal(applied)),)
    )
    return PostingPlan((PlannedBatch(PostingKind.PAYMENT, CPNY, (pay,)),))


def _balance(engine: sa.Engine, balance: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(D).where(D.c.RefNbr == INVOICE, D.c.DocType == "IN").values(CuryDocBal=balance)
        )


def _short(engine: sa.Engine, bat_nbr: str) -> tuple[list[int], list[int]]:
    """The balance findings of the batch: by its batch number, and from the check over every batch."""
    with engine.connect() as conn:
        one = [f.error for f in run_preflight(conn, module="AR", bat_nbr=bat_nbr)]
        every = [f.error for f in run_preflight(conn, module="AR") if f.bat_nbr == bat_nbr]
    return one, every


def test_the_rounding_rule_is_half_up_to_the_currency_decimals(sl_engine: sa.Engine) -> None:
    """Written against the full balance, then SL's balance changes under the unreleased batch: 299.965
    is 299.97 half-up (299.96 half-even, and 299.96 by ``round`` of its double 299.96499…)."""
    bat_nbr = SLWriter(sl_engine).write_plan(_plan("299.97")).batches[0].bat_nbr
    for balance, short in ((299.965, False), (299.9649, True), (299.97, False), (299.96, True)):
        _balance(sl_engine, balance)
        expected = [PT_APPL_SHORT_BALANCE] if short else []
        assert _short(sl_engine, bat_nbr) == (expected, expected), balance


def test_exceeds_compares_the_written_decimals() -> None:
    assert not _exceeds(Decimal("299.97"), 299.965, 2)
    assert round(299.965, 2) < 299.97  # what the float check compared: short
    assert _exceeds(Decimal("299.97"), 299.9649, 2)
    assert not _exceeds(Decimal("0.1") + Decimal("0.2"), 0.3, 2)
    assert _exceeds(Decimal("0.3000005"), 0.3, 6)  # half-up at six decimals: 0.300001
    assert not _exceeds(Decimal("1000"), 999.5, 0)  # half-up: 1000 > 1000 is false


def test_the_cached_sums_are_judged_by_the_same_rule() -> None:
    """The writer's own preflight (pending sums from the load step's cache, exact Decimals): a target whose
    sum equals the rounded balance is not suspect; a cent more is."""
    key = (CUST, "IN", INVOICE)
    docs = {key: (1, 1, 299.965)}
    assert _suspects({key: INVOICE}, {key: {2}}, docs, {key: Decimal("299.97")}) == []
    assert _suspects({key: INVOICE}, {key: {2}}, docs, {key: Decimal("299.98")}) == [INVOICE]


def _applied(engine: sa.Engine, bat_nbr: str) -> Decimal:
    t = catalog.ARTran
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(t.c.CuryTranAmt), 0)).where(
                t.c.BatNbr == bat_nbr, t.c.DrCr == "U"
            )
        ).scalar_one()
    return Decimal(str(total)).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("balance", "paid", "applied"),
    [
        (
            299.965,
            "299.97",
            "299.97",
        ),  # half-up 299.97 covers it (the raw float compare split it 299.96 + 0.01)
        (299.955, "299.96", "299.96"),  # was "open balance 299.96 … is less than 299.96"
        (299.9649, "299.97", "299.96"),  # 299.96: short by a cent, the rest stays on account
    ],
)
def test_the_writer_decides_with_the_rule_preflight_checks(
    sl_engine: sa.Engine, balance: float, paid: str, applied: str
) -> None:
    """The writer's own balance check and its partial split round SL's float balance half-up to the
    currency's decimals, as preflight does: what it writes, preflight then finds nothing wrong with."""
    _balance(sl_engine, balance)
    bat_nbr = SLWriter(sl_engine).write_plan(_plan(paid)).batches[0].bat_nbr
    assert _applied(sl_engine, bat_nbr) == Decimal(applied)
    assert _short(sl_engine, bat_nbr) == ([], [])
