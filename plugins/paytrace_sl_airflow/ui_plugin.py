"""Airflow 3 UI page "PayTrace reconciliation": latest settlement reconciliation status and the reports.

A FastAPI app mounted by Airflow's API server under ``/paytrace-sl`` (``fastapi_apps``) and shown in the
Airflow navigation as an embedded page (``external_views``), so an operator sees the reconciliation state
without leaving Airflow. It only reads: ``xPTRecon``/``xPTReview``/``xPTDeadLetter`` in the SL database,
and the report directories written by ``paytrace-sl report`` under ``PAYTRACE_SL_REPORTS_DIR``; it also
serves the Great Expectations Data Docs site (``<PAYTRACE_SL_GX_DIR>/data_docs``) under ``data-docs/``,
read-only, nothing outside that folder, with a Content-Security-Policy that lets a page load only what
this server serves (the pages' CDN assets are vendored: ``paytrace_sl.pipeline.gx_docs``).

Plugin endpoints are not covered by Airflow's auth automatically; the app requires an authenticated
Airflow user (``requires_authenticated``) unless built with ``require_login=False`` (tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from paytrace_sl.pipeline.gx_docs import VENDOR_DIR, assets_dir, localize_html
from paytrace_sl.settings import gx_dir as settings_gx_dir
from paytrace_sl.settings import reports_dir as settings_reports_dir
from paytrace_sl.sl.catalog import live_table_names
from paytrace_sl.sl.own_tables import xPTDeadLetter, xPTRecon, xPTReview
from paytrace_sl_airflow.customers_page import expiring_section, expiring_status
from paytrace_sl_airflow.page_support import default_sl_url as default_sl_url  # its old home
from paytrace_sl_airflow.page_support import read_or_error, sl_engines
from paytrace_sl_airflow.plugin import REVIEW_URL_PREFIX, RUNS_URL_PREFIX, URL_PREFIX

# the plugin class lives in the light module Airflow loads in every process; importable from here too
from paytrace_sl_airflow.plugin import PaytraceSlPlugin as PaytraceSlPlugin
from paytrace_sl_airflow.recurring import recurring_section_html, recurring_status

RECENT_BATCHES = 30
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")

DOCS_ROUTE = "data-docs"
# Data Docs pages may load only what this server serves; GX's pages need their inline scripts and styles.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)
DOCS_HEADERS = {
    "Content-Security-Policy": DOCS_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_MEDIA_TYPES = {".woff2": "font/woff2", ".otf": "font/otf", ".svg": "image/svg+xml", ".md": "text/plain"}

_STYLE = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:20px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:24px}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f4f4}
.matched{color:#1e6b2a}.difference{color:#8a1f1f;font-weight:bold}.pending{color:#8a6d1f}
.status{padding:8px 12px;border-radius:4px;font-weight:bold;display:inline-block}
.ok{background:#e7f5e9;color:#1e6b2a}.bad{background:#fbeaea;color:#8a1f1f}.muted{color:#666;font-size:12px}
"""


def list_reports(root: Path) -> list[dict[str, Any]]:
    """Report directories under ``root`` (those with a ``report.html``), newest range first."""
    found: list[dict[str, Any]] = []
    if not root.is_dir():
        return found
    for path in root.iterdir():
        if not (path.is_dir() and _SAFE_NAME.match(path.name) and (path / "report.html").exists()):
            continue
        meta: dict[str, Any] = {}
        try:
            meta = json.loads((path / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        summary = {r.get("metric"): r.get("value") for r in meta.get("tables", {}).get("summary", [])}
        found.append(
            {
                "name": path.name,
                "start": meta.get("start", ""),
                "end": meta.get("end", ""),
                "generated_at": meta.get("generated_at", ""),
                "unexplained": summary.get("unexplained", ""),
                "exceptions": summary.get("exceptions", ""),
            }
        )
    return sorted(found, key=lambda r: (str(r["end"]), str(r["start"]), r["name"]), reverse=True)


def read_status(engine: sa.Engine, limit: int = RECENT_BATCHES) -> dict[str, Any]:
    """Latest settlement reconciliations (newest batch first) and the open work queues."""
    with engine.connect() as conn:
        live = live_table_names(conn)
        if xPTRecon.name.lower() not in live:
            return {"installed": False, "batches": [], "open_reviews": 0, "open_dead_letters": 0}
        rows = conn.execute(sa.select(xPTRecon).order_by(xPTRecon.c.batch_number.desc()).limit(limit)).all()
        reviews = conn.execute(
            sa.select(sa.func.count()).select_from(xPTReview).where(xPTReview.c.resolved_at.is_(None))
        ).scalar_one()
        letters = conn.execute(
            sa.select(sa.func.count()).select_from(xPTDeadLetter).where(xPTDeadLetter.c.replayed_at.is_(None))
        ).scalar_one()
        expiring = expiring_status(conn)
        cases = _recent_cases(conn, live, limit)
        recurring = recurring_status(conn)  # issue 16 §3; None before schema v9
    batches = []
    for r in rows:
        detail: dict[str, Any] = {}
        try:
            detail = json.loads(r.explanation) if r.explanation else {}
        except ValueError:
            detail = {}
        batches.append(
            {
                "batch_number": int(r.batch_number),
                "status": str(r.status),
                "settled_date": detail.get("settled_date", ""),
                "explained": bool(detail.get("explained", False)),
                "paytrace_total": f"{r.paytrace_total:.2f}",
                "posted_total": f"{r.posted_total:.2f}",
                "difference": f"{int(r.difference_cents) / 100:.2f}",
                "run_id": r.run_id or "",
                "checked_at": r.created_at.isoformat(timespec="seconds") if r.created_at else "",
            }
        )
    return {
        "installed": True,
        "batches": batches,
        "open_reviews": int(reviews),
        "open_dead_letters": int(letters),
        "expiring_cards": expiring,
        "chargebacks": cases,
        "recurring": recurring,
    }


def _recent_cases(conn: sa.Connection, live: Any, limit: int) -> list[dict[str, Any]]:
    """The latest chargeback case stages (xPTChargeback, schema v4; [] on an older install)."""
    from paytrace_sl.sl.own_tables import xPTChargeback as cb

    if cb.name.lower() not in live:
        return []
    rows = conn.execute(sa.select(cb).order_by(cb.c.id.desc()).limit(limit)).all()
    return [
        {
            "case_number": str(r.case_number),
            "transaction_id": int(r.transaction_id),
            "stage": str(r.stage),
            "case_date": r.case_date.isoformat(),
            "amount": f"{r.amount:.2f}",
            "fee": f"{r.fee:.2f}",
            "outcome": str(r.outcome),
            "sl": " ".join(
                x for x in (str(r.ar_bat_nbr).strip(), str(r.doc_type).strip(), str(r.ref_nbr).strip()) if x
            ),
        }
        for r in rows
    ]


def _page(
    status: dict[str, Any] | None, error: str, reports: list[dict[str, Any]], docs: bool = False
) -> str:
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>PayTrace reconciliation</title>"
        f"<style>{_STYLE}</style></head><body><h1>PayTrace → SL reconciliation</h1>",
        f"<p id='data-docs'><a href='{DOCS_ROUTE}/' target='_blank'>Data Docs</a> "
        "<span class='muted'>(Great Expectations validation results of every run)</span></p>"
        if docs
        else "<p id='data-docs' class='muted'>No Data Docs yet (the first validated run writes them).</p>",
    ]
    if error:
        parts.append(f"<p class='status bad'>SL database not reachable: {escape(error)}</p>")
    elif status is not None and not status["installed"]:
        parts.append(
            "<p class='status bad'>Our tables are not installed in the SL database yet "
            "(run <code>paytrace-sl sl install</code>).</p>"
        )
    elif status is not None:
        batches = status["batches"]
        latest = batches[0] if batches else None
        bad = [b for b in batches if b["status"] == "difference" and not b["explained"]]
        if latest is None:
            parts.append("<p class='status ok'>No settlement batch reconciled yet.</p>")
        else:
            cls = "bad" if bad else "ok"
            text = (
                f"{len(bad)} of the last {len(batches)} batches have unexplained differences"
                if bad
                else f"Latest batch {latest['batch_number']} ({latest['settled_date']}): {latest['status']}"
            )
            parts.append(
                f"<p class='status {cls}' id='latest-status' data-status='{escape(latest['status'])}'>"
                f"{escape(text)}</p>"
            )
        parts.append(
            f"<p>Open review items: <b id='open-reviews'>{status['open_reviews']}</b> · "
            f"unreplayed dead letters: <b id='open-dead-letters'>{status['open_dead_letters']}</b></p>"
        )
        parts.append(
            "<h2>Settlement batches</h2><table id='batches'><thead><tr><th>batch</th><th>settled</th>"
            "<th>status</th><th>PayTrace</th><th>SL</th><th>difference</th><th>checked</th><th>run</th>"
            "</tr></thead><tbody>"
        )
        for b in batches:
            status_text = b["status"] + (
                " (explained)" if b["status"] == "difference" and b["explained"] else ""
            )
            parts.append(
                f"<tr data-batch='{b['batch_number']}'><td>{b['batch_number']}</td>"
                f"<td>{escape(b['settled_date'])}</td>"
                f"<td class='{escape(b['status'])}'>{escape(status_text)}</td>"
                f"<td>{b['paytrace_total']}</td>"
                f"<td>{b['posted_total']}</td><td>{b['difference']}</td><td>{escape(b['checked_at'])}</td>"
                f"<td class='muted'>{escape(b['run_id'])}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts.append(expiring_section(status.get("expiring_cards")))
        parts.append(
            "<h2>Chargebacks</h2><table id='chargebacks'><thead><tr><th>case</th><th>transaction</th>"
            "<th>stage</th><th>date</th><th>amount</th><th>fee</th><th>outcome</th><th>SL</th>"
            "</tr></thead><tbody>"
        )
        for c in status.get("chargebacks", []):
            parts.append(
                f"<tr data-case='{escape(c['case_number'])}'><td>{escape(c['case_number'])}</td>"
                f"<td>{c['transaction_id']}</td><td>{escape(c['stage'])}</td><td>{escape(c['case_date'])}</td>"
                f"<td>{c['amount']}</td><td>{c['fee']}</td><td>{escape(c['outcome'])}</td>"
                f"<td>{escape(c['sl'])}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts.append(recurring_section_html(status.get("recurring")))
    parts.append("<h2>Reports</h2>")
    if not reports:
        parts.append(
            "<p class='muted'>No reports yet: <code>paytrace-sl report --start … --end … --out "
            "$PAYTRACE_SL_REPORTS_DIR/&lt;name&gt;</code></p>"
        )
    else:
        parts.append(
            "<table id='reports'><thead><tr><th>report</th><th>range</th><th>generated</th>"
            "<th>exceptions</th><th>unexplained</th></tr></thead><tbody>"
        )
        for r in reports:
            name = escape(r["name"])
            parts.append(
                f"<tr><td><a href='reports/{name}/report.html' target='_blank'>{name}</a></td>"
                f"<td>{escape(str(r['start']))} – {escape(str(r['end']))}</td>"
                f"<td>{escape(str(r['generated_at']))}</td><td>{escape(str(r['exceptions']))}</td>"
                f"<td>{escape(str(r['unexplained']))}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)


def docs_file(docs_root: Path, rel: str) -> Path | None:
    """The file ``rel`` (URL path, already decoded) inside ``docs_root``, or None: no empty, dot or hidden
    component, no path that leaves the folder (symlinks resolved), only regular files."""
    parts = rel.split("/")
    if not rel or "\\" in rel or "\x00" in rel or any(not p or p.startswith(".") for p in parts):
        return None
    base = docs_root.resolve()
    path = base.joinpath(*parts).resolve()
    if base not in path.parents or not path.is_file():
        return None
    return path


def _docs_links(html_text: str, report_dir: Path, docs_root: Path) -> str:
    """A report page's relative links into the Data Docs folder (they work on disk) pointed at this
    server's ``data-docs/`` route, which is where they resolve under ``reports/<name>/``."""
    base = docs_root.resolve()

    def repl(match: re.Match[str]) -> str:
        target = (report_dir / match.group(2)).resolve()
        if base not in target.parents:
            return match.group(0)
        return f"{match.group(1)}../../{DOCS_ROUTE}/{target.relative_to(base).as_posix()}{match.group(3)}"

    return re.sub(r'(href=")([^"#?:]+)(")', repl, html_text)


def create_app(
    *,
    sl_url: Callable[[], str] | str | None = None,
    reports_dir: Path | None = None,
    docs_dir: Path | None = None,
    require_login: bool = True,
) -> FastAPI:
    """The page's FastAPI app. ``sl_url``/``reports_dir``/``docs_dir`` (the Data Docs site) default to
    the environment / connections, resolved per request so the API server starts even when SL is not
    configured yet."""
    dependencies: list[Any] = []
    if require_login:
        from airflow.api_fastapi.core_api.security import requires_authenticated

        dependencies.append(Depends(requires_authenticated()))
    app = FastAPI(title="paytrace-sl reconciliation", docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter(dependencies=dependencies)
    engine = sl_engines(sl_url)

    def root() -> Path:
        return reports_dir or settings_reports_dir()

    def docs_root() -> Path:
        return docs_dir or settings_gx_dir() / "data_docs"

    def status_or_error() -> tuple[dict[str, Any] | None, str]:
        return read_or_error(lambda: read_status(engine()))

    @router.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        status, error = status_or_error()
        docs = (docs_root() / "index.html").is_file()
        return HTMLResponse(_page(status, error, list_reports(root()), docs))

    @router.get("/api/status")
    def api_status() -> dict[str, Any]:
        status, error = status_or_error()
        return {"status": status, "error": error, "reports": list_reports(root())}

    @router.get("/fraud", response_class=HTMLResponse)
    def fraud() -> HTMLResponse:  # fraud alerts page (fraud_page.py, docs/fraud.md)
        from paytrace_sl_airflow.fraud_page import fraud_page, read_fraud

        data, error = read_or_error(lambda: read_fraud(engine()))
        return HTMLResponse(fraud_page(data, error, _STYLE))

    @router.get("/api/fraud")
    def api_fraud() -> dict[str, Any]:
        from paytrace_sl_airflow.fraud_page import read_fraud

        return read_fraud(engine())

    @router.get("/reports/{name}/{file_name}")
    def report_file(name: str, file_name: str) -> Response:
        if not (_SAFE_NAME.match(name) and _SAFE_NAME.match(file_name)):
            raise HTTPException(status_code=404)
        base = root().resolve()
        path = (base / name / file_name).resolve()
        if base not in path.parents or not path.is_file():
            raise HTTPException(status_code=404)
        if path.suffix == ".html":
            text = _docs_links(path.read_text(encoding="utf-8"), path.parent, docs_root())
            return HTMLResponse(text)
        return FileResponse(path)

    @router.get(f"/{DOCS_ROUTE}", include_in_schema=False)
    def docs_redirect() -> RedirectResponse:
        return RedirectResponse(f"{DOCS_ROUTE}/index.html")

    @router.get(f"/{DOCS_ROUTE}/", include_in_schema=False)
    def docs_index() -> Response:
        return docs_page("index.html")

    @router.get(f"/{DOCS_ROUTE}/{{rel:path}}")
    def docs_page(rel: str) -> Response:
        """A file of the Data Docs site; pages are localized again as served (sites published before
        the assets were vendored), vendored assets missing from an old site come from the package."""
        path = docs_file(docs_root(), rel)
        vendor = VENDOR_DIR + "/"
        if path is None and rel.startswith(vendor):
            path = docs_file(assets_dir(), rel[len(vendor) :])
        if path is None:
            raise HTTPException(status_code=404)
        if path.suffix == ".html":
            text = localize_html(path.read_text(encoding="utf-8"), rel.count("/"))
            return HTMLResponse(text, headers=DOCS_HEADERS)
        return FileResponse(path, headers=DOCS_HEADERS, media_type=_MEDIA_TYPES.get(path.suffix))

    app.include_router(router)
    return app


def page_apps() -> list[dict[str, Any]]:
    """The plugin's ``fastapi_apps`` (:class:`paytrace_sl_airflow.plugin.PaytraceSlPlugin` builds them on
    first access, in the API server)."""
    from paytrace_sl_airflow.review_page import create_review_app
    from paytrace_sl_airflow.run_history_page import create_app as create_history_app

    return [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "PayTrace reconciliation"},
        {"app": create_history_app(), "url_prefix": RUNS_URL_PREFIX, "name": "PayTrace run history"},
        {"app": create_review_app(), "url_prefix": REVIEW_URL_PREFIX, "name": "PayTrace review"},
    ]
