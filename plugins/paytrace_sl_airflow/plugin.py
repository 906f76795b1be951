"""Entry point ``airflow.plugins = paytrace_sl_airflow.plugin:PaytraceSlPlugin`` (see pyproject): the
plugin class, kept light on purpose.

Airflow loads every plugin in every process that has listeners — the scheduler, the API server, and
**each task process** (the Task SDK's listener manager, before the task runs). Only the API server
mounts the pages, so this module imports nothing of them: ``fastapi_apps`` builds the three FastAPI
apps (FastAPI, Airflow's auth, the SL tables, the Data Docs helpers: ~300 modules) on first access, and
a task process never asks. docs/performance.md (issue 17, through Airflow) has the figures.
"""

from __future__ import annotations

from typing import Any

URL_PREFIX = "/paytrace-sl"  # reconciliation page, fraud alerts, reports, Data Docs (ui_plugin.py)
RUNS_URL_PREFIX = "/paytrace-sl-runs"  # run history (run_history_page.py)
REVIEW_URL_PREFIX = "/paytrace-sl-review"  # the review workbench (review_page.py)

try:
    from airflow.plugins_manager import AirflowPlugin
except ImportError:  # the library and CLI work without Airflow installed
    AirflowPlugin = object  # type: ignore[assignment,misc]


class _PageApps:
    """``fastapi_apps``: the page apps, built on first access (on the class or an instance) and kept."""

    def __init__(self) -> None:
        self._apps: list[dict[str, Any]] | None = None

    def __get__(self, obj: object, owner: type | None = None) -> list[dict[str, Any]]:
        if self._apps is None:
            from paytrace_sl_airflow.ui_plugin import page_apps

            self._apps = page_apps()
        return self._apps


def _run_notes() -> list[Any]:
    """The DAG-run note listener (``Needs a person: …``); none when Airflow is not installed."""
    try:
        from paytrace_sl_airflow import run_notes
    except ImportError:
        return []
    return [run_notes]


class PaytraceSlPlugin(AirflowPlugin):  # type: ignore[misc,valid-type]
    """Adds the "PayTrace reconciliation", "PayTrace run history", "PayTrace review" and "PayTrace fraud
    alerts" pages to the Airflow 3 UI, and the listener that notes "Needs a person: …" on runs that
    leave work for a person."""

    name = "paytrace_sl"
    fastapi_apps = _PageApps()
    external_views = [
        {
            "name": "PayTrace reconciliation",
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": "paytrace-reconciliation",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "PayTrace run history",
            "href": RUNS_URL_PREFIX.lstrip("/") + "/",
            "url_route": "paytrace-run-history",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "PayTrace review",
            "href": REVIEW_URL_PREFIX.lstrip("/") + "/",
            "url_route": "paytrace-review",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "PayTrace fraud alerts",
            "href": URL_PREFIX.lstrip("/") + "/fraud",
            "url_route": "paytrace-fraud",
            "destination": "nav",
            "category": "browse",
        },
    ]
    listeners = _run_notes()


__all__ = ["REVIEW_URL_PREFIX", "RUNS_URL_PREFIX", "URL_PREFIX", "PaytraceSlPlugin"]
