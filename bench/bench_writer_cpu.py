"""CPU of the SL writer's payments path without a database: build, check and render one batch to COPY text.

One batch of ``--payments`` unapplied card payments (each with its own ``Account`` object, as a plan read
back from JSON has) goes through ``_build_payments`` and ``_insert_all`` with ``_copy`` replaced by a byte
counter, so only our Python is timed. ``time.process_time`` (CPU of this process, best of ``--repeat``):
on a shared machine wall-clock figures move with the load average, CPU time much less.

    .venv/bin/python bench/bench_writer_cpu.py
    PYTHONPATH=<other checkout>/include:<other checkout>/plugins .venv/bin/python bench/bench_writer_cpu.py

The second form measures another checkout (e.g. ``main``) with the same script, for a before/after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

from paytrace_sl.plan import Account, PlannedBatch, PlannedPayment, PostingKind
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl.sl.writer.model import BatchResult, _Work


class _Setup:
    cury_dec_pl = 2
    base_cury_id = "USD"


class _Conn:
    dialect = pg_psycopg.dialect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=5000, help="payments in the batch (default 5000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is printed (default 5)")
    args = parser.parse_args(argv)
    rnd = random.Random(1)
    n = args.payments
    pays = tuple(
        PlannedPayment(
            20_000_000 + i,
            f"C{i % 50:05d}",
            Decimal(rnd.randint(100, 250_000)) / 100,
            dt.date(2025, 4, 1),
            Account("1020", "000000"),
            description=f"Visa ****{rnd.randint(0, 9999):04d}",
            ext_ref_nbr=f"INV{i}",
            paytrace_state="settled",
            paytrace_type="SALE",
            customer_digest="abcdef",
        )
        for i in range(n)
    )
    batch = PlannedBatch(PostingKind.PAYMENT, "PTDEMO", pays)
    writer: Any = SLWriter(sa.create_engine("sqlite://"))
    sizes: dict[str, int] = {}

    def count(conn: object, tbl: sa.Table, names: object, data: Iterable[str]) -> None:
        sizes[tbl.name] = sum(map(len, data))

    writer._use_copy = lambda conn, rows: True
    writer._copy = count
    writer._identity = lambda conn: True
    best_build = best_insert = float("inf")
    for _ in range(args.repeat):
        work, result = _Work(), BatchResult("payment", "PTDEMO")
        started = time.process_time()
        writer._build_payments(
            None, pays, batch, _Setup, "000123", "202504", dt.datetime(2025, 4, 1, 9), work, result
        )
        built = time.process_time()
        writer._insert_all(_Conn(), work)
        done = time.process_time()
        best_build, best_insert = min(best_build, built - started), min(best_insert, done - built)
    per = 1e6 / n
    print(
        f"{n} payments: build {best_build * per:.1f} µs/payment, check + COPY text {best_insert * per:.1f} "
        f"µs/payment, total {(best_build + best_insert) * per:.1f} µs/payment; COPY bytes {sizes}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
