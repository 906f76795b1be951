"""One CLI convention, checked command by command (docs/operations.md, "Command line").

``--start`` inclusive / ``--end`` exclusive everywhere; exit codes 0 ok / 1 findings / 2 usage or
settings / 3 environment / 4 bug; ``--json`` on every command that reports; an expected failure is one
``error:`` line on stderr, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.cli.common import ErrorHandlingGroup
from paytrace_sl.errors import PaytraceSlError, Transient
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

DOWN = "postgresql+psycopg://u:topsecret@127.0.0.1:1/nodb"  # nothing listens on port 1
NO_SL = {"SL_DATABASE_URL": None, "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT": None}
RANGE_COMMANDS = ["extract", "sync", "replay", "reconcile", "report"]
REPORTING = [
    ["extract"],
    ["sync"],
    ["replay"],
    ["reconcile"],
    ["report"],
    ["sl", "preflight"],
    ["sl", "check-schema"],
    ["sl", "install"],
    ["pci-scan"],
]


def _extra(command: str, tmp_path: Path) -> list[str]:
    """The other required options of ``command``, so only the one under test is wrong."""
    return {
        "extract": ["--out", str(tmp_path / "x.jsonl")],
        "report": ["--out", str(tmp_path / "report"), "--offline"],
        "reconcile": ["--offline"],
    }.get(command, [])


def _env(**more: str | None) -> dict[str, str | None]:
    return {
        "PAYTRACE_URL": "http://127.0.0.1:9",
        "PAYTRACE_USERNAME": "u",
        "PAYTRACE_PASSWORD": "p-secret-9",
        "AIRFLOW_CONN_PAYTRACE_DEFAULT": None,
        **more,
    }


def _run(args: list[str], env: dict[str, str | None] | None = None) -> Any:
    return CliRunner().invoke(app, args, env=env)


def _one_error_line(result: Any) -> str:
    """The failure is one ``error:`` line on stderr: no traceback, no secret."""
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "topsecret" not in result.output and "p-secret-9" not in result.output
    return errors[0]


def _flat_help(args: list[str]) -> str:
    result = _run([*args, "--help"])
    assert result.exit_code == 0, result.output
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


@pytest.mark.parametrize("command", RANGE_COMMANDS)
def test_every_date_range_is_start_inclusive_end_exclusive_and_says_so(command: str) -> None:
    text = _flat_help([command])
    assert "First merchant-local day, YYYY-MM-DD (inclusive)." in text
    assert "Day after the last one, YYYY-MM-DD (exclusive, as in every paytrace-sl command" in text
    assert "Last merchant day (inclusive)" not in text


def test_the_root_help_states_the_convention() -> None:
    text = _flat_help([])
    assert "--start inclusive, --end exclusive" in text
    assert "0 ok, 1 findings, 2 usage or configuration, 3 environment" in text


@pytest.mark.parametrize("args", REPORTING, ids=lambda a: " ".join(a))
def test_every_reporting_command_has_json(args: list[str]) -> None:
    assert "--json" in _flat_help(args)


@pytest.mark.parametrize("command", RANGE_COMMANDS)
@pytest.mark.parametrize(
    ("start", "end", "expect"),
    [("2025-04-03", "2025-04-02", "must be after --start"), ("2025-04-01", "2025-13-01", "--end: expected")],
)
def test_a_bad_range_is_a_usage_error_exit_2_everywhere(
    command: str, start: str, end: str, expect: str, tmp_path: Path
) -> None:
    env = _env(SL_DATABASE_URL=f"sqlite:///{tmp_path / 'sl.db'}")
    result = _run([command, "--start", start, "--end", end, *_extra(command, tmp_path)], env)
    assert result.exit_code == 2, result.output
    assert expect in _one_error_line(result)


SL_COMMANDS = [
    ["sync", "--start", "2025-04-01", "--end", "2025-04-02"],
    ["replay", "--start", "2025-04-01", "--end", "2025-04-02"],
    ["reconcile", "--start", "2025-04-01", "--end", "2025-04-02", "--offline"],
    ["report", "--start", "2025-04-01", "--end", "2025-04-02", "--offline", "--out", "OUT"],
    ["sl", "preflight"],
    ["sl", "check-schema"],
    ["sl", "install"],
]


@pytest.mark.parametrize("args", SL_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_missing_sl_database_setting_is_exit_2(args: list[str], tmp_path: Path) -> None:
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    result = _run(args, _env(**NO_SL))
    assert result.exit_code == 2, result.output
    assert "SL_DATABASE_URL" in _one_error_line(result)


@pytest.mark.parametrize("args", SL_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_sl_down_is_one_line_exit_3(args: list[str], paytrace_sandbox: SandboxServer, tmp_path: Path) -> None:
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    env = _env(
        PAYTRACE_URL=paytrace_sandbox.url,
        PAYTRACE_USERNAME="sandbox",
        PAYTRACE_PASSWORD="sandbox-password",
        SL_DATABASE_URL=DOWN,
        PAYTRACE_SL_LANDING_DIR=str(tmp_path / "landing"),
        PAYTRACE_SL_GX_DIR=str(tmp_path / "gx"),
    )
    result = _run(args, env)
    assert result.exit_code == 3, result.output
    line = _one_error_line(result)
    assert "127.0.0.1" in line or "SL database" in line, line


def test_bad_mapping_is_one_line_exit_2_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "mapping.yaml"
    bad.write_text("timezone: America/Los_Angeles\nno_such_key: 1\n")
    args = ["reconcile", "--start", "2025-04-01", "--end", "2025-04-02", "--offline", "--mapping", str(bad)]
    result = _run(args, _env(SL_DATABASE_URL=f"sqlite:///{tmp_path / 'sl.db'}"))
    assert result.exit_code == 2, result.output
    assert f"{bad}:" in _one_error_line(result)


@pytest.mark.parametrize(
    ("variable", "value", "expect"),
    [
        ("PAYTRACE_SL_NOTIFY", "pager", "unknown notification channel"),
        ("PAYTRACE_SL_LOOKBACK_HOURS", "a day", "PAYTRACE_SL_LOOKBACK_HOURS"),
    ],
)
def test_bad_setting_in_the_environment_is_one_line_exit_2(
    variable: str, value: str, expect: str, tmp_path: Path
) -> None:
    env = _env(SL_DATABASE_URL=f"sqlite:///{tmp_path / 'sl.db'}", **{variable: value})
    result = _run(["sync", "--start", "2025-04-01", "--end", "2025-04-02"], env)
    assert result.exit_code == 2, result.output
    assert expect in _one_error_line(result)


def _next_ar_batch(engine: sa.Engine) -> str:
    from paytrace_sl.sl.numbering import increment

    with engine.connect() as conn:
        last = conn.execute(sa.select(catalog.ARSetup.c.LastBatNbr)).scalar_one()
    return increment(str(last))


def test_preflight_refusal_in_sync_is_one_line_exit_3(
    paytrace_sandbox: SandboxServer, sl_sqlite_url: str, tmp_path: Path
) -> None:
    """A stray ARDoc with a blank CpnyID sits in the batch the writer takes next: SL's release would fail,
    so the writer rolls the batch back and raises PreflightFailed; sync says so in one line, exit 3."""
    init_sandbox(sl_sqlite_url, MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60))
    engine = create_sl_engine(sl_sqlite_url)
    d = catalog.ARDoc
    with engine.begin() as conn:
        row = dict(conn.execute(sa.select(d).where(d.c.DocType == "IN").limit(1)).mappings().one())
        row.update(BatNbr=_next_ar_batch(engine), RefNbr="999999", CpnyID=" ", Rlsed=0, tstamp=None)
        conn.execute(sa.insert(d).values(row))
    engine.dispose()
    env = _env(
        PAYTRACE_URL=paytrace_sandbox.url,
        PAYTRACE_USERNAME="sandbox",
        PAYTRACE_PASSWORD="sandbox-password",
        SL_DATABASE_URL=sl_sqlite_url,
    )
    dirs = ["--landing-dir", str(tmp_path / "l"), "--gx-dir", str(tmp_path / "gx")]
    args = ["sync", "--start", "2025-04-02", "--end", "2025-04-03", "--mapping", str(DEFAULT_MAPPING), *dirs]
    result = _run([*args, "--no-settlements"], env)
    assert result.exit_code == 3, result.output
    assert "failed the release preflight and was rolled back" in _one_error_line(result)


def test_json_documents(sl_sqlite_url: str, tmp_path: Path) -> None:
    installed = _run(["sl", "install", "--sl-url", sl_sqlite_url, "--json"])
    assert installed.exit_code == 0, installed.output
    assert json.loads(installed.stdout)["to_version"] >= 2
    checked = _run(["sl", "check-schema", "--sl-url", sl_sqlite_url, "--json"])
    assert checked.exit_code in (0, 1) and json.loads(checked.stdout)["ok"] is (checked.exit_code == 0)
    (tmp_path / "clean.log").write_text("nothing to see\n")
    scanned = _run(["pci-scan", str(tmp_path / "clean.log"), "--json"], _env())
    assert scanned.exit_code == 0 and json.loads(scanned.stdout)["clean"] is True
    (tmp_path / "dirty.log").write_text("card 4111 1111 1111 1111\n")
    dirty = _run(["pci-scan", str(tmp_path / "dirty.log"), "--json"], _env())
    assert dirty.exit_code == 1 and json.loads(dirty.stdout)["counts"]


def _mini_app(exc: BaseException) -> typer.Typer:
    mini = typer.Typer(cls=ErrorHandlingGroup, pretty_exceptions_enable=False)

    @mini.command()
    def boom() -> None:
        raise exc

    @mini.command()
    def other() -> None:  # a second command keeps "boom" a sub-command
        pass

    return mini


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (PaytraceSlError("SL refused it\n  detail line"), 3, "error: SL refused it"),
        (type("LockTimeout", (Transient,), {})("lock timeout"), 3, "transient"),
        (ZeroDivisionError("oops"), 4, "internal error ZeroDivisionError"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_error_handling_table(exc: BaseException, code: int, text: str) -> None:
    result = CliRunner().invoke(_mini_app(exc), ["boom"])
    assert result.exit_code == code, result.output
    assert text in result.stderr
    assert ("Traceback" in result.stderr) is (code == 4)  # only a bug keeps its traceback
