"""Fraud benchmark (issue 16 §1): per-pattern precision and recall on the sandbox's injected patterns, the
alert rate on clean days, and the scoring time at 100k transactions.

A fresh PostgreSQL database holds our ``xPTFraud*`` tables. The sandbox merchant generates ``--days``
days; :mod:`paytrace_sl_sandbox.fraud_patterns` adds labelled incidents at ``--rate`` (the labels stay
here, never in the records). Each day is one window scored by :func:`paytrace_sl.fraud.score.score_window`
with the previous day as look-back, exactly as the ``score_fraud`` step does; the first ``--warmup``
days build the merchant's history (the history rules and the model need it) and are not counted.
The same days without injection give the alert rate on clean days.

    .venv/bin/python bench/bench_fraud.py                  # 2,000 tx/day, 28 days, then 100k timing
    .venv/bin/python bench/bench_fraud.py --big 0          # skip the 100k timing
    .venv/bin/python bench/bench_fraud.py --json out.json

Scoring time is compared with the end-to-end time of a 100k window (docs/performance.md: 58.4 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import psycopg
import sqlalchemy as sa

from paytrace_sl.fraud.config import FraudConfig
from paytrace_sl.fraud.features import build_frame_from_rows
from paytrace_sl.fraud.score import score_window
from paytrace_sl.paytrace.parse import parse_transaction
from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.sl.own_tables import install
from paytrace_sl_sandbox.fraud_patterns import FraudInjection, inject_day
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation

ADMIN_DSN = os.environ.get("PAYTRACE_SL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PIPELINE_100K_SECONDS = 58.4  # docs/performance.md, end to end at 100k transactions


@contextmanager
def fresh_database() -> Iterator[sa.Engine]:
    name = f"bench_fraud_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = sa.make_url(ADMIN_DSN.replace("postgresql://", "postgresql+psycopg://", 1))
    engine = sa.create_engine(base.set(database=name))
    try:
        install(engine, require_sl=False)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _remask(rec: dict[str, Any]) -> dict[str, Any]:
    masked = rec["credit_card"]["masked_number"]
    rec["credit_card"]["masked_number"] = "*" * (len(masked) - 4) + masked[-4:]
    return rec


def generate(
    sim: MerchantSimulation, injection: FraudInjection
) -> tuple[dict[dt.date, list[Transaction]], dict[int, str]]:
    """Every day's parsed transactions (clean + injected) and the labels of the injected ones."""
    next_id = iter(range(sim.next_free_id(), 10**10))
    days: dict[dt.date, list[Transaction]] = {}
    labels: dict[int, str] = {}
    for i in range(sim.config.days):
        day = sim.config.start + dt.timedelta(days=i)
        records = [parse_transaction(r, sim.tz) for r in sim.transactions_for_day(day)]
        for rec, label in inject_day(sim, day, injection, lambda: next(next_id)):
            tx = parse_transaction(_remask(rec), sim.tz)
            labels[tx.transaction_id] = label
            records.append(tx)
        days[day] = records
    return days, labels


def run_days(
    engine: sa.Engine, sim: MerchantSimulation, days: dict[dt.date, list[Transaction]], cfg: FraudConfig
) -> tuple[dict[dt.date, list[dict[str, Any]]], list[float]]:
    """Score day after day (look-back: the previous day); the alerts per day and the seconds per day."""
    alerts: dict[dt.date, list[dict[str, Any]]] = {}
    seconds: list[float] = []
    ordered = sorted(days)
    for i, day in enumerate(ordered):
        start = dt.datetime.combine(day, dt.time(), sim.tz)
        end = start + dt.timedelta(days=1)
        frame = (days[ordered[i - 1]] if i else []) + days[day]
        clock = time.perf_counter()
        result = score_window(engine, frame, start, end, cfg, run_id=f"bench-{day}")
        seconds.append(time.perf_counter() - clock)
        alerts[day] = result.alerts
    return alerts, seconds


def metrics(
    alerts: dict[dt.date, list[dict[str, Any]]],
    labels: dict[int, str],
    days: dict[dt.date, list[Transaction]],
    counted: list[dt.date],
) -> dict[str, Any]:
    alerted: dict[int, list[str]] = {}
    for day in counted:
        for a in alerts[day]:
            alerted[int(a["transaction_id"])] = list(a["patterns"])
    ids = {t.transaction_id for day in counted for t in days[day]}
    truth = {tid: p for tid, p in labels.items() if tid in ids}
    per: dict[str, dict[str, Any]] = {}
    named = Counter(p for ps in alerted.values() for p in ps)
    for pattern in sorted(set(truth.values()) | set(named)):
        positives = [tid for tid, p in truth.items() if p == pattern]
        found = sum(1 for tid in positives if tid in alerted)
        naming = [tid for tid, ps in alerted.items() if pattern in ps]
        # precision of a pattern: its alerts that are injected fraud (of any pattern: one incident often
        # shows several patterns, e.g. a refund to a new card for more than the sale)
        right = sum(1 for tid in naming if tid in truth)
        per[pattern] = {
            "injected": len(positives),
            "recall": round(found / len(positives), 3) if positives else None,
            "alerts": len(naming),
            "precision": round(right / len(naming), 3) if naming else None,
            "named_exactly": sum(1 for tid in naming if truth.get(tid) == pattern),
        }
    clean = len(ids) - len(truth)
    false_alerts = sum(1 for tid in alerted if tid not in truth)
    return {
        "transactions": len(ids),
        "injected": len(truth),
        "alerts": len(alerted),
        "recall": round(sum(1 for tid in truth if tid in alerted) / max(len(truth), 1), 3),
        "precision": round(sum(1 for tid in alerted if tid in truth) / max(len(alerted), 1), 3),
        "false_alerts_per_1000_clean": round(1000 * false_alerts / max(clean, 1), 3),
        "per_pattern": per,
    }


def timing(tx_per_day: int, customers: int, rate: float) -> dict[str, Any]:
    """Scoring seconds for one 100k-transaction window (plus its look-back day), history already built."""
    sim = MerchantSimulation(MerchantConfig(tx_per_day=tx_per_day, days=3, customers=customers, seed=7))
    days, _ = generate(sim, FraudInjection(rate=rate))
    cfg = FraudConfig()
    with fresh_database() as engine:
        ordered = sorted(days)
        for i, day in enumerate(ordered):
            start = dt.datetime.combine(day, dt.time(), sim.tz)
            frame = (days[ordered[i - 1]] if i else []) + days[day]
            rows = [t.to_json_dict() for t in frame]  # what the step reads from validated.jsonl
            clock, cpu = time.perf_counter(), time.process_time()
            landed = build_frame_from_rows(rows)  # as the score_fraud step does
            built = time.perf_counter() - clock
            result = score_window(engine, landed, start, start + dt.timedelta(days=1), cfg, run_id=f"t{i}")
            total, cpu = time.perf_counter() - clock, time.process_time() - cpu
            result.seconds["context"] += built
        scoring = sum(v for k, v in result.seconds.items() if k != "store")
        return {
            "window_transactions": result.scored,
            "frame_transactions": len(frame),
            "scoring_seconds": round(scoring, 2),
            "store_seconds": round(result.seconds.get("store", 0.0), 2),
            "total_seconds": round(total, 2),
            "total_cpu_seconds": round(cpu, 2),  # this process only; wall time grows with machine load
            "load_average": [round(v, 1) for v in os.getloadavg()],
            "by_stage": {k: round(v, 3) for k, v in result.seconds.items()},
            "share_of_pipeline_window": round(scoring / PIPELINE_100K_SECONDS, 4),
            "share_with_store": round(total / PIPELINE_100K_SECONDS, 4),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tx-per-day", type=int, default=2000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.005, help="incidents per clean transaction")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--big", type=int, default=100_000, help="transactions for the timing run (0: skip)")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--timing-only", action="store_true", help="only the 100k timing")
    args = parser.parse_args(argv)
    if args.timing_only:
        print(json.dumps(timing(args.big, max(args.customers, 2000), args.rate), indent=2))
        return 0

    cfg = FraudConfig()
    out: dict[str, Any] = {"config": vars(args)}
    sim = MerchantSimulation(
        MerchantConfig(tx_per_day=args.tx_per_day, days=args.days, customers=args.customers, seed=args.seed)
    )
    counted_days = [sim.config.start + dt.timedelta(days=i) for i in range(args.warmup, args.days)]
    days, labels = generate(sim, FraudInjection(rate=args.rate, seed=args.seed))
    with fresh_database() as engine:
        alerts, seconds = run_days(engine, sim, days, cfg)
    out["injected"] = metrics(alerts, labels, days, counted_days)
    out["injected"]["seconds_per_day"] = round(sum(seconds) / len(seconds), 3)

    # the unsupervised layer alone (no rules): what it would find by itself
    with fresh_database() as engine:
        model_alerts, _ = run_days(engine, sim, days, replace(cfg, rules_enabled=False))
    model_only = metrics(model_alerts, labels, days, counted_days)
    out["model_only"] = {
        k: model_only[k] for k in ("alerts", "recall", "precision", "false_alerts_per_1000_clean")
    }
    out["model_only"]["recall_by_pattern"] = {
        p: sum(
            1 for day in counted_days for a in model_alerts[day] if labels.get(int(a["transaction_id"])) == p
        )
        / max(v["injected"], 1)
        for p, v in out["injected"]["per_pattern"].items()
        if v["injected"]
    }

    clean_days, _ = generate(sim, FraudInjection(rate=0.0))
    with fresh_database() as engine:
        clean_alerts, _ = run_days(engine, sim, clean_days, cfg)
    clean = metrics(clean_alerts, {}, clean_days, counted_days)
    by_pattern: dict[str, int] = defaultdict(int)
    for day in counted_days:
        for a in clean_alerts[day]:
            for p in a["patterns"]:
                by_pattern[p] += 1
    out["clean_days"] = {
        "transactions": clean["transactions"],
        "alerts": clean["alerts"],
        "alerts_per_1000": clean["false_alerts_per_1000_clean"],
        "by_pattern": dict(sorted(by_pattern.items())),
    }
    if args.big:
        out["timing_100k"] = timing(args.big, max(args.customers, 2000), args.rate)
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
