"""``paytrace-sl sync`` and ``replay`` from the command line against the sandbox and a SQLite SL sandbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration


def test_sync_one_day_then_again_changes_nothing(
    paytrace_sandbox: SandboxServer, sl_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_sandbox(sl_sqlite_url, MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60))
    monkeypatch.setenv("PAYTRACE_URL", paytrace_sandbox.url)
    monkeypatch.setenv("PAYTRACE_USERNAME", "sandbox")
    monkeypatch.setenv("PAYTRACE_PASSWORD", "sandbox-password")
    monkeypatch.setenv("SL_DATABASE_URL", sl_sqlite_url)
    monkeypatch.delenv("AIRFLOW_CONN_PAYTRACE_DEFAULT", raising=False)
    mapping = DEFAULT_MAPPING  # the shipped mapping uses the SL sandbox chart
    dirs = [
        "--mapping",
        str(mapping),
        "--landing-dir",
        str(tmp_path / "landing"),
        "--gx-dir",
        str(tmp_path / "gx"),
    ]
    days = ["--start", "2025-04-02", "--end", "2025-04-03"]
    args = ["sync", *days, *dirs, "--lookback-hours", "24"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "2025-04-02:" in first.output and "settlement batches reconciled" in first.output

    engine = create_sl_engine(sl_sqlite_url)
    count = sa.text("SELECT count(*) FROM xPTLedger")
    with engine.connect() as conn:
        posted = conn.execute(count).scalar_one()
    assert posted > 0
    second = runner.invoke(app, [*args, "--no-settlements"])
    assert second.exit_code == 0, second.output
    with engine.connect() as conn:
        assert conn.execute(count).scalar_one() == posted
    engine.dispose()

    replayed = runner.invoke(app, ["replay", *days, *dirs, "--json"])
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.stdout)["windows"] == 1


def test_sync_rejects_bad_dates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SL_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("PAYTRACE_USERNAME", "u")
    monkeypatch.setenv("PAYTRACE_PASSWORD", "p")
    result = CliRunner().invoke(app, ["sync", "--start", "2025-04-03", "--end", "2025-04-02"])
    assert result.exit_code != 0
    assert "must be after" in result.output
