"""A crafted PayTrace + SL world for reconciliation tests: one case per exception kind.

SL rows are written by the real writer (``SLWriter``) into an SL replica seeded by ``init_sandbox``; then
the SL side is disturbed the way people do it (edit an amount, delete a document, release a batch, leave
a batch on hold). PayTrace's side is a list of ``Transaction`` records written to a landing directory.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from paytrace_sl.paytrace.records import SettlementBatch, Transaction, TransactionState
from paytrace_sl.plan import (
    Account,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.reconcile.settled_batch import reconcile_and_save
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import utcnow, xPTDeadLetter, xPTLedger, xPTReview, xPTRun, xPTSkip
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.sl_seed import init_sandbox

TZ = ZoneInfo("America/Los_Angeles")
START, END = dt.date(2025, 4, 1), dt.date(2025, 4, 2)
NOW = dt.datetime(2025, 4, 20, 12, tzinfo=dt.UTC)
CLEARING, BANK, REFUNDS = Account("1020", "000000"), Account("1010", "000000"), Account("2150", "000000")
D1, D2 = dt.date(2025, 4, 1), dt.date(2025, 4, 2)
RUN_ID = "scheduled__2025-04-02T00:00:00+00:00"


def tx(
    txid: int,
    amount: str,
    *,
    kind: str = "SALE",
    state: TransactionState = TransactionState.SETTLED,
    batch: int | None = None,
    day: dt.date = D1,
    invoice: str = "",
    cust: str = "CUST00001",
) -> Transaction:
    created = dt.datetime.combine(day, dt.time(10, txid % 60), TZ)
    return Transaction(
        transaction_id=txid,
        transaction_type=kind,
        status=state,
        batch_number=batch,
        amount=Decimal(amount),
        tax_amount=Decimal("0.00"),
        created_at=created,
        settled_at=created + dt.timedelta(hours=10) if state == TransactionState.SETTLED else None,
        customer_id=cust,
        invoice_id=invoice,
        card_masked="************1111",
    )


def batch_of(number: int, day: dt.date, sales: list[str], refunds: list[str]) -> SettlementBatch:
    s = sum((Decimal(a) for a in sales), Decimal("0.00"))
    r = sum((Decimal(a) for a in refunds), Decimal("0.00"))
    return SettlementBatch(
        number=number,
        created_at=dt.datetime.combine(day, dt.time(20, 5), TZ),
        transaction_count=len(sales) + len(refunds),
        net_amount=s - r,
        sales_count=len(sales),
        sales_amount=s,
        refund_count=len(refunds),
        refund_amount=r,
    )


@dataclass
class World:
    url: str
    engine: sa.Engine
    landing: Path
    gx_dir: Path
    transactions: list[Transaction]
    batches: list[SettlementBatch]


def _pay(txid: int, amount: str, day: dt.date = D1) -> PlannedPayment:
    return PlannedPayment(txid, "CUST00001", Decimal(amount), day, CLEARING, description=f"PayTrace {txid}")


def build_world(url: str, tmp: Path, *, messy: bool) -> World:
    init_sandbox(url, MerchantConfig(days=1, tx_per_day=3, customers=3))
    engine = create_sl_engine(url)
    writer = SLWriter(engine, run_id=RUN_ID)
    txs = [
        tx(1001, "100.00", batch=501, invoice="INV-1"),
        tx(1002, "50.00", batch=501),
        tx(1003, "20.00", kind="REFUND", batch=501, invoice="INV-1"),
    ]
    batches = [batch_of(501, D1, ["100.00", "50.00"], ["20.00"])]
    plan = [
        PlannedBatch(PostingKind.PAYMENT, "PTDEMO", (_pay(1001, "100.00"), _pay(1002, "50.00"))),
        PlannedBatch(
            PostingKind.REFUND,
            "PTDEMO",
            (
                PlannedRefund(
                    1003, "CUST00001", Decimal("20.00"), D1, CLEARING, REFUNDS, reverses_invoice="INV-1"
                ),
            ),
        ),
        PlannedBatch(
            PostingKind.SETTLEMENT, "PTDEMO", (PlannedSettlement(501, D1, Decimal("130.00"), CLEARING, BANK),)
        ),
    ]
    if messy:
        txs += [
            tx(2004, "75.00", batch=502, day=D2),  # in review: explained
            tx(2005, "25.00", batch=502, day=D2),
            tx(2006, "40.00", state=TransactionState.PENDING, day=D2),  # pending 18 days
            tx(
                2007, "30.00", state=TransactionState.VOIDED
            ),  # voided after release: explained by void handling
            tx(2008, "60.00", batch=503),  # never posted, no reason: unexplained
            tx(2009, "10.00", batch=503),  # edited in SL
            tx(2010, "12.00", batch=503),  # deleted in SL
            tx(2011, "13.50", batch=503),  # we posted 13.00
            tx(2012, "14.00", batch=503),  # posted to a closed period
            tx(2014, "5.00", batch=503),  # skipped: explained
            tx(2015, "6.00", batch=503),  # dead-lettered: explained
        ]
        batches.append(batch_of(502, D2, ["75.00", "25.00"], []))
        plan += [
            PlannedBatch(
                PostingKind.PAYMENT,
                "PTDEMO",
                (
                    _pay(2005, "25.00", D2),
                    _pay(2006, "40.00", D2),
                    _pay(2009, "10.00"),
                    _pay(2010, "12.00"),
                    _pay(2011, "13.00"),
                    _pay(9999, "9.99"),
                ),
            ),
            PlannedBatch(PostingKind.PAYMENT, "PTDEMO", (_pay(2007, "30.00"),)),
            PlannedBatch(PostingKind.PAYMENT, "PTDEMO", (_pay(2012, "14.00"),)),
        ]
    result = writer.write_plan(PostingPlan(tuple(plan)))
    bats = [(b.module, b.bat_nbr) for b in result.batches]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(xPTRun).values(
                run_id=RUN_ID,
                dag_id="paytrace_payments_to_sl",
                try_number=1,
                window_start=dt.datetime(2025, 4, 1, 7, tzinfo=dt.UTC),
                window_end=dt.datetime(2025, 4, 3, 7, tzinfo=dt.UTC),
                status="success",
                started_at=utcnow(),
                counts=json.dumps(
                    {
                        "transactions": len(txs),
                        "posted": len(txs) - 3,
                        "already_posted": 0,
                        "skipped": 1,
                        "review": 1,
                        "dead_letter": 1,
                    }
                ),
            )
        )
    if messy:
        b = catalog.Batch
        d = catalog.ARDoc
        t = catalog.ARTran
        with engine.begin() as conn:
            # Refund batch left on Hold since April 1st.
            conn.execute(
                sa.update(b)
                .where(b.c.Module == "AR", b.c.BatNbr == bats[1][1])
                .values(Crtd_DateTime=dt.datetime(2025, 4, 1, 9))
            )
            # A user edits 2009's amount and deletes 2010 (header and lines).
            conn.execute(
                sa.update(d).where(d.c.RefNbr == "2009").values(CuryOrigDocAmt=11.0, LUpd_Prog="08030")
            )
            conn.execute(sa.delete(t).where(t.c.RefNbr == "2010"))
            conn.execute(sa.delete(d).where(d.c.RefNbr == "2010"))
            # SL releases 2007's batch; then PayTrace voids the sale.
            conn.execute(
                sa.update(b).where(b.c.Module == "AR", b.c.BatNbr == bats[4][1]).values(Rlsed=1, Status="U")
            )
            conn.execute(sa.update(d).where(d.c.RefNbr == "2007").values(Rlsed=1))
            # 2012's batch was written into March, a period SL has since left (the writer no longer
            # does that: an older version, or a user changing the batch period in SL).
            bat_2012 = conn.execute(
                sa.select(xPTLedger.c.bat_nbr).where(xPTLedger.c.transaction_id == 2012)
            ).scalar_one()
            for tbl in (b, d, t):
                conn.execute(sa.update(tbl).where(tbl.c.BatNbr == bat_2012).values(PerPost="202503"))
            conn.execute(
                sa.update(xPTLedger).where(xPTLedger.c.transaction_id == 2012).values(per_post="202503")
            )
            now = utcnow()
            conn.execute(
                sa.insert(xPTReview).values(
                    transaction_id=2004,
                    reason_code="customer_unmatched",
                    reason="no SL customer for PayTrace cust X",
                    run_id=RUN_ID,
                    created_at=dt.datetime(2025, 4, 3, tzinfo=dt.UTC),
                )
            )
            conn.execute(
                sa.insert(xPTSkip).values(
                    transaction_id=2014,
                    reason_code="type_ignored",
                    reason="test skip",
                    run_id=RUN_ID,
                    created_at=now,
                )
            )
            conn.execute(
                sa.insert(xPTDeadLetter).values(
                    transaction_id=2015,
                    source="paytrace-transaction",
                    payload="{}",
                    reason="amount not a number",
                    run_id=RUN_ID,
                    created_at=now,
                )
            )
        writer.write_plan(PostingPlan((PlannedBatch(PostingKind.VOID, "PTDEMO", (PlannedVoid(2007, D1),)),)))
    with engine.begin() as conn:
        for batch in batches:
            listed = [t for t in txs if t.batch_number == batch.number]
            reconcile_and_save(conn, batch, listed, RUN_ID, expect_settlement=True)
    landing = tmp / "landing"
    run_dir = landing / "scheduled__2025-04-02T00_00_00_00_00"
    run_dir.mkdir(parents=True)
    (run_dir / "transactions.jsonl").write_text("".join(json.dumps(t.to_json_dict()) + "\n" for t in txs))
    gx_dir = tmp / "gx"
    rel = Path("paytrace_transaction/v1") / RUN_ID / "20250402T000000.000000Z"
    vdir = gx_dir / "gx/uncommitted/validations" / rel
    vdir.mkdir(parents=True)
    (vdir / "paytrace_sl-paytrace_transaction.json").write_text(
        json.dumps(
            {
                "meta": {"run_id": {"run_name": RUN_ID, "run_time": "2025-04-02T00:00:00+00:00"}},
                "suite_name": "paytrace_transaction.v1",
                "success": False,
                "statistics": {
                    "evaluated_expectations": 2,
                    "successful_expectations": 1,
                    "unsuccessful_expectations": 1,
                },
                "results": [
                    {
                        "success": True,
                        "expectation_config": {
                            "type": "expect_column_values_to_not_be_null",
                            "kwargs": {"column": "transaction_id"},
                        },
                    },
                    {
                        "success": False,
                        "expectation_config": {
                            "type": "expect_column_values_to_match_regex",
                            "kwargs": {"column": "amount"},
                        },
                    },
                ],
            }
        )
    )
    hdir = gx_dir / "data_docs/validations" / rel
    hdir.mkdir(parents=True)
    (hdir / "paytrace_sl-paytrace_transaction.html").write_text("<html><body>docs</body></html>")
    return World(url, engine, landing, gx_dir, txs, batches)
