"""Fraud alerts where people look: the Airflow plugin's page and JSON (real FastAPI app, real PostgreSQL)
and the auditor report's section; what PayTrace sent is shown escaped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paytrace_sl.fraud import store
from paytrace_sl.reconcile.report import _fraud_alerts
from paytrace_sl.sl.own_tables import install

pytestmark = pytest.mark.integration

AT = dt.datetime(2025, 4, 10, 18, 0, tzinfo=dt.UTC)


def alert(tid: int, patterns: list[str], score: float, reasons: list[str], held: bool) -> dict[str, object]:
    return {
        "transaction_id": tid,
        "pattern": patterns[0],
        "patterns": patterns,
        "score": score,
        "reasons": reasons,
        "features": {"small_burst": 6.0},
        "model_version": 3,
        "held": held,
        "created_at": AT,
    }


def test_page_and_report_section_show_alerts(pg_database: str, tmp_path: Path) -> None:
    from paytrace_sl_airflow.ui_plugin import create_app

    engine = sa.create_engine(pg_database)
    try:
        install(engine, require_sl=False)
        client = TestClient(create_app(sl_url=pg_database, reports_dir=tmp_path, require_login=False))
        empty = client.get("/api/fraud").json()
        assert empty["installed"] and empty["alerts"] == [] and empty["model_version"] is None
        new = store.save_alerts(
            engine,
            [
                alert(
                    80000001,
                    ["card_testing"],
                    1.0,
                    ["7 small declines/authorizations on one user (<b>x</b>)"],
                    True,
                ),
                alert(
                    80000002,
                    ["model"],
                    0.61,
                    ["refund_ratio = 3 (typical 0; 0.02 % of the history as far out)"],
                    False,
                ),
            ],
            "run-1",
        )
        assert (
            len(new) == 2
            and store.save_alerts(engine, [alert(80000001, ["card_testing"], 1.0, ["x"], True)], "r") == []
        )
        page = client.get("/fraud")
        assert page.status_code == 200
        html = page.text
        assert "<tr data-transaction='80000001'>" in html and "<tr data-transaction='80000002'>" in html
        assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
        assert "id='fraud-held'>1<" in html
        data = client.get("/api/fraud").json()
        assert data["by_pattern"] == {"card_testing": 1, "model": 1} and data["held"] == 1
        assert data["alerts"][0]["features"] == {"small_burst": 6.0}

        table = _fraud_alerts(engine, AT - dt.timedelta(days=1), AT + dt.timedelta(days=1))
        assert [row[0] for row in table.rows] == [80000001, 80000002]
        assert table.rows[0][3:5] == ("1.00", "yes") and table.rows[1][3:5] == ("0.61", "no")
        assert _fraud_alerts(engine, AT + dt.timedelta(days=1), AT + dt.timedelta(days=2)).rows == ()
    finally:
        engine.dispose()


def test_page_says_when_the_fraud_tables_are_missing(pg_database: str, tmp_path: Path) -> None:
    from paytrace_sl_airflow.ui_plugin import create_app

    client = TestClient(create_app(sl_url=pg_database, reports_dir=tmp_path, require_login=False))
    assert "Fraud tables not installed" in client.get("/fraud").text
    assert client.get("/api/fraud").json()["installed"] is False
