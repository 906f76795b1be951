"""Secrets reach the CLI through files, never the command line; an '@' in the SL password is read whole.

``paytrace-sl --password-file F --sl-url-file G sync …`` against the PayTrace sandbox and an SL replica
on PostgreSQL (trust auth: any password is accepted, so only a mis-parsed host can fail the run).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

SL_PASSWORD = "sl-Secret@tail-5521"  # unescaped '@'


def test_sync_reads_both_secrets_from_files(
    paytrace_sandbox: SandboxServer, sl_pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_sandbox(sl_pg_url, MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=20))
    scheme, rest = sl_pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    url_file = tmp_path / "sl-url"
    url_file.write_text(f"{scheme}://{user}:{SL_PASSWORD}@{host}\n")
    password_file = tmp_path / "paytrace-password"
    password_file.write_text("sandbox-password\n")
    monkeypatch.setenv("PAYTRACE_URL", paytrace_sandbox.url)
    monkeypatch.setenv("PAYTRACE_USERNAME", "sandbox")
    # plain variables with wrong values: the files given on the command line win over them
    monkeypatch.setenv("PAYTRACE_PASSWORD", "wrong-password")
    monkeypatch.setenv("SL_DATABASE_URL", "sqlite:///" + str(tmp_path / "wrong.db"))
    monkeypatch.setenv("PAYTRACE_PASSWORD_FILE", "")  # restored after the test (the CLI sets them)
    monkeypatch.setenv("SL_DATABASE_URL_FILE", "")
    monkeypatch.delenv("AIRFLOW_CONN_PAYTRACE_DEFAULT", raising=False)
    args = [
        "--password-file",
        str(password_file),
        "--sl-url-file",
        str(url_file),
        "sync",
        "--start",
        "2025-04-02",
        "--end",
        "2025-04-03",
        "--mapping",
        str(DEFAULT_MAPPING),
        "--landing-dir",
        str(tmp_path / "landing"),
        "--gx-dir",
        str(tmp_path / "gx"),
        "--no-settlements",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2025-04-02:" in result.output
    assert SL_PASSWORD not in result.output and "tail-5521" not in result.output
    assert not (tmp_path / "wrong.db").exists()


def test_help_says_how_to_pass_secrets() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"], terminal_width=200).output
    assert "--password-file" in top and "--sl-url-file" in top and "process listings" in top
    for command in (["sync"], ["extract"], ["report"], ["sl", "check-schema"]):
        text = " ".join(runner.invoke(app, [*command, "--help"], terminal_width=200).output.split())
        assert "process listings" in text, command
