"""The steps of ``paytrace_customers_to_sl`` (and ``paytrace-sl customers sync``), one window each.

``export_profiles`` → ``link_profiles`` → ``expiring_cards`` → ``summarize``. The vault export has no
date filter (paytrace-api.md §2.1): every run, a backfilled one too, reads the vault as it is now; the
window's end (merchant-local day) is the "today" of the expiring-cards list. Steps hand over through
the run's landing directory: parsed profiles only (last four card digits), never the raw export.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from paytrace_sl.customers.expiring import expiring_cards
from paytrace_sl.customers.profiles import VaultProfile
from paytrace_sl.customers.sync import SyncOptions, SyncResult, parse_all, sync_profiles
from paytrace_sl.pipeline import runner
from paytrace_sl.pipeline.windows import Window

DAG_ID = "paytrace_customers_to_sl"
PROFILES_FILE = "vault_profiles.jsonl"
EXPORT_FILE = "vault_export.json"
LINK_FILE = "vault_link.json"
EXPIRING_FILE = "expiring_cards.json"


def export_step(cfg: runner.PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """PayTrace ``customer/export`` → parsed profiles in the landing dir; bad profiles → dead letters."""
    runner.mark_run_started(cfg, window, run_id)
    client = runner._client(cfg)
    raw = client.export_customers_raw()
    profiles, result = parse_all(raw)
    landing = runner._landing(cfg, run_id)
    landing.write_jsonl(PROFILES_FILE, (asdict(p) for p in profiles))
    with runner._engine(cfg) as engine:
        runner._install_own_tables(engine)
        letters = runner.record_dead_letters(engine, run_id, result.dead_letters)
    summary = {
        "fetched": result.fetched,
        "profiles": len(profiles),
        "dead_lettered": len(result.dead_letters),
        "dead_letters_new": letters,
        "complete": not result.dead_letters,
    }
    return runner._write_step_summary(landing, "export_profiles", summary)


def link_step(cfg: runner.PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Store the profiles and link each to its SL customer (or a suggestion); optional creation."""
    landing = runner._landing(cfg, run_id)
    exported = runner._read_step_summary(landing, "export_profiles")
    profiles = [VaultProfile(**row) for row in landing.read_jsonl(PROFILES_FILE)]
    mapping = runner._load_mapping(cfg)
    options = SyncOptions.from_mapping(mapping, user=cfg.sl_user, program=cfg.program)
    with runner._engine(cfg) as engine:
        result = sync_profiles(
            engine, profiles, options, run_id=run_id, complete=bool(exported.get("complete"))
        )
    summary = result.summary() | {"fetched": exported.get("fetched", len(profiles))}
    summary["dead_lettered"] = exported.get("dead_lettered", 0)
    summary["not_created_reasons"] = result.not_created[:20]
    return runner._write_step_summary(landing, "link_profiles", summary)


def merchant_today(window: Window) -> dt.date:
    """The last merchant-local day of the window (the day the run is about)."""
    last = window.days()[-1].start  # cut at merchant midnights in UTC arithmetic (runner._report_days)
    return dt.date(last.year, last.month, last.day)


def expiring_step(cfg: runner.PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Vault cards expiring within ``customers.expiring_days`` for customers with open invoices."""
    landing = runner._landing(cfg, run_id)
    mapping = runner._load_mapping(cfg)
    today = merchant_today(window)
    with runner._engine(cfg) as engine, engine.connect() as conn:
        cards = expiring_cards(conn, today, mapping.customers.expiring_days)
    landing.write_json(EXPIRING_FILE, [c.as_dict() for c in cards])
    summary = {"as_of": today.isoformat(), "days": mapping.customers.expiring_days, "expiring": len(cards)}
    return runner._write_step_summary(landing, "expiring_cards", summary)


def summarize_step(cfg: runner.PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """The run's ``xPTRun`` row with the counts of every step."""
    landing = runner._landing(cfg, run_id)
    counts = {
        "link": runner._read_step_summary(landing, "link_profiles"),
        "expiring": runner._read_step_summary(landing, "expiring_cards"),
    }
    counts["link"].pop("not_created_reasons", None)
    status = "success" if not counts["link"].get("dead_lettered") else "partial"
    with runner._engine(cfg) as engine:
        runner.record_run(engine, run_id, DAG_ID, window, status, counts)
    return {"status": status, **counts}


CUSTOMER_STEPS = (
    ("export_profiles", export_step),
    ("link_profiles", link_step),
    ("expiring_cards", expiring_step),
    ("summarize", summarize_step),
)


def run_customers(cfg: runner.PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """All steps in order (the CLI; the DAG runs them as tasks)."""
    out: dict[str, Any] = {}
    for name, step in CUSTOMER_STEPS:
        out[name] = step(cfg, window, run_id)
    return out


__all__ = ["CUSTOMER_STEPS", "DAG_ID", "SyncResult", "run_customers"]
