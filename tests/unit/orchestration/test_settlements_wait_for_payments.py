"""Which payments runs the settlement run of a merchant day waits for (``dag_support.payments_run_dates``)."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from paytrace_sl_airflow.dag_support import payments_run_dates

LA = ZoneInfo("America/Los_Angeles")


def _day(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), LA)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), LA)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(dt.date(2025, 4, 3), 24), (dt.date(2025, 3, 9), 23), (dt.date(2025, 11, 2), 25)],
)
def test_hourly_payments_every_hour_of_the_merchant_day(
    monkeypatch: pytest.MonkeyPatch, day: dt.date, hours: int
) -> None:
    monkeypatch.setenv("PAYTRACE_SL_INTERVAL", "hourly")
    start, end = _day(day)
    dates = payments_run_dates(start, data_interval_start=start, data_interval_end=end)
    assert len(dates) == hours
    assert dates[0] == start and dates[-1] == end - dt.timedelta(hours=1)
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(dates))
    # every date is a local hour boundary: what the payments DAG's hourly cron in LA produces
    assert all(d.astimezone(LA).minute == 0 for d in dates)


def test_daily_payments_the_day_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYTRACE_SL_INTERVAL", "daily")
    start, end = _day(dt.date(2025, 11, 2))  # 25 hours
    assert payments_run_dates(start, data_interval_start=start, data_interval_end=end) == [start]


def test_manual_runs_wait_for_manual_payments_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A triggered run's logical date is its window's end: the payments runs it waits for are, too."""
    monkeypatch.setenv("PAYTRACE_SL_INTERVAL", "daily")
    start, end = _day(dt.date(2025, 4, 3))
    assert payments_run_dates(end, data_interval_start=start, data_interval_end=end) == [end]
    monkeypatch.setenv("PAYTRACE_SL_INTERVAL", "hourly")
    dates = payments_run_dates(end, data_interval_start=start, data_interval_end=end)
    assert dates[0] == start + dt.timedelta(hours=1) and dates[-1] == end


def test_naive_utc_values_are_read_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYTRACE_SL_INTERVAL", "daily")
    start, end = _day(dt.date(2025, 4, 3))
    naive = [v.astimezone(dt.UTC).replace(tzinfo=None) for v in (start, end)]
    assert payments_run_dates(naive[0], data_interval_start=naive[0], data_interval_end=naive[1]) == [start]


def test_no_data_interval_is_refused() -> None:
    start, _ = _day(dt.date(2025, 4, 3))
    with pytest.raises(ValueError, match="no data interval"):
        payments_run_dates(start, data_interval_start=start, data_interval_end=start)


def test_max_active_runs_defaults_to_one_and_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    from paytrace_sl_airflow.dag_support import max_active_runs

    monkeypatch.delenv("PAYTRACE_SL_MAX_ACTIVE_RUNS", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_PAYTRACE_SL_MAX_ACTIVE_RUNS", raising=False)
    assert max_active_runs() == 1
    monkeypatch.setenv("PAYTRACE_SL_MAX_ACTIVE_RUNS", "3")
    assert max_active_runs() == 3
    monkeypatch.setenv("PAYTRACE_SL_MAX_ACTIVE_RUNS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        max_active_runs()


def test_each_dag_records_its_runs_under_its_own_id() -> None:
    """Airflow gives both DAGs' runs of a day the same run id; the library's must differ."""
    from paytrace_sl_airflow.dag_support import pipeline_run_id

    airflow_id = "scheduled__2025-04-03T07:00:00+00:00"
    payments = pipeline_run_id("paytrace_payments_to_sl", airflow_id)
    settlements = pipeline_run_id("paytrace_settlements_to_sl", airflow_id)
    assert payments == airflow_id  # unchanged: existing ledger rows and landing dirs keep their ids
    assert settlements != payments and airflow_id in settlements and len(settlements) <= 250
