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
    """The DAG processor re-parses every file every few seconds, and each task process parses its DAG
    file before it runs: no runner, PayTrace client, pandas — nor requests (the retry rule's dotted
    paths stay unresolved until a task fails) or the UI pages' FastAPI."""
    files = [str(DAGS / f"paytrace_{n}_to_sl.py") for n in ("payments", "settlements", "chargebacks")]
    script = f"""
import json, runpy, sys
for f in {files!r}:
    runpy.run_path(f)
heavy = ("paytrace_sl.pipeline.runner", "paytrace_sl.pipeline.landing", "paytrace_sl.paytrace.client",
         "pandas", "great_expectations", "requests", "fastapi")
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


def test_a_task_process_loads_the_plugin_without_its_pages(tmp_path: Path) -> None:
    """Airflow loads every plugin in each task process (the Task SDK's listener manager, before the
    task runs): ours registers its listener there, but builds no page (FastAPI, our tables) and the
    plugins folder's modules are not executed a second time under top-level names."""
    plugins = DAGS.parent / "plugins"
    script = """
import json, sys
from airflow.sdk.listener import get_listener_manager
from airflow.sdk.plugins_manager import _get_plugins
manager = get_listener_manager()
names = [p.name for p in _get_plugins()[0]]
listeners = [getattr(l, "__name__", "") for l in manager.pm.get_plugins()]
heavy = ("fastapi", "pandas", "paytrace_sl_airflow.ui_plugin", "paytrace_sl.sl.own_tables", "ui_plugin",
         "review_page", "hooks")
print(json.dumps({"plugins": names, "listeners": listeners, "heavy": [m for m in heavy if m in sys.modules]}))
"""
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__PLUGINS_FOLDER=str(plugins))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["plugins"].count("paytrace_sl") == 1
    assert "paytrace_sl_airflow.run_notes" in found["listeners"]
    assert found["heavy"] == []


def test_the_plugin_builds_its_pages_on_first_use() -> None:
    """The API server reads ``fastapi_apps``: the three page apps, built once."""
    from fastapi import FastAPI

    from paytrace_sl_airflow.plugin import PaytraceSlPlugin

    apps = PaytraceSlPlugin.fastapi_apps
    assert [a["url_prefix"] for a in apps] == ["/paytrace-sl", "/paytrace-sl-runs", "/paytrace-sl-review"]
    assert all(isinstance(a["app"], FastAPI) for a in apps)
    assert PaytraceSlPlugin().fastapi_apps is apps


def test_the_retry_rule_names_importable_exceptions() -> None:
    """The rule is not checked at parse (:func:`dag_support.retry_policy`): every path resolves here."""
    from airflow.sdk.module_loading import import_string

    for path in dag_support.TRANSIENT_ERRORS:
        assert issubclass(import_string(path), BaseException), path
    rule = dag_support.retry_policy().rules[0]
    import requests

    assert rule.matches(requests.exceptions.ConnectionError("refused"))
    assert not rule.matches(ValueError("bug"))


def test_every_task_pushes_one_xcom(dagbag: Any) -> None:
    """Our tasks return a dict summary: pushed whole (``return_value``), not also key by key (Airflow
    infers ``multiple_outputs`` from a ``dict`` return annotation: one execution-API call per key)."""
    checked = 0
    for dag_id in dagbag.dag_ids:
        for task in dagbag.get_dag(dag_id).tasks:
            if hasattr(task, "multiple_outputs"):
                assert task.multiple_outputs is False, (dag_id, task.task_id)
                checked += 1
    assert checked >= 7 + 6  # at least the payments and settlements steps
