"""The release model and books checker (tests/support) on docs/accounting.md's worked example, and the
checker catching wrong books (so a green scenario test means something)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from books import Moved, check_books, snapshot
from sl_release import ReleaseError, release_all, release_batch
from slw_support import fetch

from paytrace_sl.plan import (
    Account,
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.rows import complete_row
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.sl_seed import SandboxSLConfig, init_sandbox

pytestmark = pytest.mark.integration

BANK, CLEARING, RETURNS = (Account(a, "000000") for a in ("1010", "1020", "4900"))
DAY = dt.date(2025, 4, 3)
CUST = "CUST00001"


def _sandbox(tmp_path: Path) -> sa.Engine:
    url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    init_sandbox(url, MerchantConfig(days=1, tx_per_day=5, customers=3), sl_config=SandboxSLConfig())
    engine = create_sl_engine(url)
    invoice = fetch(engine, catalog.ARDoc, catalog.ARDoc.c.DocType == "IN")[0]
    with engine.begin() as conn:
        row = {k: v for k, v in invoice.items() if k != "tstamp"}
        row.update(
            CustId=CUST,
            RefNbr="000451",
            OrigDocAmt=300.0,
            CuryOrigDocAmt=300.0,
            DocBal=300.0,
            CuryDocBal=300.0,
        )
        conn.execute(sa.insert(catalog.ARDoc), [complete_row(catalog.ARDoc, row, include_identity=False)])
    return engine


def _sale(txn: int, amount: str, *appl: InvoiceApplication) -> PlannedPayment:
    return PlannedPayment(txn, CUST, Decimal(amount), DAY, CLEARING, appl)


def test_release_model_on_the_worked_example(tmp_path: Path) -> None:
    engine = _sandbox(tmp_path)
    before = snapshot(engine)
    cpny = SandboxSLConfig().cpny_id
    SLWriter(engine).write_plan(
        PostingPlan(
            (
                PlannedBatch(
                    PostingKind.PAYMENT,
                    cpny,
                    (
                        _sale(81234567, "300.00", InvoiceApplication("000451", Decimal("300.00"))),
                        _sale(81234568, "120.00"),
                    ),
                ),
                PlannedBatch(
                    PostingKind.REFUND,
                    cpny,
                    (
                        PlannedRefund(
                            81234570,
                            CUST,
                            Decimal("45.44"),
                            DAY,
                            CLEARING,
                            RETURNS,
                            reverses_invoice="000451",
                        ),
                    ),
                ),
                PlannedBatch(
                    PostingKind.SETTLEMENT,
                    cpny,
                    (PlannedSettlement(5123, DAY, Decimal("374.56"), CLEARING, BANK),),
                ),
            )
        )
    )
    released = release_all(engine)
    assert [(r.module, r.bat_nbr) for r in released] == [("AR", "000102"), ("AR", "000101"), ("GL", "000101")]
    assert released[1].adjustments == [("PA", "81234567", "IN", "000451", Decimal("300.00"))]
    moved = [
        Moved(81234567, "payment", Decimal("300")),
        Moved(81234568, "payment", Decimal("120")),
        Moved(81234570, "refund", Decimal("45.44")),
    ]
    books = check_books(engine, before, moved=moved, deposited=Decimal("374.56"))
    books.assert_ok()
    assert books.account_change("1200") == Decimal("-420.00") == books.customer_change(CUST)
    assert books.account_change("4900") == Decimal("45.44") and books.account_change("1010") == Decimal(
        "374.56"
    )
    invoice = fetch(engine, catalog.ARDoc, catalog.ARDoc.c.RefNbr == "000451")[0]
    assert (invoice["DocBal"], invoice["OpenDoc"]) == (0.0, 0)
    assert fetch(engine, catalog.ARTran, catalog.ARTran.c.DrCr == "U") == []  # U lines consumed
    statuses = {
        (b["Module"], b["BatNbr"]): b["Status"]
        for b in fetch(engine, catalog.Batch, catalog.Batch.c.Rlsed == 1, catalog.Batch.c.BatNbr >= "000100")
    }
    assert statuses == {("AR", "000101"): "U", ("AR", "000102"): "U", ("GL", "000101"): "U"}
    with pytest.raises(ReleaseError, match="12008"):
        release_batch(engine, "AR", "000101")
    engine.dispose()


def test_checker_catches_wrong_books(tmp_path: Path) -> None:
    """Money in review but not named, a payment twice, an overpaid invoice: each is reported."""
    engine = _sandbox(tmp_path)
    before = snapshot(engine)
    cpny = SandboxSLConfig().cpny_id
    writer = SLWriter(engine, preflight=False)
    appl = InvoiceApplication("000451", Decimal("300.00"))
    writer.write_plan(PostingPlan((PlannedBatch(PostingKind.PAYMENT, cpny, (_sale(1, "300.00", appl),)),)))
    release_all(engine)
    with engine.begin() as conn:  # a second application SL would accept only if nobody checked the balance
        conn.execute(sa.update(catalog.ARDoc).where(catalog.ARDoc.c.RefNbr == "000451").values(DocBal=-5.0))
    books = check_books(
        engine,
        before,
        moved=[Moved(1, "payment", Decimal("300")), Moved(2, "payment", Decimal("50"))],
        deposited=Decimal("350"),
    )
    text = "\n".join(books.problems)
    assert "PayTrace payment 2 (50) moved money but is neither in SL nor in an open review item" in text
    assert "IN 000451 of CUST00001 has balance -5.00 < 0" in text
    assert "clearing changed" in text
    engine.dispose()
