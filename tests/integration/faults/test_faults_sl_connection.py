"""The SL database connection dies in the middle of a batch: all or nothing, and the re-run posts once.

The writer is paused at a chosen step inside its batch transaction (its ``step_hook``); from a separate
admin connection the test terminates the writer's backend with ``pg_terminate_backend``. PostgreSQL rolls
the open transaction back, the writer's next statement fails, the run fails; SL must hold no part of that
batch, and a re-run posts every transaction of the window exactly once.
"""

from __future__ import annotations

import functools

import psycopg
import pytest
import sqlalchemy as sa
from faults_support import (
    AtStep,
    FaultWorld,
    assert_sl_whole,
    ledger_transaction_ids,
    planned_ids,
    run_status,
    writer_step_hook,
)

from paytrace_sl.pipeline.runner import run_window

pytestmark = pytest.mark.integration


def last_ar_batch_number(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT lastbatnbr FROM arsetup")).scalar_one())


def terminate_writer(sl_url: str, killed: list[int]) -> None:
    """From an admin connection: kill the one backend that is inside a transaction on the SL database."""
    dsn = sa.make_url(sl_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        pids = [
            int(pid)
            for (pid,) in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
            )
        ]
        assert len(pids) == 1, f"expected exactly the writer's backend in a transaction, found {pids}"
        (ok,) = admin.execute("SELECT pg_terminate_backend(%s)", (pids[0],)).fetchone() or (False,)
        assert ok, "pg_terminate_backend refused"
        killed.append(pids[0])


KILL_POINTS = (
    ("numbered", 1),  # batch number taken (ARSetup updated), nothing else written yet
    ("ledger_inserted", 1),  # Batch, ARDoc, ARTran and ledger rows written: only the commit missing
)


def test_sl_connection_killed_mid_batch_leaves_nothing_half_written(fault_world: FaultWorld) -> None:
    cfg = fault_world.config()
    window = fault_world.window()
    with fault_world.engine() as engine:
        last_bat_nbr = last_ar_batch_number(engine)
    for step, occurrence in KILL_POINTS:
        killed: list[int] = []
        hook = AtStep(step, occurrence, functools.partial(terminate_writer, fault_world.sl_url, killed))
        run_id = f"killed-at-{step}"
        with writer_step_hook(hook), pytest.raises(sa.exc.OperationalError, match=r"terminat|closed|lost"):
            run_window(cfg, window, run_id)
        assert hook.fired and len(killed) == 1, (step, hook.seen)
        with fault_world.engine() as engine:
            status, error = run_status(engine, run_id)
            assert status == "failed" and "OperationalError" in error, (step, status, error)
            whole = assert_sl_whole(engine)  # no Batch without docs, totals right, ledger == SL
            assert ledger_transaction_ids(engine) == set() and whole["batches"] == 0, (step, whole)
            assert last_ar_batch_number(engine) == last_bat_nbr, f"{step}: the batch number was kept"

    summary = run_window(cfg, window, "rerun")
    planned = planned_ids(cfg, "rerun")
    assert summary["posted"] == len(planned) > 0 and summary["already_posted"] == 0, summary
    with fault_world.engine() as engine:
        after = assert_sl_whole(engine)
        assert ledger_transaction_ids(engine) == planned
        with engine.connect() as conn:
            numbers = {
                int(n)
                for (n,) in conn.execute(
                    sa.text("SELECT batnbr FROM batch WHERE crtd_prog = 'PTSL' AND module = 'AR'")
                )
            }
    assert after["payments"] + after["refunds"] == len(planned), after
    first_new = int(last_bat_nbr) + 1  # numbering continues where it stood: no gap from the kills
    assert numbers == set(range(first_new, first_new + len(numbers))), (last_bat_nbr, numbers)
