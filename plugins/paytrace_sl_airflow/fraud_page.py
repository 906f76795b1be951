"""The "PayTrace fraud alerts" page of the Airflow plugin (docs/fraud.md): the latest alerts with their
score, patterns, reasons and model version, and whether the mapping held them out of SL. Read only; served
by the same FastAPI app as the reconciliation page (:mod:`paytrace_sl_airflow.ui_plugin`)."""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

import sqlalchemy as sa

from paytrace_sl.fraud.store import list_alerts
from paytrace_sl.sl.catalog import live_table_names
from paytrace_sl.sl.own_tables import xPTFraudAlert, xPTFraudModel

RECENT_ALERTS = 200


def read_fraud(engine: sa.Engine, limit: int = RECENT_ALERTS) -> dict[str, Any]:
    """The newest alerts, counts by pattern, and the current model version (JSON-safe)."""
    with engine.connect() as conn:
        if xPTFraudAlert.name.lower() not in live_table_names(conn):
            return {"installed": False, "alerts": [], "by_pattern": {}, "held": 0, "model_version": None}
        version = conn.execute(sa.select(sa.func.max(xPTFraudModel.c.version))).scalar_one()
    alerts = list_alerts(engine, limit=limit)
    rows = [
        {
            "transaction_id": int(a["transaction_id"]),
            "created_at": a["created_at"].isoformat(timespec="seconds") if a["created_at"] else "",
            "patterns": str(a["patterns"]),
            "score": round(float(a["score"]), 2),
            "held": bool(a["held"]),
            "reasons": [str(r) for r in a["reasons"]],
            "features": a["features"],
            "model_version": a["model_version"],
        }
        for a in alerts
    ]
    return {
        "installed": True,
        "alerts": rows,
        "by_pattern": dict(sorted(Counter(p for r in rows for p in r["patterns"].split(",")).items())),
        "held": sum(1 for r in rows if r["held"]),
        "model_version": None if version is None else int(version),
    }


def fraud_page(data: dict[str, Any] | None, error: str, style: str) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>PayTrace fraud alerts</title>"
        f"<style>{style}</style></head><body><h1>PayTrace fraud alerts</h1>"
        "<p class='muted'>Score 1.0: a named pattern; 0.5–0.99: the model. Held: kept out of SL in review "
        "(mapping <code>fraud.hold</code>). <a href='./'>Reconciliation</a></p>"
    ]
    if error:
        parts.append(f"<p class='status bad'>SL database not reachable: {escape(error)}</p>")
    elif data is not None and not data["installed"]:
        parts.append(
            "<p class='status bad'>Fraud tables not installed (run <code>paytrace-sl sl install</code>).</p>"
        )
    elif data is not None:
        counts = ", ".join(f"{escape(k)} {v}" for k, v in data["by_pattern"].items()) or "none"
        parts.append(
            f"<p id='fraud-summary'>Latest {len(data['alerts'])} alerts: {counts} · held "
            f"<b id='fraud-held'>{data['held']}</b> · model version "
            f"<b id='model-version'>{escape(str(data['model_version'] or '—'))}</b></p>"
            "<table id='alerts'><thead><tr><th>transaction</th><th>created</th><th>patterns</th>"
            "<th>score</th><th>held</th><th>reasons</th><th>model</th></tr></thead><tbody>"
        )
        for a in data["alerts"]:
            parts.append(
                f"<tr data-transaction='{a['transaction_id']}'><td>{a['transaction_id']}</td>"
                f"<td>{escape(a['created_at'])}</td><td>{escape(a['patterns'])}</td><td>{a['score']:.2f}</td>"
                f"<td class='{'difference' if a['held'] else 'muted'}'>{'yes' if a['held'] else 'no'}</td>"
                f"<td>{'<br>'.join(escape(r) for r in a['reasons'])}</td>"
                f"<td class='muted'>{escape(str(a['model_version'] or ''))}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)
