"""Airflow test harness: an isolated AIRFLOW_HOME and SQLite metadata DB, set before Airflow is imported.

Airflow reads its configuration once, at first import, so these variables are set at the top of this
conftest (pytest loads it before collecting the tests below it). The metadata DB is reset once per
session (~3 s). DAGs are parsed from the repository's ``dags/`` folder with the daily interval the
tests use (one merchant day per run).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sl_replica import ReplicaTemplates

REPO = Path(__file__).resolve().parents[3]
DAGS = REPO / "dags"
_HOME = Path(tempfile.mkdtemp(prefix="ptsl-airflow-home-"))

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ["PAYTRACE_SL_INTERVAL"] = "daily"
os.environ["PAYTRACE_SL_START_DATE"] = "2025-04-01"
os.environ["PAYTRACE_SL_RETRIES"] = "0"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Another conftest/test module imported Airflow first: its configuration points elsewhere.
_AIRFLOW_PREIMPORTED = "airflow" in sys.modules

LA = "America/Los_Angeles"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A fresh Airflow metadata DB for the session."""
    if _AIRFLOW_PREIMPORTED:
        pytest.skip("airflow was imported before this conftest could isolate AIRFLOW_HOME; run these alone")
    from airflow.utils import db

    db.resetdb()
    return _HOME


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def airflow_connections(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """``connect(paytrace_url, sl_url)``: the two connections as AIRFLOW_CONN_* variables."""

    def connect(paytrace_url: str, sl_url: str) -> None:
        monkeypatch.setenv(
            "AIRFLOW_CONN_PAYTRACE_DEFAULT",
            json.dumps(
                {
                    "conn_type": "paytrace",
                    "host": paytrace_url,
                    "login": "sandbox",
                    "password": "sandbox-password",
                    "extra": {"timezone": LA, "requests_per_second": 0},
                }
            ),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT",
            json.dumps({"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": sl_url}}),
        )
        for name in ("SL_DATABASE_URL", "PAYTRACE_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD"):
            monkeypatch.delenv(name, raising=False)

    return connect


@pytest.fixture
def pipeline_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Landing and GX directories of this test (what the DAG tasks read from the environment)."""
    monkeypatch.setenv("PAYTRACE_SL_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("PAYTRACE_SL_GX_DIR", str(tmp_path / "gx"))
    return tmp_path


def merchant_day_run_date(day: dt.date) -> dt.datetime:
    """The logical date whose manual data interval is merchant day ``day`` (the interval ending then)."""
    import pendulum

    nxt = day + dt.timedelta(days=1)
    return pendulum.datetime(nxt.year, nxt.month, nxt.day, tz=LA)


@pytest.fixture
def run_dag(dagbag: Any) -> Iterator[Callable[[str, dt.date], Any]]:
    """``run_dag(dag_id, merchant_day)`` → the finished DagRun of ``dag.test()`` for that day."""

    def run(dag_id: str, day: dt.date) -> Any:
        dag = dagbag.get_dag(dag_id)
        assert dag is not None, f"{dag_id} not in the DagBag: {dagbag.import_errors}"
        return dag.test(logical_date=merchant_day_run_date(day))

    yield run


@pytest.fixture
def second_sl_pg_url(replica_templates: ReplicaTemplates) -> Iterator[str]:
    """Another SL replica on PostgreSQL (``sl_pg_url`` gives one per test), same DDL, dropped afterwards."""
    with replica_templates.pg_replica() as url:
        yield url
