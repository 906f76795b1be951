"""Upcoming and failed recurring charges in the auditor report and on the Airflow plugin page."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from paytrace_sl.paytrace.client import PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.recurring import refresh_recurring
from paytrace_sl.reconcile.engine import ReconOptions
from paytrace_sl.reconcile.report import build_report
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
TZ = ZoneInfo(LA)
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=10)


def test_report_and_page_show_upcoming_and_failed(
    make_sandbox: Any, sl_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paytrace_sl_airflow.ui_plugin import create_app

    clear_token_cache()
    init_sandbox(sl_sqlite_url, MERCHANT)
    server = make_sandbox(SandboxConfig(MERCHANT, clock=dt.datetime(2025, 4, 1, 1, 0, tzinfo=TZ)))
    cust = next(c for c in server.sim.customers() if c.sl_cust_id == c.customer_id)
    settings = PayTraceSettings(url=server.url, username="sandbox", password="sandbox-password", timezone=LA)
    engine = create_sl_engine(sl_sqlite_url)
    try:
        with PayTraceClient(settings) as client:
            for amount, start, desc in (("19.99", "04/09/2025", "<b>gold</b>"), ("0.29", "04/02/2025", "x")):
                client.call(
                    "/v1/recurrence/create",
                    {
                        "customer_id": cust.customer_id,
                        "amount": amount,
                        "frequency": "monthly",
                        "start_date": start,
                        "description": desc,
                    },
                )
            server.set_clock(dt.datetime(2025, 4, 3, 9, 0, tzinfo=TZ))
            refresh_recurring(client, engine, TZ)

        out = tmp_path / "reports" / "2025-04-02"
        data = build_report(
            engine,
            dt.date(2025, 4, 2),
            dt.date(2025, 4, 2),
            out,
            landing_dir=tmp_path / "landing",
            options=ReconOptions(timezone=LA),
        )
        upcoming, failed = data.tables["recurring_upcoming"], data.tables["recurring_failed"]
        assert [(r[0], r[3], r[6]) for r in upcoming.rows] == [(5001, "19.99", "2025-04-09")]
        assert [(r[0], r[2]) for r in failed.rows] == [(5002, cust.sl_cust_id)]
        assert "EXPIRED CARD" in str(failed.rows[0][8]).upper()
        html = (out / "report.html").read_text()
        assert 'id="recurring_upcoming"' in html and 'id="recurring_failed"' in html
        assert json.loads((out / "recurring_failed.json").read_text())[0]["recurrence_id"] == 5002

        monkeypatch.setenv("PAYTRACE_TIMEZONE", LA)
        page_client = TestClient(
            create_app(sl_url=sl_sqlite_url, reports_dir=tmp_path / "reports", require_login=False)
        )
        status = page_client.get("/api/status").json()["status"]["recurring"]
        assert status["schedules"] == 2 and len(status["failed"]) == 1
        page = page_client.get("/").text
        assert "<h2>Recurring charges</h2>" in page
        assert "id='recurring-failed'>1<" in page and "data-recurrence='5002'" in page
        assert "<b>gold</b>" not in page  # values are escaped (the description is not shown at all)
    finally:
        engine.dispose()
