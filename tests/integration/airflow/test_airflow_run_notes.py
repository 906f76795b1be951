"""A run that leaves work for a person is marked in the Airflow UI (the DAG run note), without failing.

Real Airflow (``dag.test()`` with the plugin's listener loaded from its entry point), the real PayTrace
sandbox with deliberately malformed records (→ dead letters), an SL replica on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.pipeline.run_history import ATTENTION_PREFIX, history
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

DAY = dt.date(2025, 4, 2)
PAY = "paytrace_payments_to_sl"


def _note(dag_id: str, run_id: str) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.scalar(sa.select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        assert run is not None
        return run.note


def test_partial_run_is_noted_in_the_ui_and_a_rerun_says_nothing_is_new(
    dagbag: Any,
    run_dag: Callable[[str, dt.date], Any],
    airflow_connections: Callable[[str, str], None],
    make_sandbox: Callable[[SandboxConfig], SandboxServer],
    sl_pg_url: str,
    pipeline_dirs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.listeners.listener import get_listener_manager

    from paytrace_sl_airflow import run_notes

    merchant = MerchantConfig(seed=11, start=dt.date(2025, 4, 1), days=3, tx_per_day=40, bad_records=True)
    server = make_sandbox(SandboxConfig(merchant, bad_records=True))
    init_sandbox(sl_pg_url, merchant)
    airflow_connections(server.url, sl_pg_url)
    monkeypatch.delenv("PAYTRACE_SL_MAPPING", raising=False)
    monkeypatch.setenv("PAYTRACE_SL_REPORTS_DIR", str(pipeline_dirs / "reports"))
    # the plugin's listener is what Airflow loaded from the entry point, not one registered by the test
    assert get_listener_manager().pm.is_registered(run_notes)

    dr = run_dag(PAY, DAY)
    assert str(dr.state) == "success", {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    note = _note(PAY, dr.run_id)
    assert note is not None and note.startswith(ATTENTION_PREFIX), note
    assert "dead letter" in note and "new)" in note, note

    engine = create_sl_engine(sl_pg_url)
    try:
        (first,) = history(engine, dag_id=PAY)
        assert first.status == "partial" and first.attention and first.attention in note
        assert first.counts["dead_letter_new"] > 0

        assert first.try_number == 1  # Airflow's try, passed to the library by dag_support
        # the same window again (a new manual run): nothing new, but the dead letters still wait
        dr2 = run_dag(PAY, DAY)
        assert str(dr2.state) == "success"
        attempts = {(a.run_id, a.try_number): a for a in history(engine, dag_id=PAY)}
    finally:
        engine.dispose()
    assert len(attempts) == 2, sorted(attempts)
    assert first.counts == attempts[(first.run_id, first.try_number)].counts  # not overwritten
    second = next(a for k, a in attempts.items() if k != (first.run_id, first.try_number))
    assert second.counts["dead_letter_new"] == 0 and second.status == "partial"
    note2 = _note(PAY, dr2.run_id)
    assert note2 is not None and note2.startswith(ATTENTION_PREFIX) and "(0 new)" in note2, note2


def test_note_keeps_what_a_person_wrote_and_replaces_only_ours() -> None:
    from paytrace_sl_airflow.run_notes import merged_note, note_for

    ours = note_for({"needs_person": "2 dead letters (0 new)"})
    assert ours == "Needs a person: 2 dead letters (0 new)"
    assert note_for({"needs_person": ""}) == "" and note_for(None) == ""
    assert merged_note(None, ours) == ours
    assert merged_note("checked by Ann", ours) == f"checked by Ann\n\n{ours}"
    later = note_for({"needs_person": "1 dead letter (0 new)"})
    assert merged_note(f"checked by Ann\n\n{ours}", later) == f"checked by Ann\n\n{later}"
    assert merged_note(f"checked by Ann\n\n{ours}", "") == "checked by Ann"
    assert merged_note(ours, "") is None
    assert merged_note("checked by Ann", "") == "checked by Ann"
