"""Airflow listener: a run that leaves work for a person says so on the run, in the Airflow UI.

Such a run is not a failure — everything postable was posted, the rest waits in ``xPTReview`` /
``xPTDeadLetter`` or is a settlement difference nobody can explain yet — so it ends ``success``, and the
``partial`` status in ``xPTRun`` used to be visible only in a log line. When one of our DAG runs finishes,
this listener reads what its ``summarize`` task returned (its XCom: ``needs_person``, written by
:func:`paytrace_sl.pipeline.run_history.attention_text`) and sets the **DAG run note** — the note Airflow 3
shows on the run in the grid and on the run's page — to ``Needs a person: <what>``. A run with nothing
left clears a note of ours from an earlier attempt of the same run and leaves a note a person wrote alone.

Registered by :class:`paytrace_sl_airflow.ui_plugin.PaytraceSlPlugin` (``listeners``). Listeners run where
the DAG run's state changes (the scheduler; ``dag.test()`` in-process), inside that code's database
session, so the note is set on the ``DagRun`` object and committed with the state change.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

from paytrace_sl.pipeline.run_history import ATTENTION_PREFIX

log = logging.getLogger(__name__)

OUR_DAGS = ("paytrace_payments_to_sl", "paytrace_settlements_to_sl")
SUMMARY_TASK = "summarize"  # the task id of the summarize step in both DAGs (dag_support)
NOTE_LIMIT = 1000  # Airflow's note column is 1000 characters


def summary_of(dag_run: Any) -> dict[str, Any] | None:
    """The ``summarize`` task's return value for ``dag_run`` (None when it has none)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is None:
        return None
    row = session.execute(
        select(XComModel).where(
            XComModel.dag_id == dag_run.dag_id,
            XComModel.run_id == dag_run.run_id,
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
    if not summary:
        return ""
    text = str(summary.get("needs_person") or "").strip()
    return f"{ATTENTION_PREFIX}{text}"[:NOTE_LIMIT] if text else ""


def apply_note(dag_run: Any) -> str:
    """Set (or clear) our note on ``dag_run``; returns the note now on it from us ("" = none)."""
    if dag_run.dag_id not in OUR_DAGS:
        return ""
    note = note_for(summary_of(dag_run))
    current = dag_run.note or ""
    if note:
        if current and not current.startswith(ATTENTION_PREFIX):
            note = f"{current}\n\n{note}"[:NOTE_LIMIT]  # keep what a person wrote, ours after it
        if note != current:
            dag_run.note = note
        return note
    if current.startswith(ATTENTION_PREFIX):
        dag_run.note = None  # this attempt left nothing: our earlier note no longer applies
    return ""


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    try:
        note = apply_note(dag_run)
        if note:
            log.info("%s %s: %s", dag_run.dag_id, dag_run.run_id, note)
    except Exception as exc:  # a listener must never disturb the scheduler
        log.warning(
            "could not set the run note of %s: %s", getattr(dag_run, "run_id", "?"), type(exc).__name__
        )


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    """A failed run is red already; a summary it did write (failure after summarize) still goes on it."""
    on_dag_run_success(dag_run, msg)
