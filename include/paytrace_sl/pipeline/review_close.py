"""Closing review items whose work is done, so open items in ``xPTReview`` are only open work.

A review item waits for a person (an unmatched customer, a refused late item, …). Once the cause is fixed
and ``paytrace-sl replay`` (or the replay DAG) posts the transaction's document, the item is closed here:
``resolved_at`` (when), ``resolved_by`` (who: the replay run id) and ``resolution`` (what was posted).
Only items opened before the replay began are closed, and only for documents that replay itself posted —
a note written next to a posted document in the same run (an unidentified receipt, say) stays open.

A replay also sweeps items whose document a later *scheduled* run posted (the look-back saw the payer once
its cross-reference existed): an open item opened before its transaction's posting was settled by that
posting (``closed_how = posted``, ``resolved_by`` = the posting run). A note is never swept: the writer
opens it after the posting it annotates, and an item about a changed copy comes after the posting too.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paytrace_sl.sl.own_tables import utcnow, xPTLedger, xPTReview

POSTED_KINDS = ("payment", "refund")


def close_reviews_posted_by(engine: sa.Engine, run_id: str, before: dt.datetime) -> int:
    """Resolve open review items (created before ``before``) of transactions whose payment or refund
    document the run ``run_id`` (or its per-day runs ``run_id__<day>``) posted; returns how many."""
    ledger = xPTLedger
    posted = sa.select(
        ledger.c.transaction_id, ledger.c.kind, ledger.c.bat_nbr, ledger.c.doc_type, ledger.c.ref_nbr
    )
    posted = posted.where(
        ledger.c.status == "posted",
        ledger.c.kind.in_(POSTED_KINDS),
        ledger.c.transaction_id.is_not(None),
        sa.or_(ledger.c.run_id == run_id, ledger.c.run_id.startswith(f"{run_id}__")),
    )
    closed = 0
    with engine.begin() as conn:
        docs = {int(r.transaction_id): r for r in conn.execute(posted)}
        ids = sorted(docs)
        open_items: list[tuple[int, int]] = []
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                sa.select(xPTReview.c.id, xPTReview.c.transaction_id).where(
                    xPTReview.c.transaction_id.in_(ids[start : start + 500]),
                    xPTReview.c.resolved_at.is_(None),
                    xPTReview.c.created_at < before,
                )
            )
            open_items += [(int(r[0]), int(r[1])) for r in rows]
        now = utcnow()
        for item_id, txid in open_items:
            doc = docs[int(txid)]
            what = f"{doc.kind} {str(doc.doc_type).strip()} {str(doc.ref_nbr).strip()}"
            result = conn.execute(
                sa.update(xPTReview)
                .where(xPTReview.c.id == item_id, xPTReview.c.resolved_at.is_(None))
                .values(
                    resolved_at=now,
                    resolved_by=run_id[:60],
                    closed_how="replayed",
                    resolution=f"posted by replay {run_id}: {what} in batch {str(doc.bat_nbr).strip()}"[:500],
                )
            )
            closed += int(result.rowcount or 0)
    return closed + close_reviews_settled_later(engine, before)


def close_reviews_settled_later(engine: sa.Engine, before: dt.datetime) -> int:
    """Close open items (opened before ``before``) whose transaction's payment or refund document was
    posted after the item was opened, by whichever run; returns how many."""
    ledger, review = xPTLedger, xPTReview
    query = (
        sa.select(
            review.c.id,
            ledger.c.run_id,
            ledger.c.kind,
            ledger.c.bat_nbr,
            ledger.c.doc_type,
            ledger.c.ref_nbr,
        )
        .join(ledger, ledger.c.transaction_id == review.c.transaction_id)
        .where(
            review.c.resolved_at.is_(None),
            review.c.created_at < before,
            ledger.c.status == "posted",
            ledger.c.kind.in_(POSTED_KINDS),
            ledger.c.posted_at > review.c.created_at,
        )
        .order_by(review.c.id)
    )
    closed = 0
    with engine.begin() as conn:
        now = utcnow()
        for row in conn.execute(query).all():
            run = str(row.run_id or "a pipeline run")
            what = f"{row.kind} {str(row.doc_type).strip()} {str(row.ref_nbr).strip()}"
            result = conn.execute(
                sa.update(xPTReview)
                .where(xPTReview.c.id == int(row.id), xPTReview.c.resolved_at.is_(None))
                .values(
                    resolved_at=now,
                    resolved_by=run[:60],
                    closed_how="posted",
                    resolution=f"posted by run {run}: {what} in batch {str(row.bat_nbr).strip()}"[:500],
                )
            )
            closed += int(result.rowcount or 0)
    return closed
