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


def _settings() -> tuple[Any, str]:
    """PayTrace settings and the SL URL by the library's precedence (env, then the Airflow connections)."""
    from paytrace_sl.paytrace.config import PayTraceSettings
    from paytrace_sl.settings import resolve_sl_url
    from paytrace_sl_airflow.dag_support import PAYTRACE_CONN_ID, SL_CONN_ID
    from paytrace_sl_airflow.hooks import airflow_connection

    pt = PayTraceSettings.from_env(connection=airflow_connection(PAYTRACE_CONN_ID))
    return pt, resolve_sl_url(None, lookup=airflow_connection, conn_id=SL_CONN_ID)


def refresh_schedules() -> dict[str, int]:
    """Export the schedules and approved payments, link customers, store both (one transaction)."""
    from airflow.sdk import get_current_context

    from paytrace_sl import settings
    from paytrace_sl.logging_setup import install_redaction
    from paytrace_sl.paytrace.client import PayTraceClient
    from paytrace_sl.pipeline.mapping import load_mapping
    from paytrace_sl.pipeline.recurring import link_strategies, refresh_recurring
    from paytrace_sl.sl.engine import create_sl_engine
    from paytrace_sl_airflow.dag_support import pipeline_run_id

    install_redaction()
    context = get_current_context()
    pt, sl_url = _settings()
    strategies = link_strategies(load_mapping(settings.mapping_path(None)))
    engine = create_sl_engine(sl_url)
    try:
        with PayTraceClient(pt) as client:
            result = refresh_recurring(
                client,
                engine,
                pt.tz,
                run_id=pipeline_run_id(DAG_ID, str(context["run_id"])),
                strategies=strategies,
            )
    finally:
        engine.dispose()
    return result.to_json_dict()


def show_overview(horizon_days: int = 14) -> dict[str, Any]:
    """Upcoming (next ``horizon_days`` from the end of the run's interval) and failed charges: counts only
    in the XCom (ids and amounts are in the log, the plugin page and the report)."""
    from airflow.sdk import get_current_context

    from paytrace_sl.pipeline.recurring import recurring_overview
    from paytrace_sl.sl.engine import create_sl_engine

    context = get_current_context()
    pt, sl_url = _settings()
    end = context.get("data_interval_end")
    today = end.astimezone(pt.tz).date() if end is not None else dt.datetime.now(pt.tz).date()
    engine = create_sl_engine(sl_url)
    try:
        with engine.connect() as conn:
            view = recurring_overview(conn, today, horizon_days)
    finally:
        engine.dispose()
    if view is None:
        raise RuntimeError("xPTRecurSched is missing: run `paytrace-sl sl install` (schema v4)")
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
