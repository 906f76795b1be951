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
from paytrace_sl.pipeline.bookkeeping import mark_run_started, record_dead_letters, record_run
from paytrace_sl.pipeline.config import PipelineConfig, with_dag
from paytrace_sl.pipeline.context import RunContext
from paytrace_sl.pipeline.files import summary_file
from paytrace_sl.pipeline.windows import Window

DAG_ID = "paytrace_customers_to_sl"
PROFILES_FILE = "vault_profiles.jsonl"
EXPORT_FILE = "vault_export.json"
LINK_FILE = "vault_link.json"
EXPIRING_FILE = "expiring_cards.json"


def _context(cfg: PipelineConfig, window: Window, run_id: str) -> RunContext:
    return RunContext(with_dag(cfg, DAG_ID), window, run_id)


def _write(ctx: RunContext, step: str, summary: dict[str, Any]) -> dict[str, Any]:
    ctx.landing.write_json(summary_file(step), summary)
    return summary


def _read(ctx: RunContext, step: str) -> dict[str, Any]:
    data = ctx.landing.read_json(summary_file(step))
    return dict(data) if isinstance(data, dict) else {}


def export_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """PayTrace ``customer/export`` → parsed profiles in the landing dir; bad profiles → dead letters."""
    with _context(cfg, window, run_id) as ctx:
        mark_run_started(ctx.sl, ctx.cfg, window, run_id)
        raw = ctx.client().export_customers_raw()
        profiles, result = parse_all(raw)
        ctx.landing.write_jsonl(PROFILES_FILE, (asdict(p) for p in profiles))
        letters = record_dead_letters(ctx.sl, run_id, result.dead_letters)
        summary = {
            "fetched": result.fetched,
            "profiles": len(profiles),
            "dead_lettered": len(result.dead_letters),
            "dead_letters_new": letters,
            "complete": not result.dead_letters,
        }
        return _write(ctx, "export_profiles", summary)


def link_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Store the profiles and link each to its SL customer (or a suggestion); optional creation."""
    with _context(cfg, window, run_id) as ctx:
        exported = _read(ctx, "export_profiles")
        profiles = [VaultProfile(**row) for row in ctx.landing.read_jsonl(PROFILES_FILE)]
        options = SyncOptions.from_mapping(
            ctx.mapping, user=cfg.sl_user, program=cfg.program, timezone=cfg.timezone
        )
        result = sync_profiles(
            ctx.sl, profiles, options, run_id=run_id, complete=bool(exported.get("complete"))
        )
        summary = result.summary() | {"fetched": exported.get("fetched", len(profiles))}
        summary["dead_lettered"] = exported.get("dead_lettered", 0)
        summary["not_created_reasons"] = result.not_created[:20]
        return _write(ctx, "link_profiles", summary)


def merchant_today(window: Window) -> dt.date:
    """The last merchant-local day of the window (the day the run is about)."""
    last = window.days()[-1].start  # cut at merchant midnights in UTC arithmetic (flows.settlements)
    return dt.date(last.year, last.month, last.day)


def expiring_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Vault cards expiring within ``customers.expiring_days`` for customers with open invoices."""
    with _context(cfg, window, run_id) as ctx:
        days = ctx.mapping.customers.expiring_days
        today = merchant_today(window)
        with ctx.sl.connect() as conn:
            cards = expiring_cards(conn, today, days)
        ctx.landing.write_json(EXPIRING_FILE, [c.as_dict() for c in cards])
        summary = {"as_of": today.isoformat(), "days": days, "expiring": len(cards)}
        return _write(ctx, "expiring_cards", summary)


def summarize_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """The run's ``xPTRun`` row with the counts of every step."""
    with _context(cfg, window, run_id) as ctx:
        counts = {"link": _read(ctx, "link_profiles"), "expiring": _read(ctx, "expiring_cards")}
        counts["link"].pop("not_created_reasons", None)
        status = "success" if not counts["link"].get("dead_lettered") else "partial"
        record_run(ctx.sl, run_id, DAG_ID, window, status, counts, try_number=cfg.try_number)
        return {"status": status, **counts}


CUSTOMER_STEPS = (
    ("export_profiles", export_step),
    ("link_profiles", link_step),
    ("expiring_cards", expiring_step),
    ("summarize", summarize_step),
)


def run_customers(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """All steps in order (the CLI; the DAG runs them as tasks)."""
    out: dict[str, Any] = {}
    for name, step in CUSTOMER_STEPS:
        out[name] = step(cfg, window, run_id)
    return out


__all__ = ["CUSTOMER_STEPS", "DAG_ID", "SyncResult", "run_customers"]
