"""Preflight benchmark: one batch's release checks against a growing unreleased history (issue 17).

Creates a fresh PostgreSQL database with the SL sandbox company (``init_sandbox``), then writes
``--history`` unreleased AR batches through :class:`~paytrace_sl.sl.writer.SLWriter`, each of
``--payments`` payments applying a cent to an open invoice of their customer (SL keeps application lines
in ``ARTran`` until a batch is released). Every ``--step`` batches it times, for one new batch of the same
shape, in the same process and on the same data:

* the pending-applications query before issue 17 (every unreleased AR batch's application lines grouped,
  then the batch's own targets kept), kept below as the baseline;
* the same check now (the batch's customers first, then only their application lines);
* the whole ``run_preflight`` of the batch, as the writer and the preflight step run it.

    .venv/bin/python bench/bench_preflight.py                          # 60 batches of 500, quick
    .venv/bin/python bench/bench_preflight.py --history 240 --payments 1000

Each figure is the median of ``--repeat`` runs; the ratio (before / now) is what to read, the seconds
move with whatever else the machine does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc  # the benches' database helpers
from paytrace_sl.plan import (
    Account,
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.preflight import _Scope, _suspect_targets, run_preflight
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl.sl.writer_sql import unreleased_ar_batches_stmt
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.sl_seed import SandboxSLConfig, init_sandbox

CLEARING = Account("1020", "000000")  # sandbox chart: "Card clearing - PayTrace"
T, D = catalog.ARTran, catalog.ARDoc


def before_issue_17(bat_nbr: str) -> sa.Select[Any]:
    """The suspect-applications query as it was: all unreleased application lines grouped first."""
    tg = (
        sa.select(T.c.CustId, T.c.CostType, T.c.SiteId, sa.func.sum(T.c.CuryTranAmt).label("total"))
        .where(T.c.DrCr == "U", T.c.BatNbr.in_(unreleased_ar_batches_stmt()))
        .group_by(T.c.CustId, T.c.CostType, T.c.SiteId)
        .having(sa.func.max(sa.case((T.c.BatNbr == bat_nbr, 1), else_=0)) == 1)
    ).subquery("tg")
    doc = sa.and_(D.c.CustId == tg.c.CustId, D.c.DocType == tg.c.CostType, D.c.RefNbr == tg.c.SiteId)
    return (
        sa.select(tg.c.SiteId)
        .select_from(tg.outerjoin(D, doc))
        .where(
            sa.or_(
                D.c.RefNbr.is_(None),
                D.c.Rlsed == 0,
                D.c.OpenDoc == 0,
                D.c.CuryDocBal <= 0,
                tg.c.total > D.c.CuryDocBal,
            )
        )
        .distinct()
    )


class History:
    def __init__(self, engine: sa.Engine, cpny: str, day: dt.date, payments: int, customers_per_batch: int):
        self.engine, self.cpny, self.day = engine, cpny, day
        self.payments, self.customers_per_batch = payments, customers_per_batch
        self.rnd = random.Random(17)
        self.next_txn = 50_000_000
        invoices: dict[str, list[str]] = defaultdict(list)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(D.c.CustId, D.c.RefNbr).where(
                    D.c.DocType == "IN", D.c.Rlsed == 1, D.c.OpenDoc == 1, D.c.CuryDocBal > 100
                )
            )
            for cust, ref in rows:
                invoices[str(cust).strip()].append(str(ref).strip())
        self.invoices = dict(invoices)
        self.customers = sorted(self.invoices)

    def batch(self) -> PlannedBatch:
        """``payments`` payments of ``customers_per_batch`` customers, each applying 0.01 to an invoice."""
        custs = self.rnd.sample(self.customers, min(self.customers_per_batch, len(self.customers)))
        items = []
        for i in range(self.payments):
            cust = custs[i % len(custs)]
            ref = self.rnd.choice(self.invoices[cust])
            self.next_txn += 1
            items.append(
                PlannedPayment(
                    transaction_id=self.next_txn,
                    cust_id=cust,
                    amount=Decimal("1.00"),
                    doc_date=self.day,
                    cash_account=CLEARING,
                    applications=(InvoiceApplication(ref, Decimal("0.01")),),
                )
            )
        return PlannedBatch(PostingKind.PAYMENT, self.cpny, tuple(items), description="PayTrace bench")

    def write(self, n: int) -> list[str]:
        writer = SLWriter(self.engine, run_id="bench-preflight")
        result = writer.write_plan(PostingPlan(tuple(self.batch() for _ in range(n))))
        return [b.bat_nbr for b in result.batches]


def _median(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(engine: sa.Engine, bat_nbr: str, repeat: int) -> tuple[float, float, float, int]:
    with engine.connect() as conn:
        old = sorted(r[0] for r in conn.execute(before_issue_17(bat_nbr)))
        new = sorted(_suspect_targets(conn, _Scope("AR", bat_nbr)))
        if old != new:
            raise SystemExit(f"the two queries disagree for batch {bat_nbr}: {old[:5]} vs {new[:5]}")
        t_old = _median(lambda: conn.execute(before_issue_17(bat_nbr)).all(), repeat)
        t_new = _median(lambda: _suspect_targets(conn, _Scope("AR", bat_nbr)), repeat)
        t_all = _median(lambda: run_preflight(conn, module="AR", bat_nbr=bat_nbr), repeat)
        lines = conn.execute(
            sa.select(sa.func.count()).where(T.c.DrCr == "U", T.c.BatNbr.in_(unreleased_ar_batches_stmt()))
        ).scalar_one()
    return t_old, t_new, t_all, int(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=60, help="unreleased batches at the end (default 60)")
    parser.add_argument("--step", type=int, default=20, help="measure every this many batches (default 20)")
    parser.add_argument("--payments", type=int, default=500, help="payments per batch (default 500)")
    parser.add_argument("--customers", type=int, default=400, help="sandbox customers (default 400)")
    parser.add_argument(
        "--customers-per-batch", type=int, default=40, help="customers one batch pays for (default 40)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure, median shown (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args(argv)

    name = f"ptsl_bench_{uuid.uuid4().hex[:10]}"
    bc.create_db(name)
    url = bc.url(name)
    try:
        cfg = SandboxSLConfig()
        merchant = MerchantConfig(days=30, tx_per_day=200, customers=args.customers)
        seeded = init_sandbox(url, merchant, sl_config=cfg)
        engine = create_sl_engine(url)
        history = History(engine, cfg.cpny_id, merchant.start, args.payments, args.customers_per_batch)
        print(
            f"sandbox: company {cfg.cpny_id}, {len(history.customers)} customers with open invoices, "
            f"{seeded.invoices} invoices; {args.payments} payments per batch over "
            f"{args.customers_per_batch} customers; load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'unreleased':>10}{'U lines':>10}{'before s':>10}{'now s':>10}{'ratio':>8}{'preflight s':>13}"
        )
        rows = []
        written = 0
        while True:
            (probe,) = history.write(1)  # the batch being checked, as the writer has just written it
            t_old, t_new, t_all, lines = measure(engine, probe, args.repeat)
            rows.append((written, lines, t_old, t_new, t_all))
            print(
                f"{written:>10}{lines:>10}{t_old:>10.4f}{t_new:>10.4f}{t_old / t_new:>7.1f}x{t_all:>13.4f}",
                flush=True,
            )
            written += 1
            if written > args.history:
                break
            todo = min(args.step, args.history + 1 - written)
            history.write(todo)
            written += todo
        first, last = rows[0], rows[-1]
        print(
            f"history {first[0]} -> {last[0]} batches: before {first[2]:.4f} -> {last[2]:.4f} s "
            f"({last[2] / first[2]:.1f}x), now {first[3]:.4f} -> {last[3]:.4f} s "
            f"({last[3] / first[3]:.1f}x); "
            f"whole preflight {first[4]:.3f} -> {last[4]:.3f} s; load average {os.getloadavg()[0]:.1f}"
        )
        engine.dispose()
    finally:
        if not args.keep:
            bc.drop_db(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
