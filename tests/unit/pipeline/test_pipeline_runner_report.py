"""The settlements DAG's report directory: one merchant day → ``<reports dir>/<day>/``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pendulum
import pytest

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline import runner
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl_airflow.dag_support import window_from_context

LA = "America/Los_Angeles"


def _airflow_window(day: dt.date) -> Any:
    """The window of a daily run the way Airflow hands it over: pendulum instants in UTC."""
    local = day_window(day, LA)
    start = pendulum.instance(local.start).in_timezone("UTC")
    end = pendulum.instance(local.end).in_timezone("UTC")
    return window_from_context({"data_interval_start": start, "data_interval_end": end}, LA)


@pytest.mark.parametrize("day", [dt.date(2025, 4, 1), dt.date(2025, 3, 9), dt.date(2025, 11, 2)])
def test_one_merchant_day_from_airflow_is_one_report_day(
    day: dt.date, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = _airflow_window(day)
    assert runner.report_dir_name(window) == day.isoformat()

    calls: list[tuple[Any, ...]] = []

    class _Data:
        tables: dict[str, Any] = {}

    def fake_build_report(engine: Any, first: Any, last: Any, out_dir: Path, **_: Any) -> Any:
        calls.append((first, last, out_dir))
        return _Data()

    monkeypatch.setattr("paytrace_sl.reconcile.report.build_report", fake_build_report)
    monkeypatch.setenv("PAYTRACE_SL_REPORTS_DIR", str(tmp_path / "reports"))
    cfg = runner.PipelineConfig(
        sl_url="sqlite://",
        paytrace=PayTraceSettings(username="u", password="p"),
        landing_dir=tmp_path / "landing",
        gx_dir=tmp_path / "gx",
    )
    summary = runner.report_step(cfg, window, "run-1")
    assert calls == [(day, day, tmp_path / "reports" / day.isoformat())]
    assert type(calls[0][0]) is dt.date
    assert summary["report"] == str(tmp_path / "reports" / day.isoformat() / "report.html")


def test_multi_day_window_names_first_and_last_day() -> None:
    start = day_window(dt.date(2025, 3, 8), LA).start
    end = day_window(dt.date(2025, 3, 10), LA).end
    window = window_from_context(
        {
            "data_interval_start": pendulum.instance(start).in_timezone("UTC"),
            "data_interval_end": pendulum.instance(end).in_timezone("UTC"),
        },
        LA,
    )
    assert runner.report_dir_name(window) == "2025-03-08_2025-03-10"
