"""scan_database finds a card number / secret in any text column of SL's or our tables, on SQLite and
PostgreSQL replicas built from SL's own DDL, and names the row without repeating the value."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from paytrace_sl.pci_scan import scan_database
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

PAN = "5555555555554444"
PASSWORD = "db-Secret-pw-77"


@pytest.mark.parametrize("url_fixture", ["sl_sqlite_url", "sl_pg_url"])
def test_scan_database_finds_planted_values(url_fixture: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(url_fixture)
    init_sandbox(url, MerchantConfig(seed=1, start=dt.date(2025, 4, 1), days=1, tx_per_day=10, customers=5))
    engine = create_sl_engine(url)
    try:
        install(engine)
        assert scan_database(engine, secrets=[PASSWORD]) == [], "a freshly seeded SL sandbox must be clean"
        with engine.begin() as conn:
            cust = conn.execute(sa.text("SELECT CustId FROM Customer ORDER BY CustId")).scalars().first()
            conn.execute(
                sa.text("UPDATE Customer SET Addr1 = :v WHERE CustId = :c"), {"v": f"card {PAN}", "c": cust}
            )
            conn.execute(
                sa.text(
                    "INSERT INTO xPTDeadLetter (transaction_id, source, payload, reason, run_id, created_at)"
                    " VALUES (1, 'test', :p, 'r', 'run-1', CURRENT_TIMESTAMP)"
                ),
                {"p": f'{{"note": "pw {PASSWORD}"}}'},
            )
        findings = scan_database(engine, secrets=[PASSWORD])
    finally:
        engine.dispose()
    where = sorted((f.kind, f.location.split("[")[0].lower()) for f in findings)
    assert where == [("pan", "customer.addr1"), ("secret", "xptdeadletter.payload")], findings
    pan_finding = next(f for f in findings if f.kind == "pan")
    assert str(cust).strip() in pan_finding.location  # the row is named by its primary key
    for finding in findings:
        assert PAN not in str(finding) and PASSWORD not in str(finding)


def test_cli_scans_the_sl_database(sl_sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from paytrace_sl.cli import security as cli_security

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Root."""

    cli_security.register(app)
    for name in (*cli_security.DEFAULT_SECRET_ENVS, "AIRFLOW_CONN_PAYTRACE_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["pci-scan", "--sl-url", sl_sqlite_url])
    assert result.exit_code == 0, result.output
    engine = create_sl_engine(sl_sqlite_url)
    try:
        install(engine)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO xPTReview (reason_code, reason, details, run_id, created_at)"
                    " VALUES ('x', 'r', :d, 'run-1', CURRENT_TIMESTAMP)"
                ),
                {"d": f'{{"pw": "{PASSWORD}"}}'},
            )
    finally:
        engine.dispose()
    monkeypatch.setenv("PAYTRACE_PASSWORD", PASSWORD)
    result = runner.invoke(app, ["pci-scan", "--sl-url", sl_sqlite_url])
    assert result.exit_code == 1
    assert "xPTReview.details[" in result.output and PASSWORD not in result.output
