"""Our own bookkeeping rows (xPT* tables): dead letters, skips, review items, the run log, totals.

SQL on our tables only (never SL's); every writer is idempotent (a retried task inserts nothing twice).
The steps in :mod:`paytrace_sl.pipeline.flows` call these with their :class:`RunContext`'s engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from paytrace_sl.pipeline import run_history
from paytrace_sl.pipeline.config import PipelineConfig
from paytrace_sl.pipeline.dead_letters import DeadLetter
from paytrace_sl.pipeline.notify import Notification, notify
from paytrace_sl.pipeline.windows import Window
from paytrace_sl.sl.own_tables import utcnow, xPTDeadLetter, xPTLedger, xPTRecon, xPTReview, xPTRun, xPTSkip

log = logging.getLogger(__name__)


def _payload_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


def record_dead_letters(engine: sa.Engine, run_id: str, letters: Sequence[DeadLetter]) -> int:
    """Insert dead letters not already open for the same record and payload; returns rows inserted.

    One query per 1,000 letters for the open ones and one bulk insert (not a query and an insert each)."""
    t = xPTDeadLetter

    new: dict[str, tuple[str, DeadLetter]] = {}  # payload hash → (payload, letter); first of a repeat wins
    for letter in letters:
        payload = json.dumps(letter.payload, sort_keys=True, default=str)
        new.setdefault(_payload_hash(payload + "|" + letter.reason), (payload, letter))
    with engine.begin() as conn:
        digests = list(new)
        for i in range(0, len(digests), 1000):
            for (digest,) in conn.execute(
                sa.select(t.c.payload_hash).where(
                    t.c.payload_hash.in_(digests[i : i + 1000]), t.c.replayed_at.is_(None)
                )
            ):
                new.pop(digest, None)
        rows = [
            {
                "transaction_id": letter.transaction_id,
                "source": letter.source,
                "payload": payload,
                "payload_hash": digest,
                "reason": letter.reason[:500],
                "failed_checks": json.dumps(list(letter.failed_checks)) if letter.failed_checks else None,
                "run_id": run_id,
                "created_at": utcnow(),
            }
            for digest, (payload, letter) in new.items()
        ]
        if rows:
            conn.execute(sa.insert(t), rows)
    return len(rows)


def _existing_pairs(
    conn: sa.Connection, table: sa.Table, ids: Sequence[int], *where: sa.ColumnElement[bool]
) -> set[tuple[int | None, str]]:
    """(transaction id, reason code) pairs already in ``table`` for ``ids``: one query per 1,000 ids
    instead of one per item (a 100k window has tens of thousands of skips and review items)."""
    found: set[tuple[int | None, str]] = set()
    unique = sorted(set(ids))
    for i in range(0, len(unique), 1000):
        chunk = unique[i : i + 1000]
        rows = conn.execute(
            sa.select(table.c.transaction_id, table.c.reason_code).where(
                table.c.transaction_id.in_(chunk), *where
            )
        )
        found.update((r[0], str(r[1]).strip()) for r in rows)
    return found


def record_skips(engine: sa.Engine, run_id: str, skips: Iterable[Mapping[str, Any]]) -> int:
    """Record skipped transactions (declines, waiting authorizations…) once per (id, reason code).

    Race-safe on every dialect: xPTSkip has a unique key on (id, reason code); a concurrent run that
    inserted one of our pairs first makes our insert fail as a whole, and the retry re-reads what exists.
    """
    items = [(int(skip["transaction_id"]), str(skip["reason_code"]), skip) for skip in skips]
    for attempt in range(1, 4):
        try:
            return _insert_skips(engine, run_id, items)
        except sa.exc.IntegrityError:
            if attempt == 3:
                raise
            log.info("xPTSkip insert collided with a concurrent run; re-reading (attempt %d)", attempt)
    return 0  # pragma: no cover - the loop returns or raises


def _insert_skips(engine: sa.Engine, run_id: str, items: Sequence[tuple[int, str, Mapping[str, Any]]]) -> int:
    t = xPTSkip

    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":  # WAL: take the write lock before reading, or the insert of a
            conn.execute(sa.delete(t).where(sa.false()))  # run that read first fails "database is locked"
        seen = _existing_pairs(conn, t, [txid for txid, _, _ in items])
        rows = []
        for txid, code, skip in items:
            if (txid, code[:40]) in seen:
                continue
            seen.add((txid, code[:40]))
            rows.append(
                {
                    "transaction_id": txid,
                    "reason_code": code[:40],
                    "reason": str(skip.get("reason", code))[:500],
                    "paytrace_state": str(skip.get("paytrace_state", ""))[:40] or None,
                    "run_id": run_id,
                    "created_at": utcnow(),
                }
            )
        if rows:
            conn.execute(sa.insert(t), rows)
    return len(rows)


def record_reviews(engine: sa.Engine, run_id: str, reviews: Iterable[Mapping[str, Any]]) -> int:
    """Open review items, once per (transaction, reason code) while unresolved."""
    t = xPTReview

    items = [
        (
            None if item.get("transaction_id") is None else int(item["transaction_id"]),
            str(item["reason_code"]),
            item,
        )
        for item in reviews
    ]
    with engine.begin() as conn:
        seen = _existing_pairs(
            conn, t, [txid for txid, _, _ in items if txid is not None], t.c.resolved_at.is_(None)
        )
        rows = []
        for txid, code, item in items:
            if txid is None:
                # not tied to a transaction (rare): the same check, one query
                if (None, code[:40]) in seen or conn.execute(
                    sa.select(t.c.id)
                    .where(t.c.transaction_id.is_(None), t.c.reason_code == code, t.c.resolved_at.is_(None))
                    .limit(1)
                ).first():
                    continue
            elif (txid, code[:40]) in seen:
                continue
            seen.add((txid, code[:40]))
            rows.append(
                {
                    "transaction_id": txid,
                    "ledger_key": item.get("ledger_key"),
                    "reason_code": code[:40],
                    "reason": str(item.get("reason", code))[:500],
                    "details": json.dumps(item.get("details") or {}, sort_keys=True, default=str),
                    "run_id": run_id,
                    "created_at": utcnow(),
                }
            )
        if rows:
            conn.execute(sa.insert(t), rows)
    return len(rows)


record_run = run_history.record
"""The run's attempt in ``xPTRun`` (every attempt kept): :func:`paytrace_sl.pipeline.run_history.record`."""


def mark_run_started(engine: sa.Engine, cfg: PipelineConfig, window: Window | None, run_id: str) -> None:
    """The run's ``xPTRun`` row with status ``running``, written by the first step before any work.

    The summarize step (or a recorded failure) replaces it with the outcome; a process killed in between
    (SIGKILL, OOM, a lost worker) leaves the ``running`` row, so a run is never missing from the log.
    """
    record_run(engine, run_id, cfg.dag_id, window, "running", {}, try_number=cfg.try_number)


def record_failure(cfg: PipelineConfig, window: Window | None, run_id: str, exc: BaseException) -> None:
    """Best effort: mark the run failed in xPTRun and notify. Never masks the original error.

    Opens its own engine: the step's may be what failed."""
    from paytrace_sl.pipeline.context import RunContext

    reason = f"{type(exc).__name__}: {exc}"
    try:
        with RunContext(cfg, window, run_id) as ctx:
            record_run(
                ctx.sl, run_id, cfg.dag_id, window, "failed", {}, error=reason, try_number=cfg.try_number
            )
    except Exception as inner:  # the SL database may be what failed
        log.warning("could not record the failed run %s: %s", run_id, type(inner).__name__)
    notify(
        cfg.notify,
        Notification(
            kind="failure",
            title="pipeline run failed",
            run_id=run_id,
            window=window.label if window else "",
            reason=reason[:500],
        ),
    )


def recent_window_counts(
    engine: sa.Engine, dag_id: str, window: Window, run_id: str, limit: int = 20
) -> list[int]:
    """Checked-row counts of recent successful runs with windows of the same length (anomaly history)."""
    t = xPTRun

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.window_start, t.c.window_end, t.c.counts)
            .where(t.c.dag_id == dag_id, t.c.status.in_(("success", "partial")), t.c.run_id != run_id)
            .order_by(t.c.window_end.desc())
            .limit(limit * 3)
        ).all()
    counts: list[int] = []
    seen: set[tuple[dt.datetime, dt.datetime]] = set()
    for start, end, raw in rows:
        if start is None or end is None or (end - start) != window.duration or (start, end) in seen:
            continue  # a re-run's attempt (xPTRun keeps every attempt) is the same window once more
        seen.add((start, end))
        try:
            checked = json.loads(raw or "{}").get("checked")
        except json.JSONDecodeError:
            continue
        if isinstance(checked, int):
            counts.append(checked)
        if len(counts) >= limit:
            break
    return counts


def totals(engine: sa.Engine, run_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """What a set of runs did (all runs when ``run_ids`` is None), from our tables, de-duplicated.

    Per-window summaries count the look-back again in every window; these totals count each SL
    document, skip, review item, dead letter and reconciliation once, attributed to the run that made it.
    ``review`` counts every review item (as the per-run summaries do); ``posted_with_note`` is the part
    of it on documents that were posted (the document is in ``posted`` too), the rest wait unposted.
    """

    def scoped(table: sa.Table) -> Any:
        return table.c.run_id.in_(list(run_ids)) if run_ids is not None else sa.true()

    with engine.connect() as conn:
        posted = {
            str(kind): int(n)
            for kind, n in conn.execute(
                sa.select(xPTLedger.c.kind, sa.func.count())
                .where(scoped(xPTLedger))
                .group_by(xPTLedger.c.kind)
            )
        }
        sl_batches = conn.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(xPTLedger.c.module, xPTLedger.c.bat_nbr)
                .where(scoped(xPTLedger), xPTLedger.c.bat_nbr != "")
                .distinct()
                .subquery()
            )
        ).scalar_one()
        skipped = {
            str(code): int(n)
            for code, n in conn.execute(
                sa.select(xPTSkip.c.reason_code, sa.func.count())
                .where(scoped(xPTSkip))
                .group_by(xPTSkip.c.reason_code)
            )
        }
        review_all = conn.execute(
            sa.select(sa.func.count()).select_from(xPTReview).where(scoped(xPTReview))
        ).scalar_one()
        # A review item whose document is in the ledger was posted with a note (an unidentified receipt
        # on the UNIDENTIFIED customer, a payment posted unapplied): SL has it, a person should look.
        # The others wait for a person with nothing posted.
        posted_with_note = conn.execute(
            sa.select(sa.func.count())
            .select_from(xPTReview)
            .where(
                scoped(xPTReview),
                sa.exists().where(xPTLedger.c.ledger_key == xPTReview.c.ledger_key),
            )
        ).scalar_one()
        dead = conn.execute(
            sa.select(sa.func.count()).select_from(xPTDeadLetter).where(scoped(xPTDeadLetter))
        ).scalar_one()
        recon = {
            str(status): int(n)
            for status, n in conn.execute(
                sa.select(xPTRecon.c.status, sa.func.count())
                .where(scoped(xPTRecon))
                .group_by(xPTRecon.c.status)
            )
        }
        explained = 0
        for (raw,) in conn.execute(
            sa.select(xPTRecon.c.explanation).where(scoped(xPTRecon), xPTRecon.c.status != "matched")
        ):
            try:
                explained += bool(json.loads(raw or "{}").get("explained"))
            except (json.JSONDecodeError, AttributeError):
                continue
    return {
        "settlement_differences_explained": explained,
        "posted": dict(sorted(posted.items())),
        "skipped": dict(sorted(skipped.items())),
        "review": int(review_all),
        "posted_with_note": int(posted_with_note),
        "dead_letter": int(dead),
        "sl_batches": int(sl_batches),
        "settlement_batches": dict(sorted(recon.items())),
    }


def open_dead_letters(engine: sa.Engine, ids: Sequence[int]) -> list[dict[str, Any]]:
    t = xPTDeadLetter

    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.select(
                    t.c.id, t.c.transaction_id, t.c.source, t.c.reason, t.c.replayed_at, t.c.replay_run_id
                ).where(t.c.id.in_(list(ids)))
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def mark_replayed(engine: sa.Engine, run_id: str, transaction_ids: Iterable[int], before: dt.datetime) -> int:
    """Close open dead letters (created before this replay) of transactions that now passed the checks."""
    t = xPTDeadLetter

    ids = sorted(set(transaction_ids))
    closed = 0
    with engine.begin() as conn:
        for start in range(0, len(ids), 500):
            result = conn.execute(
                sa.update(t)
                .where(
                    t.c.transaction_id.in_(ids[start : start + 500]),
                    t.c.replayed_at.is_(None),
                    t.c.created_at < before,
                )
                .values(replayed_at=utcnow(), replay_run_id=run_id)
            )
            closed += int(result.rowcount or 0)
    return closed
