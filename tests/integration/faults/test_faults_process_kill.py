"""The loading process is SIGKILLed inside a batch transaction: SL keeps whole batches only.

Extract, validate and transform run here; the load step runs in a fresh process (``spawn``) whose writer
kills its own process with SIGKILL at a chosen step inside the second batch's transaction (the first
batch is committed by then). No ``finally``, no rollback call: PostgreSQL alone must discard the open
transaction. The SL database then holds the first batch whole and nothing of the second, the run log
keeps the killed run as ``running`` (extract wrote the row), and a re-run of the window posts every
remaining transaction exactly once.
"""

from __future__ import annotations

import multiprocessing
import signal
from typing import Any

import pytest
import sqlalchemy as sa
from faults_support import (
    DAY,
    FaultWorld,
    assert_sl_whole,
    ledger_transaction_ids,
    load_and_die,
    planned_ids,
)

from paytrace_sl.pipeline import runner
from paytrace_sl.pipeline.landing import Landing

pytestmark = pytest.mark.integration


def run_row(engine: sa.Engine, run_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.text(
                    "SELECT run_id, dag_id, try_number, status, window_start, finished_at FROM xptrun "
                    "WHERE run_id = :r ORDER BY try_number"  # the first attempt
                ),
                {"r": run_id},
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def test_loader_sigkilled_mid_batch_leaves_whole_batches_and_rerun_posts_once(
    fault_world: FaultWorld,
) -> None:
    step = "ledger_inserted"  # every row of the batch written; only the commit missing
    cfg = fault_world.config()
    window = fault_world.window(DAY, days=2)  # two merchant days: at least two SL batches
    for _, prepare in runner.PAYMENT_STEPS[:4]:  # extract, validate, score_fraud, transform
        prepare(cfg, window, "killed")
    plan = Landing(cfg.landing_dir, "killed").read_plan(runner.PLAN_FILE).plan()
    assert len(plan.batches) >= 2, "the window must plan two batches to kill inside the second"

    child = multiprocessing.get_context("spawn").Process(
        target=load_and_die, args=(cfg, window, "killed", step, 2)
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -signal.SIGKILL, f"loader ended with {child.exitcode}, not SIGKILL"

    with fault_world.engine() as engine:
        whole = assert_sl_whole(engine)  # no partial batch, totals right, ledger == SL
        first_batch = ledger_transaction_ids(engine)
        killed_run = run_row(engine, "killed")
    # the run log shows the killed run: written `running` by extract, never finished
    assert killed_run is not None, "the killed run left no xPTRun row"
    assert killed_run["status"] == "running" and killed_run["finished_at"] is None, killed_run
    assert killed_run["dag_id"] == runner.PAYMENTS_DAG_ID and killed_run["window_start"] is not None
    assert whole["batches"] == 1 and first_batch, f"expected only the first batch, found {whole}"
    planned = planned_ids(cfg, "killed")
    assert first_batch < planned

    summary = runner.run_window(cfg, window, "rerun")
    assert summary["already_posted"] == len(first_batch), summary
    assert summary["posted"] == len(planned) - len(first_batch), summary
    with fault_world.engine() as engine:
        after = assert_sl_whole(engine)
        assert ledger_transaction_ids(engine) == planned == planned_ids(cfg, "rerun")
        rerun = run_row(engine, "rerun")
        assert run_row(engine, "killed") == killed_run  # the rerun is its own run; the kill stays on record
    assert (
        rerun is not None and rerun["status"] in ("success", "partial") and rerun["finished_at"] is not None
    )
    assert after["payments"] + after["refunds"] == len(planned), after
