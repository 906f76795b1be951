"""``extract``: the library function and the CLI, against the sandbox (with deliberately bad records)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.paytrace.client import PayTraceClient
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.errors import PayTraceServerError
from paytrace_sl.paytrace.extract import extract_window
from paytrace_sl.paytrace.records import Transaction
from paytrace_sl_sandbox.faults import FaultConfig
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

START, END = dt.date(2025, 4, 1), dt.date(2025, 4, 3)


@pytest.fixture
def bad_sandbox(make_sandbox: Callable[[SandboxConfig], SandboxServer]) -> SandboxServer:
    return make_sandbox(SandboxConfig(MerchantConfig(seed=7, days=3, tx_per_day=40, bad_records=True)))


def test_extract_window_writes_every_good_record_and_keeps_rejects(
    bad_sandbox: SandboxServer, fast_settings: Callable[..., PayTraceSettings], tmp_path: Path
) -> None:
    out = tmp_path / "landing" / "tx.jsonl"
    with PayTraceClient(fast_settings(bad_sandbox)) as client:
        summary = extract_window(client, START, END, out)
        raw_count = len(list(client.export_transactions_raw(START, END)))
    lines = out.read_text().splitlines()
    txs = [Transaction.from_json_dict(json.loads(line)) for line in lines]
    assert summary.count == len(txs) > 60
    assert summary.failures and summary.records_read >= raw_count
    # nothing dropped: each record read is written, an exact repeat, or set aside (one reject per id)
    assert summary.count + summary.duplicates + len(summary.failures) <= summary.records_read
    assert summary.duplicates > 0  # the DECLINED pass saw declines the regular export already had
    assert summary.count_by_status.get("declined", 0) > 0
    assert {t.created_at.date() for t in txs} == {START, START + dt.timedelta(days=1)}
    assert sum(summary.count_by_type.values()) == summary.count
    assert sum(summary.amount_by_type.values(), Decimal(0)) == sum((t.amount for t in txs), Decimal(0))
    assert sum(summary.count_by_status.values()) == summary.count
    rejects = [json.loads(line) for line in Path(str(summary.rejects_path)).read_text().splitlines()]
    assert len(rejects) == len(summary.failures)
    assert {"transaction_id", "field", "reason"} <= set(rejects[0]) and "record" not in rejects[0]
    assert {r["field"] for r in rejects} >= {"transaction_id", "amount", "created.at"}
    assert json.dumps(summary.to_json_dict())  # JSON-safe (XCom)


def test_failed_extract_leaves_no_landing_file(
    paytrace_sandbox: SandboxServer, fast_settings: Callable[..., PayTraceSettings], tmp_path: Path
) -> None:
    out = tmp_path / "tx.jsonl"
    paytrace_sandbox.set_faults(FaultConfig(mode="http_500"))
    with (
        PayTraceClient(fast_settings(paytrace_sandbox, max_attempts=2)) as client,
        pytest.raises(PayTraceServerError),
    ):
        extract_window(client, START, END, out)
    assert list(tmp_path.iterdir()) == []


def _env(server: SandboxServer) -> dict[str, str]:
    return {
        "PAYTRACE_URL": server.url,
        "PAYTRACE_USERNAME": "sandbox",
        "PAYTRACE_PASSWORD": "sandbox-password",
        "PAYTRACE_INTEGRATOR_ID": "SANDBOXINT01",
        "PAYTRACE_TIMEZONE": "America/Los_Angeles",
        "AIRFLOW_CONN_PAYTRACE_DEFAULT": "",
    }


def test_cli_extract_success(paytrace_sandbox: SandboxServer, tmp_path: Path) -> None:
    out = tmp_path / "tx.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "extract",
            "--start",
            "2025-04-01",
            "--end",
            "2025-04-02",
            "--out",
            str(out),
            "--requests-per-second",
            "0",
        ],
        env=_env(paytrace_sandbox),
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines and all(Transaction.from_json_dict(json.loads(line)) for line in lines)
    assert f"extracted {len(lines)} transaction(s) for 2025-04-01..2025-04-02" in result.stdout
    assert "type   SALE" in result.stdout and "rejected 0 records" in result.stdout


def test_cli_extract_flags_override_env_and_rejects_exit_1(
    bad_sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = _env(bad_sandbox)
    env["PAYTRACE_URL"] = "http://127.0.0.1:9"  # wrong on purpose: the flag must win
    out = tmp_path / "tx.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "extract",
            "--start",
            "2025-04-01",
            "--end",
            "2025-04-02",
            "--out",
            str(out),
            "--url",
            bad_sandbox.url,
        ],
        env=env,
    )
    assert result.exit_code == 1, result.output  # done, with findings (rejected records)
    assert "rejected" in result.stdout and Path(str(out) + ".rejects.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "env_patch", "expect", "code"),
    [
        ([], {"PAYTRACE_PASSWORD": "not-the-password"}, "refused the API credentials", 3),
        (["--end", "2025-03-01"], {}, "must be after --start", 2),
        ([], {"PAYTRACE_TIMEZONE": "Mars/Base"}, "unknown time zone", 2),
        ([], {"PAYTRACE_USERNAME": "", "PAYTRACE_PASSWORD": ""}, "PayTrace settings missing", 2),
    ],
)
def test_cli_extract_failures_are_one_clean_line(
    paytrace_sandbox: SandboxServer,
    tmp_path: Path,
    args: list[str],
    env_patch: dict[str, str],
    expect: str,
    code: int,
) -> None:
    env = {**_env(paytrace_sandbox), **env_patch}
    base = ["extract", "--start", "2025-04-01", "--end", "2025-04-02", "--out", str(tmp_path / "x.jsonl")]
    result = CliRunner().invoke(app, base + args, env=env)
    assert result.exit_code == code, result.output  # 2 usage/settings, 3 PayTrace refused
    assert expect in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert "not-the-password" not in result.output and "sandbox-password" not in result.output


def test_cli_unreachable_server_is_one_line(tmp_path: Path) -> None:
    env = {"PAYTRACE_URL": "http://127.0.0.1:9", "PAYTRACE_USERNAME": "u", "PAYTRACE_PASSWORD": "p-secret-1"}
    result = CliRunner().invoke(
        app,
        [
            "extract",
            "--start",
            "2025-04-01",
            "--end",
            "2025-04-02",
            "--out",
            str(tmp_path / "x.jsonl"),
            "--max-attempts",
            "2",
            "--max-retry-seconds",
            "1",
        ],
        env={**env, "AIRFLOW_CONN_PAYTRACE_DEFAULT": ""},
    )
    assert result.exit_code == 3  # environment failure
    assert "connection failed" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_help() -> None:
    result = CliRunner().invoke(app, ["extract", "--help"])
    assert (
        result.exit_code == 0 and "--integrator-id" in result.stdout and "PAYTRACE_PASSWORD" in result.stdout
    )


def test_export_log_line_counts_the_records_kept(
    bad_sandbox: SandboxServer,
    fast_settings: Callable[..., PayTraceSettings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="paytrace_sl.paytrace.client")
    with PayTraceClient(fast_settings(bad_sandbox)) as client:
        yielded = len(list(client.export_transactions_raw(START, END)))
    kept = [
        int(r.getMessage().split(": ", 1)[1].split(" record(s) kept")[0])
        for r in caplog.records
        if "record(s) kept" in r.getMessage()
    ]
    assert kept and sum(kept) == yielded > 0
