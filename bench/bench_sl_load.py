"""Load benchmark: payments into a PostgreSQL SL sandbox, bulk writer vs a naive row-at-a-time baseline.

Creates a fresh PostgreSQL database, builds the SL replica from SL's DDL and seeds it with the sandbox
company (``paytrace_sl_sandbox.sl_seed.init_sandbox``), then writes ``--count`` unapplied card payments
through :class:`paytrace_sl.sl.writer.SLWriter` in batches of ``--batch-size`` (each batch: one
transaction, numbering under lock, every column, ledger rows, preflight). The baseline writes
``--baseline-count`` payments through the same writer with ``bulk=False`` (one INSERT round trip per row)
in the same run, so both numbers come from the same machine and moment.

    .venv/bin/python bench/bench_sl_load.py                 # 100,000 payments (default)
    .venv/bin/python bench/bench_sl_load.py --count 20000   # quicker

Rows/s counts SL rows (Batch + ARDoc) plus our ledger rows actually inserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc  # the benches' database helpers
from paytrace_sl.plan import Account, PlannedBatch, PlannedPayment, PostingKind, PostingPlan
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.sl_seed import SandboxSLConfig, init_sandbox

CLEARING = Account("1020", "000000")  # sandbox chart: "Card clearing - PayTrace"


def _plan(
    first_txn: int, count: int, batch_size: int, customers: list[str], day: dt.date, cpny: str
) -> PostingPlan:
    rnd = random.Random(first_txn)
    pays = [
        PlannedPayment(
            transaction_id=first_txn + i,
            cust_id=customers[i % len(customers)],
            amount=Decimal(rnd.randint(100, 250_000)) / 100,
            doc_date=day,
            cash_account=CLEARING,
            description=f"Visa ****{rnd.randint(0, 9999):04d}",
        )
        for i in range(count)
    ]
    batches = tuple(
        PlannedBatch(PostingKind.PAYMENT, cpny, tuple(pays[i : i + batch_size]), description="PayTrace bench")
        for i in range(0, count, batch_size)
    )
    return PostingPlan(batches)


def _run(engine: sa.Engine, plan: PostingPlan, *, bulk: bool) -> tuple[float, int]:
    writer = SLWriter(engine, run_id=f"bench-{'bulk' if bulk else 'naive'}", bulk=bulk)
    writer.prepare({b.cpny_id for b in plan.batches})
    started = time.perf_counter()
    result = writer.write_plan(plan)
    seconds = time.perf_counter() - started
    rows = 2 * result.posted + len(result.batch_numbers)  # ARDoc + ledger per payment, Batch per batch
    return seconds, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=100_000, help="payments for the bulk writer (default 100000)"
    )
    parser.add_argument(
        "--baseline-count",
        type=int,
        default=None,
        help="payments for the naive baseline (default: count/10, at least 1000)",
    )
    parser.add_argument("--batch-size", type=int, default=5000, help="payments per SL batch (default 5000)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args(argv)
    baseline = args.baseline_count or max(1000, args.count // 10)

    name = f"ptsl_bench_{uuid.uuid4().hex[:10]}"
    bc.create_db(name)
    url = bc.url(name)
    try:
        cfg = SandboxSLConfig()
        merchant = MerchantConfig(days=1, tx_per_day=10, customers=50)
        seeded = init_sandbox(url, merchant, sl_config=cfg)
        engine = create_sl_engine(url)
        with engine.connect() as conn:
            customers = [str(c).strip() for c in conn.execute(sa.select(catalog.Customer.c.CustId)).scalars()]
        day = merchant.start
        print(
            f"sandbox: {seeded.url} company {cfg.cpny_id}, {len(customers)} customers, "
            f"PerPost {seeded.per_nbr}"
        )

        naive_s, naive_rows = _run(
            engine, _plan(10_000_000, baseline, args.batch_size, customers, day, cfg.cpny_id), bulk=False
        )
        bulk_s, bulk_rows = _run(
            engine, _plan(20_000_000, args.count, args.batch_size, customers, day, cfg.cpny_id), bulk=True
        )
        engine.dispose()
        naive_rate, bulk_rate = naive_rows / naive_s, bulk_rows / bulk_s
        header = f"{'path':<28}{'payments':>10}{'rows':>10}{'seconds':>10}{'rows/s':>10}{'payments/s':>12}"
        print(header)
        for label, n, rows, secs in (
            ("naive (1 INSERT per row)", baseline, naive_rows, naive_s),
            ("bulk (pipeline/COPY)", args.count, bulk_rows, bulk_s),
        ):
            print(f"{label:<28}{n:>10}{rows:>10}{secs:>10.2f}{rows / secs:>10.0f}{n / secs:>12.0f}")
        print(f"speed-up: {bulk_rate / naive_rate:.1f}x  (batch size {args.batch_size}; preflight per batch)")
    finally:
        if not args.keep:
            bc.drop_db(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
