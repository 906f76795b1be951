"""A catch-up plus re-runs through the runner: every attempt stays in the run history, and a day's
auditor report written before its payments were posted is rewritten once a later run posts them.

Real parts: the PayTrace sandbox over HTTP, an SL replica on PostgreSQL seeded like the SL sandbox, the
shipped mapping, the report files on disk.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline import run_history
from paytrace_sl.pipeline.runner import (
    DEFAULT_MAPPING,
    PAYMENTS_DAG_ID,
    SETTLEMENTS_DAG_ID,
    PipelineConfig,
    run_settlements,
    run_window,
)
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.reconcile import report_refresh
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTReportStale
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60)  # paytrace_sandbox's
DAY1, DAY2, DAY3 = dt.date(2025, 4, 2), dt.date(2025, 4, 3), dt.date(2025, 4, 4)


def _report(root: Path, day: dt.date) -> dict[str, object]:
    return dict(json.loads((root / day.isoformat() / "report.json").read_text(encoding="utf-8")))


def _summary(report: dict[str, object]) -> dict[str, object]:
    tables = report["tables"]
    assert isinstance(tables, dict)
    return {str(r["metric"]): r["value"] for r in tables["summary"]}


def test_catch_up_with_reruns_keeps_every_attempt_and_rewrites_stale_reports(
    paytrace_sandbox: SandboxServer, sl_pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_sandbox(sl_pg_url, MERCHANT)
    reports = tmp_path / "reports"
    monkeypatch.setenv("PAYTRACE_SL_REPORTS_DIR", str(reports))
    monkeypatch.delenv("PAYTRACE_SL_MAPPING", raising=False)
    cfg = PipelineConfig(
        sl_url=sl_pg_url,
        paytrace=PayTraceSettings(
            url=paytrace_sandbox.url,
            username="sandbox",
            password="sandbox-password",
            timezone=LA,
            requests_per_second=0,
        ),
        mapping_path=DEFAULT_MAPPING,
        landing_dir=tmp_path / "landing",
        gx_dir=tmp_path / "gx",
        lookback=dt.timedelta(days=1),
    )
    # A catch-up whose first settlement run came before that day's payments were posted: its report
    # shows the day's sales as unexplained differences.
    run_settlements(cfg, day_window(DAY1, LA), f"settle__{DAY1}")
    early = _summary(_report(reports, DAY1))
    assert int(str(early["unexplained"])) > 0, early
    # The next day's payments run: its one-day look-back posts DAY1's transactions → DAY1's report is stale.
    first = run_window(cfg, day_window(DAY2, LA), f"pay__{DAY2}")
    assert first["posted"] > 0
    engine = create_sl_engine(sl_pg_url)
    try:
        stale = report_refresh.stale_reports(engine)
        assert [s.name for s in stale] == [DAY1.isoformat()], stale
        assert stale[0].marked_by == f"pay__{DAY2}" and "posted" in stale[0].reason
        # re-runs of the same window (a cleared run, a backfill with --reprocess-behavior completed)
        again = run_window(cfg, day_window(DAY2, LA), f"pay__{DAY2}")
        assert again["posted"] == 0 and again["already_posted"] == first["posted"] + first["already_posted"]
        run_window(cfg, day_window(DAY3, LA), f"pay__{DAY3}")
        run_window(cfg, day_window(DAY3, LA), f"pay__{DAY3}")
        # DAY2's settlement run writes its own report and brings DAY1's up to date
        settled = run_settlements(cfg, day_window(DAY2, LA), f"settle__{DAY2}")
        assert settled["reports_brought_up_to_date"] == [DAY1.isoformat()]
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(xPTReportStale)).scalar_one() == 0

        # ---- the run history is complete: every attempt, none overwritten
        attempts = run_history.history(engine)
        by_run: dict[tuple[str, str], list[run_history.Attempt]] = {}
        for a in attempts:
            by_run.setdefault((a.dag_id, a.run_id), []).append(a)
        assert {k: sorted(a.try_number for a in v) for k, v in by_run.items()} == {
            (SETTLEMENTS_DAG_ID, f"settle__{DAY1}"): [1],
            (PAYMENTS_DAG_ID, f"pay__{DAY2}"): [1, 2],
            (PAYMENTS_DAG_ID, f"pay__{DAY3}"): [1, 2],
            (SETTLEMENTS_DAG_ID, f"settle__{DAY2}"): [1],
        }
        day2 = {a.try_number: a for a in by_run[(PAYMENTS_DAG_ID, f"pay__{DAY2}")]}
        assert day2[1].counts["posted"] == first["posted"] > 0  # the posting attempt keeps its counts
        assert day2[2].counts["posted"] == 0 and day2[2].counts["already_posted"] == again["already_posted"]
        assert all(a.status in ("success", "partial") and a.finished_at is not None for a in attempts)
        # a settlement run with differences all explained is not "partial"
        for a in by_run[(SETTLEMENTS_DAG_ID, f"settle__{DAY2}")]:
            assert (a.status == "partial") == bool(run_history.attention_text(a.counts)), a
    finally:
        engine.dispose()

    # ---- DAY1's report was rewritten from the posted state and says when and why
    late = _report(reports, DAY1)
    assert int(str(_summary(late)["unexplained"])) < int(str(early["unexplained"])), (early, _summary(late))
    assert late["brought_up_to_date_after"] == stale[0].reason
    html = (reports / DAY1.isoformat() / "report.html").read_text(encoding="utf-8")
    assert "Brought up to date at" in html and f"pay__{DAY2}" in html
    # DAY2's report lists both attempts of DAY2's payments run
    tables = _report(reports, DAY2)["tables"]
    assert isinstance(tables, dict)
    day2_rows = [r for r in tables["runs"] if r["run_id"] == f"pay__{DAY2}"]
    assert sorted((r["try"], r["posted"]) for r in day2_rows) == [(1, first["posted"]), (2, 0)]
