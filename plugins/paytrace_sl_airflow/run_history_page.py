"""Airflow 3 UI page "PayTrace run history": every attempt of every pipeline run, from ``xPTRun``.

One row per (DAG, run id, try): a re-run of a window is a row of its own, so the attempt that posted
(posted 166) stays next to the re-run that found everything already posted (posted 0 / already 341).
Attempts that left work for a person are marked "needs a person" with what it is. Mounted by
:class:`paytrace_sl_airflow.ui_plugin.PaytraceSlPlugin` under ``/paytrace-sl-runs``; read only; requires an
authenticated Airflow user unless built with ``require_login=False`` (tests).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import HTMLResponse

from paytrace_sl.pipeline.run_history import Attempt, history
from paytrace_sl.sl.catalog import live_table_names
from paytrace_sl.sl.own_tables import xPTRun
from paytrace_sl_airflow.page_support import read_or_error, sl_engines

URL_PREFIX = "/paytrace-sl-runs"
DEFAULT_LIMIT = 200
_COUNTS = ("transactions", "posted", "already_posted", "skipped", "review", "dead_letter", "unexplained")

_STYLE = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:20px;color:#222}
h1{font-size:20px}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f4f4}
.success{color:#1e6b2a}.partial{color:#8a6d1f;font-weight:bold}.failed,.interrupted{color:#8a1f1f;font-weight:bold}
.running{color:#1f4f8a}.muted{color:#666;font-size:12px}.person{background:#fff6e0}
.status{padding:8px 12px;border-radius:4px;font-weight:bold;display:inline-block}
.ok{background:#e7f5e9;color:#1e6b2a}.bad{background:#fbeaea;color:#8a1f1f}
"""


def read_history(engine: sa.Engine, dag_id: str | None = None, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    with engine.connect() as conn:
        live = live_table_names(conn)
        if xPTRun.name.lower() not in live:
            return {"installed": False, "attempts": []}
        columns = {str(c["name"]).lower() for c in sa.inspect(conn).get_columns(live[xPTRun.name.lower()])}
        if "try_number" not in columns:  # tables not upgraded yet: the next run installs schema v4
            return {"installed": False, "attempts": []}
        attempts = history(conn, dag_id=dag_id, limit=limit)
    return {"installed": True, "attempts": [a.to_json_dict() for a in attempts]}


def _row(a: dict[str, Any]) -> str:
    counts = a.get("counts") or {}
    cells = "".join(f"<td>{escape(str(counts.get(k, '')))}</td>" for k in _COUNTS)
    attention = a.get("attention") or ""
    person = f"Needs a person: {attention}" if attention else ""
    window = f"{a.get('window_start') or ''} → {a.get('window_end') or ''}"
    cls = " class='person'" if attention else ""
    return (
        f"<tr{cls} data-run='{escape(a['run_id'])}' data-try='{a['try_number']}' "
        f"data-status='{escape(a['status'])}'>"
        f"<td>{escape(a['dag_id'])}</td><td>{escape(a['run_id'])}</td><td>{a['try_number']}</td>"
        f"<td class='{escape(a['status'])}'>{escape(a['status'])}</td>"
        f"<td class='muted'>{escape(window)}</td><td class='muted'>{escape(a.get('started_at') or '')}</td>"
        f"<td class='muted'>{escape(a.get('finished_at') or '')}</td>{cells}"
        f"<td>{escape(person)}</td><td class='muted'>{escape((a.get('error') or '')[:200])}</td></tr>"
    )


def page(data: dict[str, Any] | None, error: str) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>PayTrace run history</title>"
        f"<style>{_STYLE}</style></head><body><h1>PayTrace → SL run history</h1>"
        "<p class='muted'>Every attempt of every run (xPTRun): a re-run or retry is a row of its own.</p>"
    ]
    if error:
        parts.append(f"<p class='status bad'>SL database not reachable: {escape(error)}</p>")
    elif data is not None and not data["installed"]:
        parts.append(
            "<p class='status bad'>Run history not installed yet (<code>paytrace-sl sl install</code>).</p>"
        )
    elif data is not None:
        attempts = data["attempts"]
        waiting = [a for a in attempts if a.get("attention")]
        cls, text = (
            ("bad", f"{len(waiting)} of {len(attempts)} attempts need a person")
            if waiting
            else (
                "ok",
                f"{len(attempts)} attempts; none needs a person",
            )
        )
        parts.append(
            f"<p class='status {cls}' id='needs-person' data-count='{len(waiting)}'>{escape(text)}</p>"
        )
        head = "".join(
            f"<th>{escape(h)}</th>"
            for h in (
                "DAG",
                "run",
                "try",
                "status",
                "window",
                "started",
                "finished",
                *_COUNTS,
                "needs",
                "error",
            )
        )
        parts.append(f"<table id='runs'><thead><tr>{head}</tr></thead><tbody>")
        parts.extend(_row(a) for a in attempts)
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)


def create_app(*, sl_url: Callable[[], str] | str | None = None, require_login: bool = True) -> FastAPI:
    dependencies: list[Any] = []
    if require_login:
        from airflow.api_fastapi.core_api.security import requires_authenticated

        dependencies.append(Depends(requires_authenticated()))
    app = FastAPI(title="paytrace-sl run history", docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter(dependencies=dependencies)
    engine = sl_engines(sl_url)

    def read(dag_id: str | None, limit: int) -> tuple[dict[str, Any] | None, str]:
        return read_or_error(lambda: read_history(engine(), dag_id, limit))

    @router.get("/", response_class=HTMLResponse)
    def index(
        dag_id: str | None = Query(default=None, max_length=250),
        limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=5000),
    ) -> HTMLResponse:
        data, error = read(dag_id, limit)
        return HTMLResponse(page(data, error))

    @router.get("/api/runs")
    def api_runs(
        dag_id: str | None = Query(default=None, max_length=250),
        limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=5000),
    ) -> dict[str, Any]:
        data, error = read(dag_id, limit)
        return {"history": data, "error": error}

    app.include_router(router)
    return app


__all__ = ["URL_PREFIX", "Attempt", "create_app", "page", "read_history"]
