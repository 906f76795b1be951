"""Run history: one ``xPTRun`` row per *attempt* of a run, keyed by (DAG, run id, try).

Until schema v4 a run was keyed by its run id alone, and a re-run of the same window (an Airflow clear,
a backfill with ``--reprocess-behavior completed``) overwrote the first attempt's counts — "posted 166"
became "posted 0, already posted 341" and the posting run disappeared from the log. Now:

* the first step of a run starts an attempt (:func:`start_attempt`): in Airflow its number is the task's
  try number (``PipelineConfig.try_number``, set by ``dag_support``); from the CLI it is the next free
  number. An earlier attempt of the same run still ``running`` (its process was killed) is closed as
  ``interrupted``; a finished attempt is never touched again;
* the outcome (:func:`finish_attempt`) goes to the run's latest attempt while it is ``running``; when the
  latest attempt has already finished (only the summarize task was cleared, or it is retried after a
  recorded failure) a new attempt row is added instead of overwriting the finished one.

:func:`attention_text` is the one line a run leaves for a person ("Needs a person: …" in the Airflow UI,
``xPTRun.attention``): only what is unexplained or new, so a run whose differences are all explained is
quiet.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from paytrace_sl.pipeline.windows import Window
from paytrace_sl.sl.own_tables import utcnow, xPTRun

FINAL_STATUSES = ("success", "partial", "failed", "interrupted")
ATTENTION_PREFIX = "Needs a person: "


@dataclass(frozen=True, slots=True)
class Attempt:
    dag_id: str
    run_id: str
    try_number: int
    status: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    counts: dict[str, Any]
    started_at: dt.datetime
    finished_at: dt.datetime | None
    error: str | None
    attention: str | None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "try_number": self.try_number,
            "status": self.status,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "counts": self.counts,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
            "attention": self.attention,
        }


def _latest(conn: sa.Connection, dag_id: str, run_id: str) -> tuple[int, str] | None:
    row = conn.execute(
        sa.select(xPTRun.c.try_number, xPTRun.c.status)
        .where(xPTRun.c.dag_id == dag_id, xPTRun.c.run_id == run_id)
        .order_by(xPTRun.c.try_number.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _attempt(dag_id: str, run_id: str, try_number: int) -> sa.ColumnElement[bool]:
    """The ``xPTRun`` row of one attempt (its key)."""
    return sa.and_(xPTRun.c.dag_id == dag_id, xPTRun.c.run_id == run_id, xPTRun.c.try_number == try_number)


def _next_number(latest: tuple[int, str] | None, try_number: int | None) -> int:
    """A new attempt's number: Airflow's try, but never at or below the run's latest attempt."""
    return max(try_number or 1, (latest[0] + 1) if latest else 1)


def _window_values(window: Window | None) -> dict[str, Any]:
    return {"window_start": window.start if window else None, "window_end": window.end if window else None}


def start_attempt(
    engine: sa.Engine, dag_id: str, run_id: str, window: Window | None, try_number: int | None = None
) -> int:
    """The attempt this step belongs to, with status ``running``; returns its number.

    ``try_number`` (Airflow's) of a task that already started the latest, still running attempt (a step
    of the same try) reuses it; otherwise a new attempt is numbered ``max(try_number, latest + 1)``.
    """
    now = utcnow()
    with engine.begin() as conn:
        latest = _latest(conn, dag_id, run_id)
        if (
            latest is not None
            and latest[1] == "running"
            and try_number is not None
            and try_number <= latest[0]
        ):
            conn.execute(
                sa.update(xPTRun).where(_attempt(dag_id, run_id, latest[0])).values(**_window_values(window))
            )
            return latest[0]
        number = _next_number(latest, try_number)
        if latest is not None and latest[1] == "running":
            conn.execute(
                sa.update(xPTRun)
                .where(_attempt(dag_id, run_id, latest[0]))
                .values(
                    status="interrupted",
                    finished_at=now,
                    error=f"attempt {number} started before this attempt recorded an outcome",
                )
            )
        conn.execute(
            sa.insert(xPTRun).values(
                dag_id=dag_id,
                run_id=run_id,
                try_number=number,
                status="running",
                counts="{}",
                started_at=now,
                **_window_values(window),
            )
        )
    return number


def finish_attempt(
    engine: sa.Engine,
    dag_id: str,
    run_id: str,
    window: Window | None,
    status: str,
    counts: Mapping[str, Any],
    error: str | None = None,
    try_number: int | None = None,
) -> int:
    """Record the outcome on the run's latest attempt if it is running, else on a new attempt."""
    now = utcnow()
    values: dict[str, Any] = {
        **_window_values(window),
        "counts": json.dumps(dict(counts), sort_keys=True, default=str),
        "status": status,
        "finished_at": now,
        "error": (error or None) and error[:1000],
        "attention": (attention_text(counts) or None) if status in ("success", "partial") else None,
    }
    if window is None:  # a failure recorded without a window keeps the one the attempt started with
        del values["window_start"], values["window_end"]
    with engine.begin() as conn:
        latest = _latest(conn, dag_id, run_id)
        if latest is not None and latest[1] == "running":
            conn.execute(sa.update(xPTRun).where(_attempt(dag_id, run_id, latest[0])).values(**values))
            return latest[0]
        number = _next_number(latest, try_number)
        values.setdefault("window_start", None)
        values.setdefault("window_end", None)
        conn.execute(
            sa.insert(xPTRun).values(
                dag_id=dag_id, run_id=run_id, try_number=number, started_at=now, **values
            )
        )
    return number


def record(
    engine: sa.Engine,
    run_id: str,
    dag_id: str,
    window: Window | None,
    status: str,
    counts: Mapping[str, Any],
    error: str | None = None,
    try_number: int | None = None,
) -> int:
    """``running`` starts (or joins) an attempt, anything else finishes the latest one."""
    if status == "running":
        return start_attempt(engine, dag_id, run_id, window, try_number)
    return finish_attempt(engine, dag_id, run_id, window, status, counts, error, try_number)


def _row_attempt(r: Any) -> Attempt:
    try:
        counts = json.loads(r.counts) if r.counts else {}
    except ValueError:
        counts = {}
    return Attempt(
        dag_id=str(r.dag_id),
        run_id=str(r.run_id),
        try_number=int(r.try_number),
        status=str(r.status),
        window_start=r.window_start,
        window_end=r.window_end,
        counts=counts if isinstance(counts, dict) else {},
        started_at=r.started_at,
        finished_at=r.finished_at,
        error=r.error,
        attention=r.attention,
    )


def history(
    engine_or_conn: sa.Engine | sa.Connection,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    limit: int | None = None,
) -> list[Attempt]:
    """Every attempt, newest start first (optionally of one DAG and/or run)."""
    query = sa.select(xPTRun)
    if dag_id is not None:
        query = query.where(xPTRun.c.dag_id == dag_id)
    if run_id is not None:
        query = query.where(xPTRun.c.run_id == run_id)
    query = query.order_by(xPTRun.c.started_at.desc(), xPTRun.c.try_number.desc())
    if limit is not None:
        query = query.limit(limit)
    if isinstance(engine_or_conn, sa.Connection):
        return [_row_attempt(r) for r in engine_or_conn.execute(query)]
    with engine_or_conn.connect() as conn:
        return [_row_attempt(r) for r in conn.execute(query)]


def latest_per_run(attempts: Iterable[Attempt]) -> list[Attempt]:
    """The latest attempt of each (DAG, run), in the order first seen."""
    seen: dict[tuple[str, str], Attempt] = {}
    for a in attempts:
        key = (a.dag_id, a.run_id)
        if key not in seen or a.try_number > seen[key].try_number:
            seen[key] = a
    return list(seen.values())


# ------------------------------------------------------------------------------ needs a person


def _n(counts: Mapping[str, Any], key: str) -> int:
    try:
        return int(counts.get(key, 0) or 0)
    except (TypeError, ValueError):
        return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def attention_text(counts: Mapping[str, Any]) -> str:
    """What a finished run leaves for a person, one line; "" when nothing does.

    Payments: open review items and dead letters of the window, saying how many are new. Settlements:
    batches whose difference is *unexplained* (a difference every item of which our tables explain — a
    decline, a void, an open review item — needs no one), plus review items and dead letters.
    """
    parts: list[str] = []
    unexplained = _n(counts, "unexplained")
    if unexplained:
        parts.append(f"{_plural(unexplained, 'settlement batch')} with an unexplained difference")
    for key, word in (("review", "review item"), ("dead_letter", "dead letter")):
        total = _n(counts, key)
        if not total:
            continue
        new_key = f"{key}_new"
        if new_key in counts:
            parts.append(f"{_plural(total, word)} ({_n(counts, new_key)} new)")
        else:
            parts.append(_plural(total, word))
    return "; ".join(parts)


def has_news(counts: Mapping[str, Any]) -> bool:
    """Worth a notification: something unexplained or new (not the same open items seen again)."""
    if _n(counts, "unexplained"):
        return True
    for key in ("review", "dead_letter"):
        new_key = f"{key}_new"
        if (_n(counts, new_key) if new_key in counts else _n(counts, key)) > 0:
            return True
    return False


def unexplained_batches(reconciliation: Iterable[Mapping[str, Any]]) -> int:
    """Batches of a settlement run (``reconciliation.json`` records) with a difference not explained."""
    return sum(
        1 for r in reconciliation if str(r.get("status")) == "difference" and not bool(r.get("explained"))
    )
