"""The Airflow UI page: the real FastAPI app over a real SL replica and real report files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from reconcile_world import END, NOW, START, World

from paytrace_sl.reconcile.engine import ReconOptions
from paytrace_sl.reconcile.report import build_report

pytestmark = pytest.mark.integration


def test_page_shows_latest_status_and_reports(messy_world: World, tmp_path: Path) -> None:
    from paytrace_sl_airflow.ui_plugin import create_app

    reports = tmp_path / "reports"
    build_report(
        messy_world.engine,
        START,
        END,
        reports / "2025-04",
        landing_dir=messy_world.landing,
        gx_dir=messy_world.gx_dir,
        options=ReconOptions(expect_settlement=True),
        now=NOW,
        generated_at=dt.datetime(2025, 4, 21, tzinfo=dt.UTC),
    )
    client = TestClient(create_app(sl_url=messy_world.url, reports_dir=reports, require_login=False))
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert "data-status='difference'" in html  # newest batch is 502
    assert "<tr data-batch='502'>" in html and "<tr data-batch='501'>" in html
    assert "difference (explained)" in html and ">75.00<" in html
    assert "id='open-reviews'>2<" in html and "id='open-dead-letters'>1<" in html
    assert "href='reports/2025-04/report.html'" in html
    status = client.get("/api/status").json()
    assert [b["batch_number"] for b in status["status"]["batches"]] == [502, 501]
    assert status["reports"][0]["unexplained"] == 8 and status["error"] == ""
    served = client.get("/reports/2025-04/report.html")
    assert served.status_code == 200 and "PayTrace → SL reconciliation" in served.text
    assert client.get("/reports/2025-04/summary.csv").text.startswith("metric,value")
    assert client.get("/reports/..%2F..%2Fetc/passwd").status_code == 404
    assert client.get("/reports/2025-04/..").status_code == 404


def test_page_reports_unreachable_sl(tmp_path: Path) -> None:
    from paytrace_sl_airflow.ui_plugin import create_app

    client = TestClient(
        create_app(
            sl_url=f"sqlite:///{tmp_path / 'missing' / 'x.db'}", reports_dir=tmp_path, require_login=False
        )
    )
    page = client.get("/")
    assert (
        page.status_code == 200 and "SL database not reachable" in page.text and "No reports yet" in page.text
    )


def test_login_required_by_default(messy_world: World, tmp_path: Path) -> None:
    from paytrace_sl_airflow.ui_plugin import create_app

    client = TestClient(create_app(sl_url=messy_world.url, reports_dir=tmp_path))
    assert client.get("/").status_code in (401, 403)
    assert client.get("/api/status").status_code in (401, 403)


def test_plugin_declares_app_and_view() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse
    from fastapi import FastAPI

    from paytrace_sl_airflow.plugin import PaytraceSlPlugin

    apps = {spec["url_prefix"]: spec for spec in PaytraceSlPlugin.fastapi_apps}
    assert set(apps) == {
        "/paytrace-sl",
        "/paytrace-sl-runs",
        "/paytrace-sl-review",
    }  # reconciliation; history; review
    assert all(isinstance(spec["app"], FastAPI) for spec in apps.values())
    for view in PaytraceSlPlugin.external_views:
        ExternalViewResponse.model_validate(view)
        assert not view["href"].startswith("/") and view["url_route"]
        assert any(view["href"].rstrip("/").startswith(prefix.lstrip("/")) for prefix in apps)
    assert any(v["href"] == "paytrace-sl/fraud" for v in PaytraceSlPlugin.external_views)  # docs/fraud.md
