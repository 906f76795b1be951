"""A whole small run, faults included, leaves no card number, credential or token anywhere we keep data;
and every statement it sends to SL is covered by the least-privilege role script.

PayTrace is the real sandbox HTTP server (30% of API calls answer 503, integrator id required); SL is a
SQLite replica created from SL's own DDL script and seeded like the SL sandbox. Logs are captured at
DEBUG *before* any handler-level redaction, so the test proves the code never logs a secret rather than
relying on the log filter to scrub it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from security_support import ROLE_SCRIPT, StatementLog, allowed, role_grants

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pci_scan import Finding, scan_database, scan_paths, scan_text
from paytrace_sl.pipeline.runner import PipelineConfig, run_settlements, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install
from paytrace_sl_sandbox.demo import write_sandbox_mapping
from paytrace_sl_sandbox.faults import FaultConfig
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
DAY = dt.date(2025, 4, 1)
USER, PASSWORD, INTEGRATOR = "sandbox", "sandbox-password", "SANDBOXINT01"


def _request_token(url: str) -> str:
    """A token issued with the pipeline's own credentials: its shape must appear nowhere."""
    response = requests.post(
        f"{url}/oauth/token",
        data={"grant_type": "password", "username": USER, "password": PASSWORD},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def test_full_run_with_faults_leaves_no_secret_and_stays_within_the_role(
    make_sandbox: Callable[[SandboxConfig], SandboxServer],
    sl_sqlite_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    statement_log: StatementLog,
) -> None:
    merchant = MerchantConfig(seed=5, start=DAY, days=2, tx_per_day=20, bad_records=True)
    server = make_sandbox(
        SandboxConfig(
            merchant,
            integrator_id=INTEGRATOR,
            require_integrator_id=True,
            faults=FaultConfig(mode="http_503", rate=0.3, retry_after=None, seed=1),
        )
    )
    init_sandbox(sl_sqlite_url, merchant)
    engine = create_sl_engine(sl_sqlite_url)
    install(engine)  # the one-time DBA step (docs/security.md): the run itself must not need DDL rights
    engine.dispose()
    statement_log.statements.clear()

    cfg = PipelineConfig(
        sl_url=sl_sqlite_url,
        paytrace=PayTraceSettings(
            url=server.url,
            username=USER,
            password=PASSWORD,
            integrator_id=INTEGRATOR,
            timezone=LA,
            requests_per_second=0,
            backoff_base=0.01,
            backoff_cap=0.05,
            max_attempts=10,
        ),
        mapping_path=write_sandbox_mapping(tmp_path / "mapping.yaml"),
        landing_dir=tmp_path / "landing",
        gx_dir=tmp_path / "gx",
        lookback=dt.timedelta(0),
    )
    caplog.set_level(logging.DEBUG)
    window = day_window(DAY, LA)
    summary = run_window(cfg, window, "security-run")
    settle_summary = run_settlements(cfg, window, "security-settle")
    (tmp_path / "summary.json").write_text(json.dumps([summary, settle_summary], default=str))
    accesses = statement_log.accesses()  # the run's SQL only, before the scans below add their own

    # the run did real work through real faults
    assert server.faults.injected > 0, "no 503 was injected: the fault path was not exercised"
    assert summary["posted"] > 0 and summary["dead_letter"] > 0, summary
    issued = list(server._tokens)  # every token the sandbox handed out during the run
    assert issued, "the client never obtained a token"
    own_token = _request_token(server.url)

    secrets = [PASSWORD, INTEGRATOR, own_token, *issued]
    log_text = caplog.text + "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    assert len(caplog.records) > 10, "the run logged (almost) nothing: the log scan would prove nothing"
    findings: list[Finding] = scan_text(log_text, secrets=secrets, location="log")
    findings += scan_paths(
        [tmp_path / "landing", tmp_path / "gx", tmp_path / "summary.json"], secrets=secrets
    )
    engine = create_sl_engine(sl_sqlite_url)
    try:
        findings += scan_database(engine, secrets=secrets)
        with engine.connect() as conn:
            letters = conn.execute(sa.text("SELECT count(*) FROM xPTDeadLetter")).scalar_one()
    finally:
        engine.dispose()
    findings += scan_paths([Path(sl_sqlite_url.removeprefix("sqlite:///"))], secrets=secrets)
    assert letters > 0
    assert findings == [], "\n".join(map(str, findings[:20]))
    # the scan is not blind: the same scanners see the token and the password when they are there
    assert [f.kind for f in scan_text(f"Bearer {own_token}", secrets=secrets)].count("secret") == 1
    assert scan_text(f"pw {PASSWORD}", secrets=secrets)

    # least privilege: every SL access the run made is granted to paytrace_sl_writer
    grants = role_grants(ROLE_SCRIPT.read_text())
    assert accesses, "no SQL captured"
    assert not {a for a in accesses if a[0] in ("CREATE TABLE", "CREATE INDEX", "ALTER")}, (
        "a run issued DDL; the role has no DDL rights"
    )
    denied = sorted((a for a in accesses if not allowed(a, grants)), key=str)
    examples = {a: statement_log.first_statement(a)[:300] for a in denied}
    assert denied == [], f"statements outside paytrace_sl_writer's grants: {examples}"
