"""Settings managed in the Airflow UI are the ones used: connections and Variables in the metadata DB.

What the UI's Admin → Connections / Admin → Variables forms change is the row in the metadata DB; these
tests change that row (no ``AIRFLOW_CONN_*``, no ``SL_DATABASE_URL``) between two ``dag.test()`` runs
and check that the next run uses the edit: another SL database receives the postings, a wrong PayTrace
password fails the run, a Variable changes the payments schedule. Environment variables still win
(a deployment's pin), as documented in docs/operations.md.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60)  # paytrace_sandbox's
DAY = dt.date(2025, 4, 3)
DAGS = Path(__file__).resolve().parents[3] / "dags"


def _set_connection(conn_id: str, conn_type: str, **fields: Any) -> None:
    """Create or replace connection ``conn_id`` in the metadata DB, as the UI's form does."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    extra = fields.pop("extra", None)
    with create_session() as session:
        row = session.query(Connection).filter(Connection.conn_id == conn_id).one_or_none()
        if row is None:
            row = Connection(conn_id=conn_id, conn_type=conn_type)
            session.add(row)
        for name, value in fields.items():
            setattr(row, name, value)
        row.set_extra(json.dumps(extra or {}))


def _edit_variable(key: str, value: str | None) -> None:
    """Create, change or (None) delete Variable ``key`` in the metadata DB, as the UI's form does."""
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key == key).delete()
        if value is not None:
            session.add(Variable(key=key, val=value))


def _set_variable(key: str, value: str | None) -> None:
    _edit_variable(key, value)
    from paytrace_sl_airflow.hooks import clear_variable_memo

    clear_variable_memo()  # outside a task a value is kept 5 s; this test reads it back at once


def _posted_docs(url: str) -> int:
    engine = create_sl_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.text("SELECT count(*) FROM ardoc WHERE crtd_prog = 'PTSL'")).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.fixture
def ui_only(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No setting from the environment that would shadow the metadata DB's connections."""
    for name in (
        "AIRFLOW_CONN_PAYTRACE_DEFAULT",
        "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT",
        "SL_DATABASE_URL",
        "SL_DATABASE_URL_FILE",
        "PAYTRACE_URL",
        "PAYTRACE_USERNAME",
        "PAYTRACE_PASSWORD",
        "PAYTRACE_PASSWORD_FILE",
        "PAYTRACE_TIMEZONE",
        "PAYTRACE_SL_MAPPING",  # the shipped mapping: the SL sandbox's chart of accounts
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Connection).filter(
            Connection.conn_id.in_(["paytrace_default", "dynamics_sl_default"])
        ).delete()


def test_connection_edited_in_the_metadata_db_is_used_by_the_next_run(
    ui_only: None,
    run_dag: Callable[[str, dt.date], Any],
    paytrace_sandbox: SandboxServer,
    sl_pg_url: str,
    second_sl_pg_url: str,
    pipeline_dirs: Path,
) -> None:
    first, second = sl_pg_url, second_sl_pg_url
    init_sandbox(first, MERCHANT)
    init_sandbox(second, MERCHANT)
    paytrace = {
        "host": paytrace_sandbox.url,
        "login": "sandbox",
        "password": "sandbox-password",
        "extra": {"timezone": LA, "requests_per_second": 0},
    }
    _set_connection("paytrace_default", "paytrace", **paytrace)
    _set_connection("dynamics_sl_default", "dynamics_sl", extra={"sqlalchemy_url": first})

    dr = run_dag("paytrace_payments_to_sl", DAY)
    assert str(dr.state) == "success", {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    posted = _posted_docs(first)
    assert posted > 0 and _posted_docs(second) == 0

    # the operator points the SL connection at another database in the UI: the next run writes there
    _set_connection("dynamics_sl_default", "dynamics_sl", extra={"sqlalchemy_url": second})
    dr = run_dag("paytrace_payments_to_sl", DAY)
    assert str(dr.state) == "success", {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert _posted_docs(second) == posted and _posted_docs(first) == posted

    # a wrong password typed into the PayTrace connection is not ignored: the next run fails on it
    _set_connection("paytrace_default", "paytrace", **(paytrace | {"password": "wrong-password"}))
    dr = run_dag("paytrace_payments_to_sl", DAY + dt.timedelta(days=1))
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert str(dr.state) == "failed" and states["extract"] == "failed", states
    assert _posted_docs(second) == posted


@pytest.fixture
def server_context(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Variable lookups as the scheduler and API server make them (metadata DB); the interval is not
    pinned in the environment (the harness pins it: it is unset here)."""
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
    monkeypatch.delenv("PAYTRACE_SL_INTERVAL", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_PAYTRACE_SL_INTERVAL", raising=False)
    yield
    _set_variable("paytrace_sl_interval", None)
    _set_variable("PAYTRACE_SL_INTERVAL", None)


def _parsed_schedule() -> str:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "paytrace_payments_to_sl.py"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag("paytrace_payments_to_sl")
    return str(dag.timetable.expression)


def test_schedule_variable_edited_in_the_ui_is_used(
    server_context: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paytrace_sl.pipeline.windows import Interval
    from paytrace_sl.settings import env
    from paytrace_sl_airflow.dag_support import payments_interval

    assert payments_interval() is Interval.HOURLY  # the default
    hourly = _parsed_schedule()
    _set_variable("paytrace_sl_interval", "daily")
    assert env("PAYTRACE_SL_INTERVAL") == "daily" and payments_interval() is Interval.DAILY
    daily = _parsed_schedule()
    assert daily != hourly and daily == Interval.DAILY.cron
    _set_variable("paytrace_sl_interval", None)
    _set_variable("PAYTRACE_SL_INTERVAL", "daily")  # the upper-case name a user may type is found too
    assert payments_interval() is Interval.DAILY
    # the environment pins it: a deployment's variable wins over the UI
    monkeypatch.setenv("PAYTRACE_SL_INTERVAL", "hourly")
    assert payments_interval() is Interval.HOURLY


def test_credentials_never_come_from_a_variable(
    server_context: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paytrace_sl.settings import env, variable_key

    monkeypatch.delenv("PAYTRACE_PASSWORD", raising=False)
    _set_variable("paytrace_password", "from-a-variable")
    try:
        assert variable_key("PAYTRACE_PASSWORD") is None and env("PAYTRACE_PASSWORD") is None
        assert variable_key("PAYTRACE_SL_WEBHOOK_SECRET") is None
    finally:
        _set_variable("paytrace_password", None)


def test_startup_seeds_variables_once_and_the_banner_tells_the_truth(
    server_context: None, ui_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make airflow``'s start-up: Variables created only when missing (a UI edit survives a restart);
    the banner shows the values the tasks will use and says when the environment pins one."""
    from paytrace_sl_airflow.startup import banner_lines, seed_variables

    for key in ("paytrace_sl_start_date", "paytrace_sl_end_date", "paytrace_timezone"):
        _set_variable(key, None)
    monkeypatch.delenv("PAYTRACE_SL_START_DATE", raising=False)
    try:
        seeds = {"PAYTRACE_SL_INTERVAL": "daily", "PAYTRACE_SL_START_DATE": "2025-04-01"}
        assert seed_variables(seeds) == ["paytrace_sl_interval", "paytrace_sl_start_date"]
        _set_variable("paytrace_sl_interval", "hourly")  # the operator's edit in the UI
        assert seed_variables(seeds) == []  # a restart keeps it
        _set_connection(
            "paytrace_default", "paytrace", host="http://127.0.0.1:1", login="ui-user", password="ui-secret"
        )
        _set_connection(
            "dynamics_sl_default",
            "dynamics_sl",
            extra={"sqlalchemy_url": "postgresql+psycopg://sl:url-secret@127.0.0.1/ui_db"},
        )
        text = "\n".join(banner_lines())
        assert "ui-secret" not in text and "url-secret" not in text
        assert "as ui-user <- connection paytrace_default, metadata DB" in text
        assert "/ui_db <- connection dynamics_sl_default, metadata DB" in text
        assert "paytrace_sl_interval:    hourly <- Variable paytrace_sl_interval" in text
        assert "paytrace_sl_start_date:  2025-04-01 <- Variable" in text
        assert "paytrace_timezone:       (default)" in text

        monkeypatch.setenv("SL_DATABASE_URL", "sqlite:///pinned.db")
        monkeypatch.setenv("PAYTRACE_SL_INTERVAL", "daily")
        text = "\n".join(banner_lines())
        assert "sqlite:///pinned.db <- environment SL_DATABASE_URL (wins over connection" in text
        assert "paytrace_sl_interval:    daily <- environment PAYTRACE_SL_INTERVAL (pins it" in text
    finally:
        _set_variable("paytrace_sl_start_date", None)


def test_variable_edited_between_runs_is_used_by_the_next_run_at_once(
    airflow_db: Path,
    run_dag: Callable[[str, dt.date], Any],
    airflow_connections: Callable[[str, str], None],
    paytrace_sandbox: SandboxServer,
    sl_pg_url: str,
    pipeline_dirs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tasks remember a Variable for their own task run only: a look-back edited right after a run
    (no pause, nothing cleared; ``dag.test()`` runs every task in this one process) is the next run's.
    With values kept for a time per process instead, the second run read the first run's look-back."""
    monkeypatch.delenv("PAYTRACE_SL_LOOKBACK_HOURS", raising=False)
    init_sandbox(sl_pg_url, MERCHANT)
    airflow_connections(paytrace_sandbox.url, sl_pg_url)
    key = "paytrace_sl_lookback_hours"
    try:
        _edit_variable(key, "0")
        dr = run_dag("paytrace_payments_to_sl", DAY)
        assert str(dr.state) == "success", {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
        first = dr.get_task_instance("extract").xcom_pull(task_ids="extract")
        assert first["lookback_only"] == 0, first

        _edit_variable(key, "48")  # the operator widens the look-back in Admin -> Variables
        dr = run_dag("paytrace_payments_to_sl", DAY)
        assert str(dr.state) == "success", {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
        second = dr.get_task_instance("extract").xcom_pull(task_ids="extract")
        assert second["lookback_only"] > 0 and second["in_window"] == first["in_window"], (first, second)
    finally:
        _set_variable(key, None)
