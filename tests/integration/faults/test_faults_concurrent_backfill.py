"""Two backfills over overlapping days, in two processes at the same time, against one SL database.

Both processes run the whole pipeline (``run_window``); they meet at a barrier inside their first batch
transaction — after the writer's cheap ledger filter, before SL's setup-row lock — so both loads are in
flight together and both planned the shared day. The setup-row lock and the ledger's unique key must
make the second writer find the shared day's transactions already posted: no duplicate, unique batch
numbers, and ledger and SL agree in both directions.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from faults_support import (
    DAY,
    FaultWorld,
    assert_sl_whole,
    ledger_transaction_ids,
    planned_ids,
    run_status,
    run_window_in_child,
)

pytestmark = pytest.mark.integration


def test_two_overlapping_backfills_at_once_post_each_transaction_once(
    fault_world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")  # as the pipeline sets it before importing GX
    ctx = multiprocessing.get_context("forkserver")
    # the fork server imports the heavy pipeline modules once; both children fork from it (fresh
    # processes, no state shared with pytest) instead of each importing GX again
    ctx.set_forkserver_preload(["faults_support", "great_expectations", "paytrace_sl.pipeline.checks"])
    barrier = ctx.Barrier(2, timeout=120)
    results: Any = ctx.Queue()
    runs = {
        # days 2-3 and days 3-4: day 3 is in both
        "backfill-a": fault_world.window(DAY, days=2),
        "backfill-b": fault_world.window(DAY + dt.timedelta(days=1), days=2),
    }
    children = []
    for run_id, window in runs.items():
        cfg = replace(fault_world.config(), gx_dir=fault_world.root / f"gx-{run_id}")
        child = ctx.Process(target=run_window_in_child, args=(cfg, window, run_id, barrier, results))
        child.start()
        children.append(child)
    outcomes = {}
    for _ in children:
        run_id, status, detail = results.get(timeout=180)
        outcomes[run_id] = (status, detail)
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0, outcomes
    assert {k: v[0] for k, v in outcomes.items()} == {"backfill-a": "ok", "backfill-b": "ok"}, outcomes

    cfg = fault_world.config()
    planned = {run_id: planned_ids(cfg, run_id) for run_id in runs}
    shared = planned["backfill-a"] & planned["backfill-b"]
    assert shared, "the two windows must overlap in transactions that both planned to post"
    written = {run_id: int(outcomes[run_id][1]["sl_documents_new"]) for run_id in runs}
    with fault_world.engine() as engine:
        counts = assert_sl_whole(engine)  # unique batch numbers and RefNbrs, ledger <-> SL both ways
        assert ledger_transaction_ids(engine) == planned["backfill-a"] | planned["backfill-b"]
        with engine.connect() as conn:
            by_run: dict[str, int] = dict(
                conn.execute(
                    sa.text(
                        "SELECT run_id, count(*) FROM xptledger WHERE kind IN ('payment', 'refund')"
                        " GROUP BY run_id"
                    )
                ).all()
            )
        for run_id in runs:
            assert run_status(engine, run_id)[0] in ("success", "partial")
    total = counts["payments"] + counts["refunds"]
    assert total == len(planned["backfill-a"] | planned["backfill-b"]), counts
    # each shared transaction was written by exactly one of the two processes
    assert by_run == {k: v for k, v in written.items() if v}, (by_run, written)
    assert sum(written.values()) == total, (written, total)
    # both transforms planned the shared day before either load committed (the barrier): so the writer
    # of whichever process came second found each shared transaction already posted, under the lock
    assert sum(len(p) for p in planned.values()) - sum(written.values()) == len(shared), (planned, written)
