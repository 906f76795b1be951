"""How often a task asks Airflow for a Variable: once per key and task run (``paytrace_sl_airflow.hooks``).

Every ``Variable.get`` in a task is an execution-API call (two for a setting that is not set: the key,
then its upper-case spelling). These tests count the calls with a fake ``Variable.get`` and a clock that
jumps, and pin the scope: a new task run, a new try or a forked process reads again; outside a task a
value is kept 5 s, as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import structlog.contextvars

from paytrace_sl_airflow import hooks


class FakeAirflow:
    """Variables in a dict; every ``get`` counted; a monotonic clock the test moves; the task run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.values: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.now = 1000.0
        self.scope: str | None = None
        self.pid = 4242

        def get(key: str, default: Any = None, deserialize_json: bool = False) -> Any:
            self.calls[key] += 1
            return self.values.get(key, default)

        from airflow.sdk import Variable

        monkeypatch.setattr(Variable, "get", staticmethod(get))
        monkeypatch.setattr(hooks.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(hooks.os, "getpid", lambda: self.pid)
        monkeypatch.setattr(hooks, "_task_run_scope", lambda: self.scope)

    def total(self) -> int:
        return sum(self.calls.values())


@pytest.fixture
def airflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAirflow]:
    monkeypatch.setattr(hooks, "_variable_memo", hooks._VariableMemo())
    yield FakeAirflow(monkeypatch)


def test_a_task_reads_each_key_once_however_long_it_runs(airflow: FakeAirflow) -> None:
    airflow.scope = "ti-1"
    airflow.values["paytrace_sl_lookback_hours"] = "24"
    for _ in range(3):  # every SL engine and config of the task reads its settings again
        assert hooks.airflow_variable("paytrace_sl_lookback_hours") == "24"
        assert hooks.airflow_variable("paytrace_sl_sl_lock_timeout_s") is None  # unset: key + KEY
        airflow.now += 60.0  # a long step: the 5 s memo had read both again every time
    lock = "paytrace_sl_sl_lock_timeout_s"
    assert airflow.calls == Counter({"paytrace_sl_lookback_hours": 1, lock: 1, lock.upper(): 1})


def test_the_next_task_run_or_try_reads_an_edited_variable(airflow: FakeAirflow) -> None:
    airflow.scope = "ti-1"
    airflow.values["paytrace_sl_lookback_hours"] = "24"
    assert hooks.airflow_variable("paytrace_sl_lookback_hours") == "24"
    airflow.values["paytrace_sl_lookback_hours"] = "48"  # edited in the UI while ti-1 runs
    assert hooks.airflow_variable("paytrace_sl_lookback_hours") == "24"  # one value for the whole task
    airflow.scope = "ti-2"  # the next task (or the next try: a new ti id), at once, same process
    assert hooks.airflow_variable("paytrace_sl_lookback_hours") == "48"
    assert airflow.total() == 2


def test_a_forked_process_does_not_trust_its_parents_values(airflow: FakeAirflow) -> None:
    airflow.scope = "ti-1"
    airflow.values["paytrace_sl_interval"] = "daily"
    assert hooks.airflow_variable("paytrace_sl_interval") == "daily"
    airflow.values["paytrace_sl_interval"] = "hourly"
    airflow.pid += 1  # a child forked from this process (LocalExecutor worker → task)
    assert hooks.airflow_variable("paytrace_sl_interval") == "hourly"


def test_outside_a_task_a_value_is_kept_five_seconds(airflow: FakeAirflow) -> None:
    airflow.values["paytrace_sl_interval"] = "daily"
    assert hooks.airflow_variable("paytrace_sl_interval") == "daily"
    airflow.values["paytrace_sl_interval"] = "hourly"
    airflow.now += hooks.VARIABLE_MEMO_SECONDS - 1
    assert hooks.airflow_variable("paytrace_sl_interval") == "daily"
    airflow.now += 2
    assert hooks.airflow_variable("paytrace_sl_interval") == "hourly"
    assert airflow.total() == 2


def test_the_upper_case_name_is_still_found(airflow: FakeAirflow) -> None:
    airflow.scope = "ti-1"
    airflow.values["PAYTRACE_TIMEZONE"] = "America/Chicago"
    assert hooks.airflow_variable("paytrace_timezone") == "America/Chicago"
    assert hooks.airflow_variable("paytrace_timezone") == "America/Chicago"
    assert airflow.calls == Counter({"paytrace_timezone": 1, "PAYTRACE_TIMEZONE": 1})


def test_task_run_scope_is_the_task_runners_ti_id_not_an_api_request_log_id() -> None:
    """Outside a task's context: the ti id the Task SDK's runner binds (with the try number) while the task
    process parses its DAG file; the API server binds a ti id alone to its request logs."""
    assert hooks._task_run_scope() is None
    with structlog.contextvars.bound_contextvars(ti_id="0197-api-request"):
        assert hooks._task_run_scope() is None
    with structlog.contextvars.bound_contextvars(ti_id="0197-task", try_number=1, task_id="extract"):
        assert hooks._task_run_scope() == "0197-task"
    assert hooks._task_run_scope() is None


def test_task_run_scope_inside_a_task_is_its_ti_id(monkeypatch: pytest.MonkeyPatch) -> None:
    class Ti:
        id = "0197-ti"

    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: {"ti": Ti()})
    assert hooks._task_run_scope() == "0197-ti"
