"""Per settled PayTrace batch: reconcile PayTrace against SL, and store the result (``xPTRecon``).

``reconcile_settlement_batch`` compares three views of a batch — PayTrace's batch totals, the sum of the
transactions PayTrace lists in it, and what we posted in SL (payments, refund documents, the settlement
GL entry) — and names the transactions that explain any difference. ``save_recon`` stores the result
in ``xPTRecon`` (one row per batch number; re-running replaces it); ``tie_documents`` marks the ledger
rows of the batch's documents; ``reconcile_and_save`` is the three in one transaction, what the
settlement flow calls per batch.

The deposit *planning* stays pure in :mod:`paytrace_sl.pipeline.settlement` (imported here for
``classify``); imports run one way: ``pipeline`` (outside its orchestration) never imports ``reconcile``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from paytrace_sl.paytrace.records import SettlementBatch, Transaction, TransactionState
from paytrace_sl.pipeline.settlement import EMPTY_BATCH_NOTE, SettlementMapping, classify, is_empty_batch
from paytrace_sl.reconcile.model import (
    CENT,
    DIFFERENCE,
    MATCHED,
    PENDING,
    ReconItem,
    ReconRecord,
    Totals,
    cents,
)
from paytrace_sl.reconcile.sl_state import PostedDoc, WhyNotPosted, load_posted_docs, why_not_posted
from paytrace_sl.sl.own_tables import utcnow, xPTLedger, xPTRecon


def totals_of(transactions: Sequence[Transaction], mapping: SettlementMapping | None = None) -> Totals:
    """Counts and amounts of the sales and refunds PayTrace counts in settlement totals."""
    sales = [t.amount for t in transactions if classify(t, mapping) == "sale"]
    refunds = [t.amount for t in transactions if classify(t, mapping) == "refund"]
    return Totals(len(sales), sum(sales, Decimal("0.00")), len(refunds), sum(refunds, Decimal("0.00")))


def explains(tx: Transaction, reason: WhyNotPosted) -> bool:
    """Whether our record of why ``tx`` is not posted really accounts for it.

    A skip as "awaiting capture" does not, once PayTrace has *settled* the authorization: the money was
    deposited and no CAPTURE record will come, so the pipeline must post it (unexplained until it does).
    """
    return not (
        reason.code == "skipped"
        and tx.status == TransactionState.SETTLED
        and "awaiting_capture" in reason.reason
    )


def _doc_totals(docs: Sequence[PostedDoc]) -> Totals:
    sales = [d.sl_amount for d in docs if d.kind == "payment" and d.sl_amount is not None]
    refunds = [d.sl_amount for d in docs if d.kind == "refund" and d.sl_amount is not None]
    return Totals(len(sales), sum(sales, Decimal("0.00")), len(refunds), sum(refunds, Decimal("0.00")))


def _settlement_docs(conn: sa.Connection, batch_number: int, programs: Sequence[str]) -> list[PostedDoc]:
    prefix = f"paytrace-batch:{batch_number}:settlement"
    where = sa.or_(xPTLedger.c.ledger_key == prefix, xPTLedger.c.ledger_key.like(prefix + ":%"))
    return load_posted_docs(conn, where=sa.and_(xPTLedger.c.kind == "settlement", where), programs=programs)


def reconcile_settlement_batch(
    conn: sa.Connection,
    batch: SettlementBatch,
    batch_transactions: Sequence[Transaction],
    *,
    mapping: SettlementMapping | None = None,
    cpny_id: str = "",
    expect_settlement: bool = False,
    programs: Sequence[str] = ("PTSL",),
    timezone: str | None = None,
) -> ReconRecord:
    """Compare PayTrace's totals for ``batch`` with its listed transactions and with what SL holds.

    ``expect_settlement``: a deposit GL entry should exist (bank account configured); a batch whose
    documents match but whose entry is not written yet is ``pending``. Status is ``matched`` only when all
    three comparisons agree to the cent, counts included.
    """
    tz = ZoneInfo(timezone or (mapping.timezone if mapping is not None else "America/Los_Angeles"))
    paytrace = Totals(batch.sales_count, batch.sales_amount, batch.refund_count, batch.refund_amount)
    counted = [t for t in batch_transactions if classify(t, mapping) is not None]
    listed = totals_of(counted, mapping)
    ids = [t.transaction_id for t in counted]
    listed_ids = set(ids)
    docs = load_posted_docs(conn, transaction_ids=ids, programs=programs)
    by_key = {d.ledger_key: d for d in docs}
    # Documents we posted that an earlier reconciliation tied to this batch but PayTrace no longer lists.
    extra = [
        d
        for d in load_posted_docs(conn, where=xPTLedger.c.settle_batch_nbr == batch.number, programs=programs)
        if d.transaction_id not in listed_ids and d.kind in ("payment", "refund")
    ]
    why = why_not_posted(conn, ids)
    matched_docs: list[PostedDoc] = []
    items: list[ReconItem] = []
    for tx in sorted(counted, key=lambda t: t.transaction_id):
        kind = classify(tx, mapping)
        key = f"paytrace:{tx.transaction_id}:{'payment' if kind == 'sale' else 'refund'}"
        sign = 1 if kind == "sale" else -1
        doc = by_key.get(key)
        if doc is None:
            reason = why.get(tx.transaction_id)
            if reason is not None and not explains(tx, reason):
                reason = WhyNotPosted("", f"{reason.reason}; but PayTrace settled it, so it must be posted")
            items.append(
                ReconItem(
                    tx.transaction_id,
                    f"not_in_sl:{reason.code}" if reason and reason.code else "not_in_sl",
                    reason.reason
                    if reason
                    else f"{kind} {tx.amount} is in PayTrace batch {batch.number} but was "
                    "never posted to SL and our tables hold no reason",
                    sign * cents(tx.amount),
                    explained=reason is not None and bool(reason.code),
                )
            )
            continue
        if doc.sl_amount is None:
            items.append(
                ReconItem(
                    tx.transaction_id,
                    "deleted_in_sl",
                    f"we posted {doc.sl_ref} for {doc.amount} but the SL document is gone (deleted in SL?)",
                    sign * cents(tx.amount),
                    explained=False,
                )
            )
            continue
        matched_docs.append(doc)
        if doc.sl_amount != tx.amount.quantize(CENT):
            items.append(
                ReconItem(
                    tx.transaction_id,
                    "amount_differs",
                    f"PayTrace {tx.amount} but SL {doc.sl_ref} holds {doc.sl_amount}",
                    sign * (cents(tx.amount) - cents(doc.sl_amount)),
                    explained=False,
                )
            )
    for d in extra:
        if d.sl_amount is None:
            continue
        matched_docs.append(d)
        signed = d.signed_sl_amount or Decimal(0)
        items.append(
            ReconItem(
                d.transaction_id,
                "not_in_batch",
                f"SL {d.sl_ref} ({d.sl_amount}) was tied to batch {batch.number} "
                "but PayTrace no longer lists it",
                -cents(signed),
                explained=False,
            )
        )
    posted = _doc_totals(matched_docs)
    settle = _settlement_docs(conn, batch.number, programs)
    settlement_posted: Decimal | None = None
    if settle:
        settlement_posted = sum(
            (d.sl_amount if d.sl_amount is not None else Decimal(0) for d in settle), Decimal("0.00")
        )
        if not any(d.bat_nbr for d in settle) and all(d.amount == 0 for d in settle):
            settlement_posted = Decimal("0.00")  # net 0: the writer records it without a GL batch
    settle_bat = ",".join(sorted({d.bat_nbr for d in settle if d.bat_nbr}))
    difference = cents(paytrace.net) - cents(posted.net)
    listed_difference = cents(paytrace.net) - cents(listed.net)
    if listed.count != paytrace.count and not listed_difference:
        listed_difference = 0  # counts differ but amounts agree: still a difference, flagged by status
    settle_difference = 0 if settlement_posted is None else cents(paytrace.net) - cents(settlement_posted)
    counts_agree = listed.sales_count == paytrace.sales_count and listed.refund_count == paytrace.refund_count
    docs_agree = posted.sales_count == paytrace.sales_count and posted.refund_count == paytrace.refund_count
    if difference or listed_difference or settle_difference or not counts_agree or not docs_agree or items:
        status = DIFFERENCE
    elif expect_settlement and settlement_posted is None and paytrace.net != 0:
        status = PENDING
    else:
        status = MATCHED
    empty = is_empty_batch(batch, batch_transactions, mapping) and not settle and not items
    return ReconRecord(
        note=EMPTY_BATCH_NOTE if empty else "",
        batch_number=batch.number,
        settled_date=batch.created_at.astimezone(tz).date(),
        cpny_id=cpny_id or next((d.cpny_id for d in docs), ""),
        status=status,
        paytrace=paytrace,
        listed=listed,
        posted=posted,
        settlement_posted=settlement_posted,
        settlement_bat_nbr=settle_bat,
        difference_cents=difference,
        listed_difference_cents=listed_difference,
        settlement_difference_cents=settle_difference,
        items=tuple(items),
    )


def save_recon(conn: sa.Connection, record: ReconRecord, run_id: str | None) -> None:
    """Upsert ``record`` into ``xPTRecon``: one row per batch number, the full record as JSON.

    Idempotent: a re-run replaces the batch's row (delete + insert in the caller's transaction).
    """
    conn.execute(sa.delete(xPTRecon).where(xPTRecon.c.batch_number == record.batch_number))
    conn.execute(
        sa.insert(xPTRecon).values(
            batch_number=record.batch_number,
            cpny_id=record.cpny_id or None,
            status=record.status,
            paytrace_count=record.paytrace.count,
            paytrace_total=record.paytrace.net,
            posted_count=record.posted.count,
            posted_total=record.posted.net,
            difference_cents=record.difference_cents,
            explanation=json.dumps(record.to_json_dict(), sort_keys=True),
            run_id=run_id,
            created_at=utcnow(),
        )
    )


def tie_documents(conn: sa.Connection, batch_number: int, transaction_ids: Sequence[int]) -> int:
    """Set ``xPTLedger.settle_batch_nbr`` on the posted payment/refund rows of these transactions, so a
    later reconciliation notices documents PayTrace stops listing in the batch."""
    changed = 0
    ids = sorted(set(transaction_ids))
    for start in range(0, len(ids), 500):
        result = conn.execute(
            sa.update(xPTLedger)
            .where(
                xPTLedger.c.transaction_id.in_(ids[start : start + 500]),
                xPTLedger.c.kind.in_(("payment", "refund")),
                xPTLedger.c.status == "posted",
            )
            .values(settle_batch_nbr=batch_number, updated_at=utcnow())
        )
        changed += int(result.rowcount or 0)
    return changed


def reconcile_and_save(
    conn: sa.Connection,
    batch: SettlementBatch,
    batch_transactions: Sequence[Transaction],
    run_id: str | None,
    **options: Any,
) -> ReconRecord:
    """What the settlement DAG calls per batch: tie the batch's documents, reconcile, store."""
    ids = [t.transaction_id for t in batch_transactions if classify(t, options.get("mapping")) is not None]
    tie_documents(conn, batch.number, ids)
    record = reconcile_settlement_batch(conn, batch, batch_transactions, **options)
    save_recon(conn, record, run_id)
    return record
