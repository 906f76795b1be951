"""Airflow listener: a run that leaves work for a person says so on the run, in the Airflow UI.

Such a run is not a failure — everything postable was posted, the rest waits in ``xPTReview`` /
``xPTDeadLetter`` or is a settlement difference nobody can explain yet — so it ends ``success``, and the
``partial`` status in ``xPTRun`` used to be visible only in a log line. When one of our DAG runs finishes,
this listener reads what its ``summarize`` task returned (its XCom: ``needs_person``, written by
:func:`paytrace_sl.pipeline.run_history.attention_text`) and sets the **DAG run note** — the note Airflow 3
shows on the run in the grid and on the run's page — to ``Needs a person: <what>``, after any note a
person wrote. A re-run replaces our earlier note, and one with nothing left removes it.

Registered by :class:`paytrace_sl_airflow.plugin.PaytraceSlPlugin` (``listeners``). Listeners run where
the DAG run's state changes (the scheduler; ``dag.test()`` in-process), inside that code's database
session, so the note is set on the ``DagRun`` object and committed with the state change. Airflow also
loads this module in every task process (with the plugin), where none of its hooks is called: it imports
the library (``run_history``: our tables) only when a hook runs.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

OUR_DAGS = ("paytrace_payments_to_sl", "paytrace_settlements_to_sl")
SUMMARY_TASK = "summarize"  # the task id of the summarize step in both DAGs (dag_support)
NOTE_LIMIT = 1000  # Airflow's note column is 1000 characters


def summary_of(session: Any, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The ``summarize`` task's return value for the run (None when it has none)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    row = session.execute(
        select(XComModel).where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.task_id == SUMMARY_TASK,
            XComModel.key == "return_value",
            XComModel.map_index == -1,
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    value = XComModel.deserialize_value(row)
    return value if isinstance(value, dict) else None


def note_for(summary: dict[str, Any] | None) -> str:
    """``Needs a person: …`` for a summary that leaves work for a person, else ""."""
    from paytrace_sl.pipeline.run_history import ATTENTION_PREFIX

    if not summary:
        return ""
    text = str(summary.get("needs_person") or "").strip()
    return f"{ATTENTION_PREFIX}{text}"[:NOTE_LIMIT] if text else ""


def merged_note(current: str | None, ours: str) -> str | None:
    """The run's note after this attempt: ours after what a person wrote; an earlier note of ours is
    replaced (or removed when this attempt left nothing)."""
    from paytrace_sl.pipeline.run_history import ATTENTION_PREFIX

    current = current or ""
    mine = current.find(ATTENTION_PREFIX)
    theirs = (current[:mine] if mine >= 0 else current).rstrip()
    if not ours:
        return theirs or None
    return f"{theirs}\n\n{ours}"[:NOTE_LIMIT] if theirs else ours


def _note_run(session: Any, dag_run: Any) -> str:
    ours = note_for(summary_of(session, dag_run.dag_id, dag_run.run_id))
    new = merged_note(dag_run.note, ours)
    if new != (dag_run.note or None):
        dag_run.note = new
    return ours


def apply_note(dag_run: Any) -> str:
    """Set (or clear) our note on ``dag_run``; returns our part of it ("" = none).

    The scheduler hands the listener a ``DagRun`` bound to its session: the note is committed with the
    state change. ``dag.test()`` hands over a detached one: the run is loaded in a session of our own.
    """
    from sqlalchemy.orm import object_session

    if dag_run.dag_id not in OUR_DAGS:
        return ""
    session = object_session(dag_run)
    if session is not None:
        return _note_run(session, dag_run)
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_id, run_id = dag_run.dag_id, dag_run.run_id
    with create_session() as own:
        run = own.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        return "" if run is None else _note_run(own, run)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    try:
        note = apply_note(dag_run)
        if note:
            log.info("%s %s: %s", dag_run.dag_id, dag_run.run_id, note)
    except Exception as exc:  # a listener must never disturb the scheduler
        log.warning(
            "could not set the run note of %s: %s",
            getattr(dag_run, "run_id", "?"),
            type(exc).__name__,
            exc_info=True,
        )


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    """A failed run is red already; a summary it did write (failure after summarize) still goes on it."""
    on_dag_run_success(dag_run, msg)
