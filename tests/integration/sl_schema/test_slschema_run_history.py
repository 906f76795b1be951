"""Schema v4: xPTRun keyed by (DAG, run id, try), every attempt kept; old rows survive the re-key."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from paytrace_sl.pipeline import run_history
from paytrace_sl.pipeline.runner import record_run
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl import own_tables
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install, xPTRun

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
PAY = "paytrace_payments_to_sl"
SET = "paytrace_settlements_to_sl"


def _rows(engine: sa.Engine) -> list[tuple[str, str, int, str, dict[str, object]]]:
    with engine.connect() as conn:
        return [
            (str(r.dag_id), str(r.run_id), int(r.try_number), str(r.status), json.loads(r.counts or "{}"))
            for r in conn.execute(
                sa.select(xPTRun).order_by(xPTRun.c.dag_id, xPTRun.c.run_id, xPTRun.c.try_number)
            )
        ]


def test_v4_rekeys_xptrun_keeping_every_v3_row_as_try_1(replica_url: str) -> None:
    engine = create_sl_engine(replica_url)
    try:
        assert install(engine, target_version=3).to_version == 3
        now = dt.datetime(2025, 4, 2, 8, tzinfo=dt.UTC)
        v3 = own_tables._table_as_of(xPTRun, 3)
        with engine.begin() as conn:
            conn.execute(
                sa.insert(v3),
                [
                    {
                        "run_id": "scheduled__2025-04-01",
                        "dag_id": PAY,
                        "status": "success",
                        "counts": json.dumps({"posted": 166}),
                        "started_at": now,
                        "finished_at": now,
                    },
                    {
                        "run_id": f"{SET}__scheduled__2025-04-01",
                        "dag_id": SET,
                        "status": "partial",
                        "counts": "{}",
                        "started_at": now,
                        "finished_at": None,
                    },
                ],
            )
        result = install(engine)
        assert result.from_version == 3 and result.to_version == own_tables.SCHEMA_VERSION
        assert "xPTReportStale" in result.created_tables
        assert _rows(engine) == [
            (PAY, "scheduled__2025-04-01", 1, "success", {"posted": 166}),
            (SET, f"{SET}__scheduled__2025-04-01", 1, "partial", {}),
        ]
        with engine.connect() as conn:
            live = own_tables.live_table_names(conn)
        assert "xptrunv3" not in live  # the renamed v3 table is gone
        # the same run id under another DAG, and a second try of a run, are rows of their own
        window = day_window(dt.date(2025, 4, 1), LA)
        record_run(engine, "scheduled__2025-04-01", SET, window, "running", {}, try_number=1)
        record_run(engine, "scheduled__2025-04-01", PAY, window, "running", {}, try_number=2)
        record_run(
            engine, "scheduled__2025-04-01", PAY, window, "success", {"posted": 0, "already_posted": 341}
        )
        assert [r[:4] for r in _rows(engine)] == [
            (PAY, "scheduled__2025-04-01", 1, "success"),
            (PAY, "scheduled__2025-04-01", 2, "success"),
            (SET, f"{SET}__scheduled__2025-04-01", 1, "partial"),
            (SET, "scheduled__2025-04-01", 1, "running"),
        ]
        assert _rows(engine)[0][4] == {"posted": 166}  # the first attempt's counts stay
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # the key holds
            conn.execute(
                sa.insert(xPTRun).values(
                    run_id="scheduled__2025-04-01", dag_id=PAY, try_number=2, status="x", started_at=now
                )
            )
    finally:
        engine.dispose()


def test_attempts_are_kept_through_retries_clears_and_kills(sl_sqlite_url: str) -> None:
    engine = create_sl_engine(sl_sqlite_url)
    try:
        install(engine)
        window = day_window(dt.date(2025, 4, 3), LA)
        rec = run_history.record
        # try 1 starts (extract) and a later step of the same try joins it; summarize finishes it
        assert rec(engine, "r", PAY, window, "running", {}, try_number=1) == 1
        assert rec(engine, "r", PAY, window, "running", {}, try_number=1) == 1
        assert rec(engine, "r", PAY, window, "partial", {"posted": 166, "review": 2, "review_new": 2}) == 1
        # only the summarize task is cleared: its outcome is a new attempt, the first one stays
        assert (
            rec(engine, "r", PAY, window, "success", {"posted": 0, "already_posted": 166}, try_number=2) == 2
        )
        # the whole run is cleared: extract try 3 starts attempt 3, which then fails
        assert rec(engine, "r", PAY, window, "running", {}, try_number=3) == 3
        assert rec(engine, "r", PAY, None, "failed", {}, error="boom") == 3
        # the CLI (no try number) after a killed attempt: the killed one is closed as interrupted
        assert rec(engine, "r", PAY, window, "running", {}) == 4
        assert rec(engine, "r", PAY, window, "running", {}) == 5
        attempts = {a.try_number: a for a in run_history.history(engine, dag_id=PAY, run_id="r")}
        assert {n: a.status for n, a in attempts.items()} == {
            1: "partial",
            2: "success",
            3: "failed",
            4: "interrupted",
            5: "running",
        }
        assert attempts[1].counts["posted"] == 166 and attempts[2].counts["already_posted"] == 166
        assert attempts[1].attention == "2 review items (2 new)" and attempts[2].attention is None
        assert attempts[3].error == "boom" and attempts[3].window_start == window.start  # kept on failure
        assert "attempt 5 started" in str(attempts[4].error)
        assert [a.try_number for a in run_history.latest_per_run(run_history.history(engine))] == [5]
    finally:
        engine.dispose()


def test_attention_says_only_what_is_unexplained_or_new() -> None:
    assert run_history.attention_text({"difference": 3, "unexplained": 0, "review": 0}) == ""
    assert not run_history.has_news({"difference": 3, "unexplained": 0})
    text = run_history.attention_text({"unexplained": 1, "review": 4, "review_new": 1, "dead_letter": 2})
    assert text == "1 settlement batch with an unexplained difference; 4 review items (1 new); 2 dead letters"
    assert not run_history.has_news({"review": 4, "review_new": 0, "dead_letter": 1, "dead_letter_new": 0})
    assert run_history.has_news({"review": 4, "review_new": 1})
    records = [
        {"status": "difference", "explained": True},
        {"status": "difference", "explained": False},
        {"status": "matched", "explained": True},
    ]
    assert run_history.unexplained_batches(records) == 1
