"""Stale report marks: which directories are marked, the oldest rewritten first, a failure keeps its mark."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from paytrace_sl.reconcile import report_refresh as rr
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install

pytestmark = pytest.mark.integration


def _report_dir(root: Path, name: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "report.html").write_text("<html></html>", encoding="utf-8")


def test_marks_only_existing_reports_covering_the_days_and_refreshes_oldest_first(
    sl_sqlite_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "reports"
    for name in ("2025-04-01", "2025-04-02", "2025-04-03_2025-04-05", "2025-04-09"):
        _report_dir(root, name)
    (root / "2025-04-06").mkdir()  # no report.html: not a report
    (root / "april").mkdir()  # not a pipeline report name
    assert rr.report_range("2025-04-03_2025-04-05") == (dt.date(2025, 4, 3), dt.date(2025, 4, 5))
    assert rr.report_range("2025-04-05_2025-04-03") is None and rr.report_range("x") is None
    engine = create_sl_engine(sl_sqlite_url)
    try:
        install(engine)
        days = [dt.date(2025, 4, d) for d in (2, 4, 6)]
        assert rr.mark_changed_days(engine, root, days, "run a: 3 posted", "a") == [
            "2025-04-02",
            "2025-04-03_2025-04-05",
        ]
        # a second mark keeps the first one (reason, run)
        assert rr.mark_changed_days(engine, root, [dt.date(2025, 4, 1), dt.date(2025, 4, 2)], "b", "b") == [
            "2025-04-01"
        ]
        stale = {s.name: s for s in rr.stale_reports(engine)}
        assert stale["2025-04-02"].marked_by == "a" and stale["2025-04-01"].reason == "b"

        rebuilt: list[str] = []

        def rebuild(report: rr.StaleReport) -> None:
            if report.name == "2025-04-02":
                raise OSError("disk full")
            rebuilt.append(report.name)

        done = rr.refresh_stale(engine, rebuild, skip=("2025-04-03_2025-04-05",), limit=5)
        assert done == rebuilt == ["2025-04-01"]  # the failing one and the skipped one stay marked
        assert sorted(s.name for s in rr.stale_reports(engine)) == ["2025-04-02", "2025-04-03_2025-04-05"]
        # marked again while being rebuilt: the rebuild may have read too early, the mark stays
        assert not rr.clear(engine, "2025-04-02", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        assert rr.refresh_stale(engine, lambda r: None, limit=1) == ["2025-04-02"]
        assert [s.name for s in rr.stale_reports(engine)] == ["2025-04-03_2025-04-05"]
    finally:
        engine.dispose()
