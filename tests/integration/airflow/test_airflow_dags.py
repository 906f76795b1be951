"""DAG integrity: the DAGs import cleanly, are wired as documented, and their windows are right (DST too)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pendulum
import pytest

from paytrace_sl.pipeline.windows import Window, day_window, hour_windows

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
DAGS = Path(__file__).resolve().parents[3] / "dags"


def _windows(dag: Any, first: dt.datetime, count: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """The data intervals the scheduler would create, from the serialized (scheduler-side) timetable."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=first, latest=None, catchup=True)
    last = None
    out = []
    for _ in range(count):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        assert info is not None
        # UTC: interzone comparison of a time in the repeated fall-back hour is always unequal in Python
        out.append((info.data_interval.start.astimezone(dt.UTC), info.data_interval.end.astimezone(dt.UTC)))
        last = info.data_interval
    return out


def _utc(w: Window) -> tuple[dt.datetime, dt.datetime]:
    return w.start.astimezone(dt.UTC), w.end.astimezone(dt.UTC)


def test_dagbag_imports_cleanly_and_wires_the_steps(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= {
        "paytrace_payments_to_sl",
        "paytrace_settlements_to_sl",
        "paytrace_sl_replay",
    }
    payments = dagbag.get_dag("paytrace_payments_to_sl")
    order = ["extract", "validate", "score_fraud", "transform", "load", "preflight", "summarize"]
    assert sorted(payments.task_ids) == sorted(order)
    for upstream, downstream in itertools.pairwise(order):
        assert payments.get_task(downstream).upstream_task_ids == {upstream}
    assert payments.catchup is True
    task = payments.get_task("load")
    assert task.retry_exponential_backoff and task.retries == 0  # tests set PAYTRACE_SL_RETRIES=0
    assert task.retry_policy is not None and task.on_failure_callback
    replay = dagbag.get_dag("paytrace_sl_replay")
    assert type(replay.timetable).__name__ == "NullTimetable"  # manual only
    assert set(replay.params.keys()) == {"dead_letter_ids", "start_date", "end_date"}


def test_retry_policy_retries_transient_errors_only(dagbag: Any) -> None:
    from airflow.sdk import RetryAction

    from paytrace_sl.paytrace.errors import PayTraceRateLimitedError, PayTraceValidationError
    from paytrace_sl.pipeline.runner import PipelineError

    policy = dagbag.get_dag("paytrace_payments_to_sl").get_task("extract").retry_policy
    assert policy.evaluate(PayTraceRateLimitedError("429", attempts=5), 1, 5).action is RetryAction.RETRY
    assert policy.evaluate(PayTraceValidationError("x", {"1": ["bad"]}), 1, 5).action is RetryAction.FAIL
    assert policy.evaluate(PipelineError("accounting"), 1, 5).action is RetryAction.FAIL


def test_retry_policy_retries_on_the_transient_marker_not_a_class_list(dagbag: Any) -> None:
    """A library error retries because it carries ``Transient``, not because its name is listed."""
    from airflow.sdk import RetryAction

    from paytrace_sl.errors import PaytraceSlError, Transient

    class LockTimeout(Transient, RuntimeError):
        """A class no list knows about."""

    class Refused(PaytraceSlError):
        """Deliberate and permanent."""

    policy = dagbag.get_dag("paytrace_settlements_to_sl").get_task("reconcile").retry_policy
    assert policy.evaluate(LockTimeout("lock"), 1, 5).action is RetryAction.RETRY
    assert policy.evaluate(Refused("no"), 1, 5).action is RetryAction.FAIL
    assert policy.evaluate(ValueError("bug"), 1, 5).action is RetryAction.FAIL


def test_daily_windows_are_merchant_days_across_dst(dagbag: Any) -> None:
    dag = dagbag.get_dag("paytrace_payments_to_sl")
    got = _windows(dag, pendulum.datetime(2025, 3, 8, tz=LA), 3)
    expected = [day_window(dt.date(2025, 3, d), LA) for d in (8, 9, 10)]
    assert got == [_utc(w) for w in expected]
    assert [(e - s).total_seconds() / 3600 for s, e in got] == [24, 23, 24]
    fall = _windows(dagbag.get_dag("paytrace_settlements_to_sl"), pendulum.datetime(2025, 11, 2, tz=LA), 1)
    assert (fall[0][1] - fall[0][0]) == dt.timedelta(hours=25)


def test_hourly_windows_are_real_hours_on_fall_back_day(
    monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("PAYTRACE_SL_INTERVAL", "hourly")
    bag = DagBag(dag_folder=str(DAGS / "paytrace_payments_to_sl.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("paytrace_payments_to_sl")
    got = _windows(dag, pendulum.datetime(2025, 11, 2, tz=LA), 25)
    day = day_window(dt.date(2025, 11, 2), LA)
    assert got == [_utc(h) for h in hour_windows(day)]
    assert all(e - s == dt.timedelta(hours=1) for s, e in got)
    spring = _windows(dag, pendulum.datetime(2025, 3, 9, tz=LA), 23)
    assert spring[-1][1] == _utc(day_window(dt.date(2025, 3, 9), LA))[1]


def test_failure_callback_builds_a_safe_notification() -> None:
    from paytrace_sl_airflow.callbacks import failure_notification

    class TI:
        dag_id, task_id, try_number = "paytrace_payments_to_sl", "load", 3

    start = pendulum.datetime(2025, 4, 1, tz=LA)
    note = failure_notification(
        {
            "ti": TI(),
            "run_id": "scheduled__x",
            "exception": RuntimeError("card 4111111111111111 password=hunter2"),
            "data_interval_start": start,
            "data_interval_end": start.add(days=1),
        }
    )
    assert note.title == "paytrace_payments_to_sl.load failed"
    assert "4111111111111111" not in note.text() and "hunter2" not in note.text()
