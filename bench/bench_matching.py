"""Assisted customer matching, measured: precision and recall of auto-links and of suggestions.

Builds an SL replica (SQLite file from SL's DDL, or ``--pg`` for a fresh PostgreSQL database) with
``--sl`` synthetic SL customers (people and businesses, namesakes included), then makes the vault a
merchant would have (:func:`paytrace_sl_sandbox.vault.noisy_vault`): noisy copies of about half of them
under new ids (typos, Inc./LLC, swapped name order, changed e-mail domain or no e-mail, moved address,
reformatted or missing phone, upper case) plus decoys in no SL table (a third of them namesakes of SL
customers). Each vault record goes through the real parser and :func:`build_suggester` at the default
thresholds (``data_contracts/mapping.yaml``); the ground truth is compared with what came back.

    .venv/bin/python bench/bench_matching.py                    # 2,000 SL customers, 3 seeds
    .venv/bin/python bench/bench_matching.py --sl 5000 --seeds 1 --json

* auto-links: precision = correct auto-links / auto-links; recall = correct auto-links / vault records
  that have an SL customer;
* suggestions (the top suggestion at or above the suggestion threshold, auto-links included):
  precision = correct top suggestions / records with a suggestion; recall = records whose SL customer
  is the top suggestion / records that have an SL customer. ``top3_recall``: among the first three.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from paytrace_sl.customers.profiles import parse_profile
from paytrace_sl.customers.suggest import build_suggester
from paytrace_sl.customers.sync import payer_facts
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install
from paytrace_sl.sl.rows import complete_row
from paytrace_sl_sandbox.sl_seed import create_sl_tables
from paytrace_sl_sandbox.vault import SLTruth, noisy_vault, synthetic_sl_customers

GOALS = {"auto_precision": 0.99, "suggest_recall": 0.9, "suggest_precision": 0.9}


def customer_row(t: SLTruth, now: dt.datetime) -> dict[str, object]:
    values: dict[str, object] = {
        "CustId": t.cust_id,
        "Name": t.name,
        "EMailAddr": t.email,
        "Addr1": t.street,
        "City": t.city,
        "State": t.state,
        "Zip": t.postal_code,
        "Phone": t.phone,
        "Status": "A",
        "ClassId": "RETAIL",
        "Crtd_DateTime": now,
        "LUpd_DateTime": now,
    }
    values |= {f"Bill{k}": values[k] for k in ("Addr1", "City", "State", "Zip", "Phone")}
    values["BillName"] = t.name
    return complete_row(catalog.Customer, values, include_identity=False)


def build_sl(url: str, customers: list[SLTruth]) -> sa.Engine:
    engine = create_sl_engine(url)
    with engine.begin() as conn:
        create_sl_tables(conn)
    install(engine, require_sl=False)
    now = dt.datetime(2025, 4, 1, 9, 0)
    with engine.begin() as conn:
        conn.execute(sa.insert(catalog.Customer), [customer_row(t, now) for t in customers])
    return engine


def measure(engine: sa.Engine, sl: list[SLTruth], seed: int, auto: float, suggest: float) -> dict[str, Any]:
    vault = noisy_vault(sl, seed=seed, matched_share=0.5)
    suggester = build_suggester(engine, auto_link_threshold=auto, suggest_threshold=suggest)
    counts = dict.fromkeys(
        ("records", "matchable", "auto", "auto_ok", "suggested", "suggest_ok", "top3_ok"), 0
    )
    misses: dict[str, int] = {}
    started = time.perf_counter()
    for raw in vault.records:
        profile = parse_profile(raw)
        want = vault.truth[profile.customer_id]
        got = suggester.suggest(payer_facts(profile), limit=3)
        counts["records"] += 1
        counts["matchable"] += want is not None
        if got:
            counts["suggested"] += 1
            counts["suggest_ok"] += got[0].cust_id == want
            counts["top3_ok"] += any(s.cust_id == want for s in got)
            if got[0].auto_link:
                counts["auto"] += 1
                counts["auto_ok"] += got[0].cust_id == want
        if want is not None and (not got or got[0].cust_id != want):
            for kind in vault.noise[profile.customer_id]:
                misses[kind] = misses.get(kind, 0) + 1
    seconds = time.perf_counter() - started
    return {**counts, "seconds": round(seconds, 3), "misses_by_noise": misses}


def time_sync(engine: sa.Engine, sl: list[SLTruth], auto: float, suggest: float) -> dict[str, float]:
    """Seconds for the DAG's link step on the first vault: first run (all new) and a rerun."""
    from paytrace_sl.customers.sync import SyncOptions, parse_all, sync_profiles

    profiles, _ = parse_all(noisy_vault(sl, seed=1, matched_share=0.5).records)
    options = SyncOptions(auto_link_threshold=auto, suggest_threshold=suggest)
    out = {}
    for label in ("first", "rerun"):
        started = time.perf_counter()
        sync_profiles(engine, profiles, options, run_id=f"bench-{label}")
        out[label] = round(time.perf_counter() - started, 2)
    out["profiles"] = len(profiles)
    return out


def ratio(num: int, den: int) -> float:
    return round(num / den, 4) if den else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sl", type=int, default=2000, help="SL customers (default 2000)")
    parser.add_argument("--seeds", type=int, default=3, help="vault seeds to average over (default 3)")
    parser.add_argument("--auto", type=float, default=None, help="auto-link threshold (default: mapping)")
    parser.add_argument("--suggest", type=float, default=None, help="suggestion threshold (default: mapping)")
    parser.add_argument(
        "--sync", action="store_true", help="also time sync_profiles (store + link) of the first vault"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    mapping = load_mapping()
    auto = mapping.customers.auto_link_threshold if args.auto is None else args.auto
    suggest = mapping.customers.suggest_threshold if args.suggest is None else args.suggest
    sl = synthetic_sl_customers(args.sl, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        engine = build_sl(f"sqlite:///{Path(tmp) / 'sl.db'}", sl)
        try:
            runs = [measure(engine, sl, seed, auto, suggest) for seed in range(1, args.seeds + 1)]
            sync_seconds = time_sync(engine, sl, auto, suggest) if args.sync else None
        finally:
            engine.dispose()
    total = {k: sum(r[k] for r in runs) for k in runs[0] if k != "misses_by_noise"}
    misses: dict[str, int] = {}
    for r in runs:
        for k, v in r["misses_by_noise"].items():
            misses[k] = misses.get(k, 0) + v
    result = {
        "sl_customers": args.sl,
        "seeds": args.seeds,
        "auto_link_threshold": auto,
        "suggest_threshold": suggest,
        "vault_records": total["records"],
        "with_sl_customer": total["matchable"],
        "auto_links": total["auto"],
        "auto_precision": ratio(total["auto_ok"], total["auto"]),
        "auto_recall": ratio(total["auto_ok"], total["matchable"]),
        "suggestions": total["suggested"],
        "suggest_precision": ratio(total["suggest_ok"], total["suggested"]),
        "suggest_recall": ratio(total["suggest_ok"], total["matchable"]),
        "top3_recall": ratio(total["top3_ok"], total["matchable"]),
        "ms_per_record": round(1000 * total["seconds"] / max(total["records"], 1), 3),
        "misses_by_noise": dict(sorted(misses.items())),
    }
    if sync_seconds is not None:
        result["sync_seconds_first_vault"] = sync_seconds
    met = (
        result["auto_precision"] >= GOALS["auto_precision"]
        and result["suggest_recall"] >= GOALS["suggest_recall"]
        and result["suggest_precision"] >= GOALS["suggest_precision"]
    )
    result["goals_met"] = met
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:22} {value}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
