"""Every task has an ``execution_timeout`` (``PAYTRACE_SL_TASK_TIMEOUT_MINUTES``), and Airflow enforces it.

The proof runs the payments DAG with ``dag.test()`` against a PayTrace that drips one byte at a time,
with the client's own per-request deadline raised out of the way: only the task timeout ends the try.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest
from drip_server import DripServer

pytestmark = pytest.mark.integration

DAGS = Path(__file__).resolve().parents[3] / "dags"
DRIP = 60.0  # seconds the slow PayTrace keeps a connection busy (without the timeout, the run's length)


def test_every_task_has_the_default_execution_timeout(dagbag: Any) -> None:
    for dag_id in ("paytrace_payments_to_sl", "paytrace_settlements_to_sl", "paytrace_sl_replay"):
        dag = dagbag.get_dag(dag_id)
        for task in dag.tasks:
            assert task.execution_timeout == dt.timedelta(minutes=120), (dag_id, task.task_id)


def test_slow_paytrace_is_cut_off_by_the_task_timeout(
    monkeypatch: pytest.MonkeyPatch,
    airflow_db: Path,
    airflow_connections: Callable[[str, str], None],
    pipeline_dirs: Path,
    sl_pg_url: str,
) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import TaskInstanceState

    monkeypatch.setenv("PAYTRACE_SL_TASK_TIMEOUT_MINUTES", "0.05")  # 3 s
    bag = DagBag(dag_folder=str(DAGS / "paytrace_payments_to_sl.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("paytrace_payments_to_sl")
    assert {t.execution_timeout for t in dag.tasks} == {dt.timedelta(seconds=3)}

    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    with DripServer(b"X-Slow: " + b"z" * 500, head=head, gap=0.2, seconds=DRIP) as server:
        airflow_connections(server.url, sl_pg_url)
        conn = json.loads(os.environ["AIRFLOW_CONN_PAYTRACE_DEFAULT"])
        # the client's own deadline out of the way: only the task timeout may end this try
        conn["extra"] |= {"request_deadline": 3600, "read_timeout": 60, "max_retry_seconds": 3600}
        monkeypatch.setenv("AIRFLOW_CONN_PAYTRACE_DEFAULT", json.dumps(conn))
        started = time.monotonic()
        run = dag.test(logical_date=pendulum.datetime(2025, 4, 2, tz="America/Los_Angeles"))  # day 4/1
        elapsed = time.monotonic() - started
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["extract"] == TaskInstanceState.FAILED
    assert states["load"] != TaskInstanceState.SUCCESS
    assert server.connections >= 1
    assert elapsed < DRIP / 2, f"the run took {elapsed:.0f}s: the 3 s task timeout did not cut the drip"
