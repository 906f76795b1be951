"""``paytrace-sl sl init-sandbox | check-schema | install`` end to end through the real CLI app."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import SCHEMA_VERSION

pytestmark = pytest.mark.integration

runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["sl", *args], env=env)


@pytest.mark.parametrize("command", ["init-sandbox", "check-schema", "install"])
def test_help(command: str) -> None:
    result = _run(command, "--help")
    assert result.exit_code == 0 and "--sl-url" in result.output


def test_init_check_install_cycle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = _run("init-sandbox", "--sl-url", url, "--days", "2", "--tx-per-day", "20", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "company PTDEMO, current period 202504" in result.output

    again = _run("init-sandbox", "--sl-url", url, "--days", "2", "--tx-per-day", "20")
    assert again.exit_code == 2 and "--force" in again.output
    assert (
        _run("init-sandbox", "--sl-url", url, "--days", "2", "--tx-per-day", "20", "--force").exit_code == 0
    )

    ok = _run("check-schema", env={"SL_DATABASE_URL": url})  # default URL from the environment
    assert ok.exit_code == 0 and "schema OK" in ok.output

    installed = _run("install", "--sl-url", url)
    assert installed.exit_code == 0 and "nothing to do" in installed.output

    engine = create_sl_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE ARTran ADD xExtra CHAR(3) NULL")
    engine.dispose()
    drift = _run("check-schema", "--sl-url", url)
    assert drift.exit_code == 1
    assert "[warning] ARTran.xExtra: extra_column" in drift.output


def test_install_upgrades_a_replica_and_refuses_a_non_sl_database(sl_sqlite_url: str, tmp_path: Path) -> None:
    first = _run("install", "--sl-url", sl_sqlite_url)
    assert first.exit_code == 0 and f"from version 0 to {SCHEMA_VERSION}" in first.output
    refused = _run("install", "--sl-url", f"sqlite:///{tmp_path / 'other.db'}")
    assert refused.exit_code == 3 and "does not look like an SL application database" in refused.output


def test_missing_url_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SL_DATABASE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_DYNAMICS_SL_DEFAULT", raising=False)
    result = _run("check-schema")
    assert result.exit_code == 2 and "--sl-url" in result.output


def test_connection_failure_hides_the_password() -> None:
    result = _run("check-schema", "--sl-url", "postgresql+psycopg://u:topsecret@127.0.0.1:1/nodb")
    assert result.exit_code == 3  # environment failure
    assert "topsecret" not in result.output and "cannot check" in result.output
