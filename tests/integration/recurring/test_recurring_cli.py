"""``paytrace-sl recurring refresh|show`` against the sandbox: the CLI convention (``--json``, exit 1 on
findings, one ``error:`` line when the tables are missing)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.paytrace.client import PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=20)


def test_refresh_and_show(make_sandbox: Any, sl_sqlite_url: str, sl_pg_url: str) -> None:
    clear_token_cache()
    init_sandbox(sl_sqlite_url, MERCHANT)
    server = make_sandbox(SandboxConfig(MERCHANT, clock=dt.datetime(2025, 4, 1, 1, 0, tzinfo=ZoneInfo(LA))))
    cust = next(c for c in server.sim.customers() if c.sl_cust_id == c.customer_id)
    settings = PayTraceSettings(url=server.url, username="sandbox", password="sandbox-password", timezone=LA)
    with PayTraceClient(settings) as client:
        for amount, start in (("25.00", "04/05/2025"), ("0.29", "04/01/2025")):
            client.call(
                "/v1/recurrence/create",
                {
                    "customer_id": cust.customer_id,
                    "amount": amount,
                    "frequency": "monthly",
                    "start_date": start,
                },
            )
    server.set_clock(dt.datetime(2025, 4, 2, 9, 0, tzinfo=ZoneInfo(LA)))
    env = {
        "PAYTRACE_URL": server.url,
        "PAYTRACE_USERNAME": "sandbox",
        "PAYTRACE_PASSWORD": "sandbox-password",
        "PAYTRACE_TIMEZONE": LA,
        "SL_DATABASE_URL": sl_sqlite_url,
    }
    runner = CliRunner()
    refreshed = runner.invoke(app, ["recurring", "refresh", "--json"], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    assert json.loads(refreshed.stdout)["schedules"] == 2

    shown = runner.invoke(app, ["recurring", "show", "--today", "2025-04-02", "--json"], env=env)
    assert shown.exit_code == 1, shown.output  # the 0.29 charge failed: a finding
    view = json.loads(shown.stdout)
    assert [c["next_date"] for c in view["upcoming"]] == ["2025-04-05"]
    assert view["upcoming_total"] == "25.00" and len(view["failed"]) == 1

    text = runner.invoke(app, ["recurring", "show", "--today", "2025-04-02"], env=env)
    assert "FAILED" in text.stdout and "upcoming 2025-04-05" in text.stdout

    bad_day = runner.invoke(app, ["recurring", "show", "--today", "4/2/2025"], env=env)
    assert bad_day.exit_code == 2 and "--today" in bad_day.stderr

    # an SL database without our tables: one error line, exit 2, no traceback
    missing = runner.invoke(
        app, ["recurring", "show", "--today", "2025-04-02"], env={**env, "SL_DATABASE_URL": sl_pg_url}
    )
    assert missing.exit_code == 2 and "sl install" in missing.stderr and "Traceback" not in missing.stderr
