"""Books checks reconciliation can make without anyone releasing anything (issue 11).

* **Card clearing is explained by named open items.** Every PayTrace cent that moved money (a sale or
  capture, a refund; pending or settled) in the range is either in SL as our document, or waits in a named
  open item (a review item or a dead letter). The money waiting is what the card-clearing account is
  short of (payments) or long of (refunds) once the deposits are posted; the report says how much and why.
* **No voided document is left in SL.** A refund PayTrace voided whose CM/DM are still in SL is an
  unexplained exception until someone reverses them (the writer removes them from unreleased batches; a
  released one stays, with review item ``refund_void_after_release``). Voided *sales* are reported by
  ``voided_after_posting`` in :mod:`paytrace_sl.reconcile.engine`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from paytrace_sl.paytrace.records import Transaction, TransactionState
from paytrace_sl.pipeline.settlement import classify
from paytrace_sl.reconcile.model import ReconException
from paytrace_sl.reconcile.sl_state import PostedDoc

__all__ = ["ClearingItem", "books_checks"]

NAMED = ("review", "dead_letter")


class ClearingItem:
    """One PayTrace transaction whose money is not in SL, and the open item that names it."""

    __slots__ = ("amount", "code", "reason", "transaction_id")

    def __init__(self, transaction_id: int, amount: Decimal, code: str, reason: str) -> None:
        self.transaction_id = transaction_id
        self.amount = amount  # signed: a sale +, a refund −
        self.code = code
        self.reason = reason


def books_checks(
    txs: Sequence[Transaction],
    docs: Sequence[PostedDoc],
    why: Mapping[int, Any],
    tz: ZoneInfo,
    mapping: Any | None = None,
) -> tuple[list[ReconException], list[str]]:
    """The exceptions and the report notes of the module docstring."""
    by_key = {d.ledger_key: d for d in docs}
    exceptions: list[ReconException] = []
    waiting: list[ClearingItem] = []
    unnamed = Decimal(0)
    for tx in txs:
        day = tx.created_at.astimezone(tz).date()
        refund_doc = by_key.get(f"paytrace:{tx.transaction_id}:refund")
        if (
            tx.status == TransactionState.VOIDED
            and refund_doc is not None
            and refund_doc.sl_amount is not None
        ):
            exceptions.append(
                ReconException(
                    "voided_document_in_sl",
                    f"PayTrace voided refund {tx.transaction_id}, but {refund_doc.sl_ref} "
                    f"({refund_doc.amount}) is still in SL: the money never left card clearing",
                    "reverse the memos in SL (an opposite CM/DM pair), then resolve the review item",
                    explained=False,
                    transaction_id=tx.transaction_id,
                    ledger_key=refund_doc.ledger_key,
                    sl_ref=refund_doc.sl_ref,
                    amount=refund_doc.amount,
                    day=day,
                )
            )
        kind = classify(tx, mapping)
        if kind is None:
            continue
        key = f"paytrace:{tx.transaction_id}:{'payment' if kind == 'sale' else 'refund'}"
        if key in by_key:
            continue
        signed = tx.amount if kind == "sale" else -tx.amount
        reason = why.get(tx.transaction_id)
        if reason is not None and reason.code in NAMED:
            waiting.append(ClearingItem(tx.transaction_id, signed, reason.code, reason.reason))
        else:
            unnamed += signed
    total = sum((w.amount for w in waiting), Decimal(0))
    if waiting:
        listed = "; ".join(
            f"{w.transaction_id} {w.amount:+.2f} ({w.code}: {w.reason[:60]})" for w in waiting[:10]
        )
        more = f"; … {len(waiting) - 10} more" if len(waiting) > 10 else ""
        notes = [
            f"card clearing: {total:.2f} of PayTrace money is not in SL and waits in {len(waiting)} named "
            f"open item(s): {listed}{more}"
        ]
    else:
        notes = ["card clearing: every PayTrace cent that moved money in the range is in SL (no open items)"]
    if unnamed:
        notes.append(
            f"card clearing: {unnamed:.2f} of PayTrace money is neither in SL nor in a named open item "
            "(see the missing_in_sl exceptions)"
        )
    return exceptions, notes
