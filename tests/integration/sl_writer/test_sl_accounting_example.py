"""docs/accounting.md's worked example, replayed on the sandbox SL company: the numbers must match."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from slw_support import fetch, simulate_release_gl

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
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.rows import complete_row
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.sl_seed import SandboxSLConfig, init_sandbox

pytestmark = pytest.mark.integration

BANK, CLEARING, AR, RETURNS = (Account(a, "000000") for a in ("1010", "1020", "1200", "4900"))
DAY = dt.date(2025, 4, 3)
CUST = "CUST00001"


def test_worked_example(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    cfg = SandboxSLConfig()
    init_sandbox(url, MerchantConfig(days=1, tx_per_day=5, customers=3), sl_config=cfg)
    engine = create_sl_engine(url)
    invoice = fetch(engine, catalog.ARDoc, catalog.ARDoc.c.DocType == "IN")[0]
    with engine.begin() as conn:  # the example's open, released invoice 000451 for $300.00
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

    def sale(txn: int, amount: str, *appl: InvoiceApplication) -> PlannedPayment:
        return PlannedPayment(txn, CUST, Decimal(amount), DAY, CLEARING, appl)

    writer = SLWriter(engine)
    cpny = cfg.cpny_id
    first = writer.write_plan(
        PostingPlan(
            (
                PlannedBatch(
                    PostingKind.PAYMENT,
                    cpny,
                    (
                        sale(81234567, "300.00", InvoiceApplication("000451", Decimal("300.00"))),
                        sale(81234568, "120.00"),
                        sale(81234569, "75.00"),
                    ),
                ),
            )
        )
    )
    assert fetch(engine, catalog.Batch, catalog.Batch.c.BatNbr == "000101")[0]["CrTot"] == 495.0
    rest = writer.write_plan(
        PostingPlan(
            (
                PlannedBatch(PostingKind.VOID, cpny, (PlannedVoid(81234569, DAY),)),
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
    assert [b.bat_nbr for b in first.batches + rest.batches] == ["000101", "000101", "000102", "000101"]
    batches = {
        (b["Module"], b["BatNbr"]): b for b in fetch(engine, catalog.Batch, catalog.Batch.c.Rlsed == 0)
    }
    assert batches[("AR", "000101")]["CrTot"] == 420.0 and batches[("AR", "000101")]["PerPost"] == "202504"
    assert batches[("AR", "000102")]["CrTot"] == 90.88
    assert rest.batches[1].outcomes["paytrace:81234570:refund"].message == "CM 1000005 + DM 1000006"

    total: dict[str, Decimal] = {}
    for module, bat in (("AR", "000101"), ("AR", "000102"), ("GL", "000101")):
        for acct, amount in simulate_release_gl(engine, module, bat).items():
            total[acct] = total.get(acct, Decimal(0)) + amount
    assert {a: v for a, v in total.items() if v} == {
        "1010": Decimal("374.56"),  # bank: the PayTrace deposit
        "4900": Decimal("45.44"),  # sales returns: the refund
        "1200": Decimal("-420.00"),  # A/R: invoice paid 300 + 120 on account; refund nets to 0
    }  # 1020 card clearing nets to 0.00
    engine.dispose()
