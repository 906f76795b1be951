"""The two pipeline DAGs are built from the runner's step lists, and parsing them stays cheap."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paytrace_sl.pipeline import runner
from paytrace_sl_airflow import dag_support

DAGS = Path(__file__).resolve().parents[3] / "dags"


@pytest.mark.parametrize(
    ("dag_id", "steps", "tasks"),
    [
        ("paytrace_payments_to_sl", runner.PAYMENT_STEPS, dag_support.PAYMENT_TASKS),
        ("paytrace_settlements_to_sl", runner.SETTLEMENT_STEPS, dag_support.SETTLEMENT_TASKS),
    ],
)
def test_task_chain_is_the_runner_step_order(
    dagbag: Any, dag_id: str, steps: Any, tasks: dict[str, tuple[str, str]]
) -> None:
    dag = dagbag.get_dag(dag_id)
    assert set(tasks) == {name for name, _ in steps}
    chain = [tasks[name][0] for name, _ in steps]
    # besides the chain: the settlement report waits for the day's payments runs (a sensor)
    waits = {"report": "wait_for_payments"} if dag_id == "paytrace_settlements_to_sl" else {}
    assert sorted(dag.task_ids) == sorted([*chain, *waits.values()])
    assert dag.get_task(chain[0]).upstream_task_ids == set()
    for upstream, downstream in itertools.pairwise(chain):
        expected = {upstream, waits[downstream]} if downstream in waits else {upstream}
        assert dag.get_task(downstream).upstream_task_ids == expected
    for downstream, sensor in waits.items():
        assert dag.get_task(sensor).upstream_task_ids == dag.get_task(downstream).upstream_task_ids - {sensor}
    for name, _ in steps:
        task_id, doc = tasks[name]
        assert dag.get_task(task_id).doc_md == doc


def test_parsing_the_dag_files_imports_no_pipeline_code(tmp_path: Path) -> None:
    """The DAG processor re-parses every file every few seconds: no runner, PayTrace client or pandas."""
    files = [str(DAGS / f"paytrace_{n}_to_sl.py") for n in ("payments", "settlements", "chargebacks")]
    script = f"""
import json, runpy, sys
for f in {files!r}:
    runpy.run_path(f)
heavy = ("paytrace_sl.pipeline.runner", "paytrace_sl.pipeline.landing", "paytrace_sl.paytrace.client",
         "pandas", "great_expectations")
print(json.dumps([m for m in heavy if m in sys.modules]))
"""
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path), PAYTRACE_SL_INTERVAL="daily")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("value", ["", "April 1st"])
def test_dag_files_refuse_to_load_without_a_start_date(tmp_path: Path, value: str) -> None:
    """No default start day in the past: the first unpause must not schedule years of catch-up runs."""
    script = f"""
import runpy
runpy.run_path({str(DAGS / "paytrace_payments_to_sl.py")!r})
"""
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path), PAYTRACE_SL_INTERVAL="daily")
    env["PAYTRACE_SL_START_DATE"] = value
    env.pop("AIRFLOW_VAR_PAYTRACE_SL_START_DATE", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "PAYTRACE_SL_START_DATE" in done.stderr and "YYYY-MM-DD" in done.stderr


def test_end_date_is_exclusive(tmp_path: Path) -> None:
    """PAYTRACE_SL_END_DATE=2025-04-08: the last daily window is 2025-04-07, no run for 2025-04-08."""
    script = f"""
import json, runpy
import pendulum
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import DataInterval, TimeRestriction
defined = runpy.run_path({str(DAGS / "paytrace_settlements_to_sl.py")!r})["paytrace_settlements_to_sl"]()
dag = DagSerialization.from_dict(DagSerialization.to_dict(defined))  # what the scheduler schedules from
tz = "America/Los_Angeles"
def after(day):
    start = pendulum.datetime(2025, 4, day, tz=tz)
    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(start, start.add(days=1)),
        restriction=TimeRestriction(earliest=dag.start_date, latest=dag.end_date, catchup=True),
    )
    return None if info is None else info.data_interval.start.in_timezone(tz).date().isoformat()
print(json.dumps([after(6), after(7)]))
"""
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path), PAYTRACE_SL_INTERVAL="daily")
    env.update(PAYTRACE_SL_START_DATE="2025-04-01", PAYTRACE_SL_END_DATE="2025-04-08")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["2025-04-07", None]
