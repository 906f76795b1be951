"""No card number and no password in what Airflow's task runner logs (files and console).

Airflow 3's task runner logs through structlog: its own "Task failed with exception" line renders the
traceback from the exception object, and stdlib records reach its ``ProcessorFormatter`` with their
``exc_info``, so a handler filter alone does not cover them. These tests run real tasks with
``dag.test()`` whose input carries a Luhn-valid 16-digit transaction id and passwords containing ``@``
(the SL URL's unescaped, which SQLAlchemy alone mis-parses), then scan every file under
``AIRFLOW_HOME/logs`` and the captured stdout/stderr: no PAN, no password, not even a password's tail.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hostile_paytrace import HostilePayTrace
from structlog.stdlib import ProcessorFormatter

from paytrace_sl.redaction import find_pans
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

DAGS = Path(__file__).resolve().parents[3] / "dags"
PAN = "4111111111111111"  # Luhn-valid test card number used as a transaction id
PAYTRACE_PASSWORD = "pt-Pass@word-7319"
SL_PASSWORD = "sl-Secret@tail-5521"  # unescaped '@': SQLAlchemy alone reads host 'tail-5521@127.0.0.1'
SECRETS = (PAYTRACE_PASSWORD, SL_PASSWORD, "tail-5521", "word-7319")
DAY = dt.date(2025, 4, 1)


def _with_password(url: str, password: str) -> str:
    """``postgresql+psycopg://postgres@host/db`` → the same with ``postgres:<password>`` (unescaped)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"


MERCHANT = MerchantConfig(seed=11, start=DAY, days=1, tx_per_day=8)


def _day_records() -> list[dict[str, Any]]:
    sim = MerchantSimulation(MERCHANT)
    records = [dict(r) for r in sim.transactions_for_day(DAY)]
    records[0] = {**records[0], "transaction_id": int(PAN)}
    return records


def _leaks(text: str) -> list[str]:
    """What leaked, described without repeating it (last four characters only)."""
    pans = [f"PAN {p[-4:]}" for p in find_pans(text)]
    return pans + [f"secret ending {s[-4:]}" for s in SECRETS if s in text]


@contextmanager
def airflow_log_to_stdout() -> Iterator[None]:
    """Airflow's root handler keeps the stdout of whatever test phase configured logging: point it at
    the current (captured) stdout, so every line the task logs is in ``capfd``; restore it after.
    Only Airflow's handler (structlog's formatter), not pytest's capture handlers. Use in the test
    body: each pytest phase has its own capture file."""
    saved = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and isinstance(handler.formatter, ProcessorFormatter):
            saved.append((handler, handler.stream))
            handler.stream = sys.stdout  # not setStream(): it flushes the old, maybe closed, stream
    try:
        yield
    finally:
        for handler, stream in saved:
            handler.stream = stream


@pytest.fixture
def hostile_paytrace() -> Iterator[HostilePayTrace]:
    with HostilePayTrace() as server:
        records = _day_records()
        server.records_for = lambda body: records if body.get("start_date") == "04/01/2025" else []
        yield server


def _connect(monkeypatch: pytest.MonkeyPatch, paytrace_url: str, sl_url: str) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAYTRACE_DEFAULT",
        json.dumps(
            {
                "conn_type": "paytrace",
                "host": paytrace_url,
                "login": "sandbox",
                "password": PAYTRACE_PASSWORD,
                "extra": {"timezone": "America/Los_Angeles", "requests_per_second": 0, "max_attempts": 1},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT",
        json.dumps({"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": sl_url}}),
    )
    for name in ("SL_DATABASE_URL", "PAYTRACE_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def _scan(airflow_home: Path, captured: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in (airflow_home / "logs").rglob("*"):
        if path.is_file():
            hits = _leaks(path.read_text(errors="replace"))
            if hits:
                found[str(path.relative_to(airflow_home))] = hits
    hits = _leaks(captured)
    if hits:
        found["captured output"] = hits
    return found


def test_payments_dag_logs_no_pan_and_no_password(
    dagbag: Any,
    airflow_db: Path,
    hostile_paytrace: HostilePayTrace,
    sl_pg_url: str,
    pipeline_dirs: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    init_sandbox(sl_pg_url, MERCHANT)  # customers, invoices and our xPT* tables
    _connect(monkeypatch, hostile_paytrace.url, _with_password(sl_pg_url, SL_PASSWORD))
    dag = dagbag.get_dag("paytrace_payments_to_sl")
    with airflow_log_to_stdout():
        run = dag.test(logical_date=pendulum.datetime(2025, 4, 2, tz="America/Los_Angeles"))
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    captured = capfd.readouterr()
    output = captured.out + captured.err
    # the task log was captured at all (our library's lines), and the PAN-like id reached the pipeline
    # (the parser sets it aside: ids beyond SL's char(10) RefNbr are dead letters)
    assert "paytrace_sl." in output and "dead_letter" in output, states
    assert _scan(airflow_db, output) == {}, states


def test_a_failing_task_logs_no_pan_and_no_password(
    airflow_db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A task that logs and raises with a PAN and the passwords in the message (stdlib and traceback)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    dag_file = tmp_path / "leaky_dag.py"
    dag_file.write_text(LEAKY_DAG)
    sl_url = _with_password("postgresql+psycopg://u@127.0.0.1:9/x", SL_PASSWORD)
    _connect(monkeypatch, "http://127.0.0.1:9", sl_url)
    bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)  # dag.test() needs a serialized DAG of a known bundle
    with airflow_log_to_stdout():
        run = bag.get_dag("paytrace_sl_leaky").test(logical_date=pendulum.datetime(2025, 4, 2, tz="UTC"))
    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert {ti.task_id: str(ti.state) for ti in run.get_task_instances()} == {"leak": "failed"}
    assert "about to fail" in output and "ValueError" in output  # the lines and the traceback were logged
    assert _scan(airflow_db, output) == {}


LEAKY_DAG = f'''
import logging
import pendulum
from airflow.sdk import dag, task


@dag(dag_id="paytrace_sl_leaky", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"))
def leaky():
    @task(task_id="leak", retries=0)
    def leak():
        from paytrace_sl.logging_setup import install_redaction
        from paytrace_sl_airflow.hooks import DynamicsSLHook, PayTraceHook

        install_redaction()
        PayTraceHook().get_settings()  # reading credentials registers them for redaction
        url = DynamicsSLHook().get_sqlalchemy_url()
        log = logging.getLogger("paytrace_sl.leaky")
        log.warning("about to fail on transaction %s", "{PAN}")
        try:
            raise KeyError("{PAN} {PAYTRACE_PASSWORD}")
        except KeyError:
            log.exception("parameters: %s", url)
        raise ValueError(f"transaction {PAN} with {PAYTRACE_PASSWORD} and " + url)

    leak()


leaky()
'''
