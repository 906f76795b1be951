"""``paytrace-sl customers …`` against the PayTrace sandbox (noisy vault) and an SL replica on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60)


@pytest.fixture
def vault_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(MERCHANT, vault_noise=True), port=0) as server:
        yield server


def test_customers_commands(vault_sandbox: SandboxServer, sl_pg_url: str, tmp_path: Path) -> None:
    init_sandbox(sl_pg_url, MERCHANT)
    env = {
        "SL_DATABASE_URL": sl_pg_url,
        "PAYTRACE_URL": vault_sandbox.url,
        "PAYTRACE_USERNAME": "sandbox",
        "PAYTRACE_PASSWORD": "sandbox-password",
        "PAYTRACE_TIMEZONE": "America/Los_Angeles",
        "PAYTRACE_SL_MAPPING": None,
        "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT": None,
    }
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.stdout

    code, out = run("customers", "sync", "--day", "2025-04-03", "--landing-dir", str(tmp_path), "--json")
    assert code == 0, out
    summary = json.loads(out)["link_profiles"]
    assert summary["linked"]["fuzzy"] > 0 and summary["suggested"] > 0

    code, out = run("customers", "list", "--pending", "--json")
    pending = json.loads(out)
    waiting = next(p for p in pending if p["suggested_cust_id"])
    assert code == 0 and all(p["cust_id"] is None for p in pending)
    assert not any(len(p["masked_card"].strip("x")) > 4 for p in pending)

    code, out = run("customers", "link", waiting["paytrace_customer_id"], waiting["suggested_cust_id"])
    assert code == 0, out
    code, out = run("customers", "list", "--json")
    linked = {p["paytrace_customer_id"]: p for p in json.loads(out)}
    assert linked[waiting["paytrace_customer_id"]]["link_source"] == "manual"

    code, out = run("customers", "link", waiting["paytrace_customer_id"], "NO-SUCH-CUST")
    assert code == 2  # usage: the arguments name no SL customer
    assert "NO-SUCH-CUST" in runner.invoke(app, ["customers", "link", "x", "NO-SUCH-CUST"], env=env).stderr

    code, out = run("customers", "suggest", "--paytrace-id", waiting["paytrace_customer_id"], "--json")
    assert code == 0 and json.loads(out)[0]["source"] == "xref"  # the manual link made a cross-reference

    code, out = run("customers", "expiring", "--as-of", "2030-12-01", "--days", "31", "--json")
    cards = json.loads(out)
    assert code == 0 and cards and all(c["open_invoices"] > 0 for c in cards)
