"""Task callables of the ``paytrace_recurring_to_sl`` DAG (issue 16 §3; library: pipeline.recurring).

Two tasks, chained: ``refresh_schedules`` mirrors PayTrace's recurring schedules and approved payments
into ``xPTRecurSched`` / ``xPTRecurPay`` and links each schedule to its SL customer; ``recurring_overview``
reads upcoming and failed charges back (what the plugin page and the auditor report show) and logs them.
Nothing is posted: recurring charges are ordinary transactions the payments DAG posts once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

log = logging.getLogger(__name__)

DAG_ID = "paytrace_recurring_to_sl"


def refresh_schedules() -> dict[str, int]:
    """Export the schedules and approved payments, link customers, store both (one transaction)."""
    from airflow.sdk import get_current_context

    from paytrace_sl.logging_setup import install_redaction
    from paytrace_sl.paytrace.client import PayTraceClient
    from paytrace_sl.pipeline.context import engine_for
    from paytrace_sl.pipeline.mapping import load_mapping
    from paytrace_sl.pipeline.recurring import link_strategies, refresh_recurring
    from paytrace_sl_airflow.dag_support import pipeline_config, pipeline_run_id

    install_redaction()
    context = get_current_context()
    cfg = pipeline_config(DAG_ID)
    strategies = link_strategies(load_mapping(cfg.mapping_path))
    with engine_for(cfg) as engine, PayTraceClient(cfg.paytrace) as client:
        result = refresh_recurring(
            client,
            engine,
            cfg.paytrace.tz,
            run_id=pipeline_run_id(DAG_ID, str(context["run_id"])),
            strategies=strategies,
        )
    return result.to_json_dict()


def show_overview(horizon_days: int = 14) -> dict[str, Any]:
    """Upcoming (next ``horizon_days`` from the end of the run's interval) and failed charges: counts only
    in the XCom (ids and amounts are in the log, the plugin page and the report)."""
    from airflow.sdk import get_current_context

    from paytrace_sl.pipeline.config import PipelineError
    from paytrace_sl.pipeline.context import engine_for
    from paytrace_sl.pipeline.recurring import recurring_overview
    from paytrace_sl_airflow.dag_support import pipeline_config

    context = get_current_context()
    cfg = pipeline_config(DAG_ID)
    tz = cfg.paytrace.tz
    end = context.get("data_interval_end")
    today = end.astimezone(tz).date() if end is not None else dt.datetime.now(tz).date()
    with engine_for(cfg) as engine, engine.connect() as conn:
        view = recurring_overview(conn, today, horizon_days)
    if view is None:
        raise PipelineError("xPTRecurSched is missing: run `paytrace-sl sl install` (schema v8)")
    for c in view.upcoming:
        log.info(
            "upcoming recurring charge %s: #%s %s -> %s", c.next_date, c.recurrence_id, c.amount, c.cust_id
        )
    for c in view.failed:
        log.warning(
            "failed recurring charge #%s (%s): %s", c.recurrence_id, c.cust_id or "unlinked", c.last_message
        )
    return {
        "schedules": view.schedules,
        "active": view.active,
        "unlinked": view.unlinked,
        "upcoming": len(view.upcoming),
        "upcoming_total": str(view.upcoming_total),
        "failed": len(view.failed),
    }


# ------------------------------------------------------------------------------ plugin page section


def recurring_status(
    conn: Any, today: dt.date | None = None, horizon_days: int = 14
) -> dict[str, Any] | None:
    """The page's recurring section as JSON (None before schema v8): upcoming and failed charges."""
    from zoneinfo import ZoneInfo

    from paytrace_sl.pipeline.recurring import recurring_overview
    from paytrace_sl_airflow.dag_support import merchant_timezone

    day = today or dt.datetime.now(ZoneInfo(merchant_timezone())).date()
    view = recurring_overview(conn, day, horizon_days)
    return None if view is None else view.to_json_dict()


def recurring_section_html(recurring: dict[str, Any] | None) -> str:
    """HTML of the page's "Recurring charges" section (every value escaped)."""
    from html import escape

    if recurring is None:
        return ""
    parts = [
        "<h2>Recurring charges</h2>",
        f"<p id='recurring-summary'>{recurring['schedules']} schedule(s), {recurring['active']} active, "
        f"<b id='recurring-unlinked'>{recurring['unlinked']}</b> without an SL customer · upcoming "
        f"{escape(recurring['today'])} + {recurring['horizon_days']} days: "
        f"<b id='recurring-upcoming'>{len(recurring['upcoming'])}</b> totalling "
        f"{escape(recurring['upcoming_total'])} · failed: <b id='recurring-failed'>{len(recurring['failed'])}"
        "</b></p>",
    ]
    for kind, rows in (("upcoming", recurring["upcoming"]), ("failed", recurring["failed"])):
        if not rows:
            continue
        when = "next charge" if kind == "upcoming" else "last attempt"
        parts.append(
            f"<table id='recurring-{kind}'><thead><tr><th>{kind}</th><th>schedule</th><th>PayTrace customer"
            f"</th><th>SL customer</th><th>amount</th><th>frequency</th><th>{when}</th></tr></thead><tbody>"
        )
        for c in rows:
            stamp = c["next_date"] if kind == "upcoming" else c["last_result_at"]
            note = "" if kind == "upcoming" else f" — {c['last_message']}"
            cls = "difference" if kind == "failed" else ""
            parts.append(
                f"<tr class='{cls}' data-recurrence='{c['recurrence_id']}'>"
                f"<td>{kind}</td><td>{c['recurrence_id']}</td><td>{escape(c['paytrace_customer_id'])}</td>"
                f"<td>{escape(c['cust_id'] or '(unlinked)')}</td><td>{escape(c['amount'])}</td>"
                f"<td>{escape(c['frequency'])}</td><td>{escape(str(stamp or ''))}{escape(note)}</td></tr>"
            )
        parts.append("</tbody></table>")
    return "".join(parts)
