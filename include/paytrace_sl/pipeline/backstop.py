"""The settlement run's completeness backstop (issue 11 §6).

A transaction can reach a settled PayTrace batch without any payment run having posted it: an
authorization captured after the look-back keeps its ``created.at`` (the authorization day), so the
scheduled windows that still re-read that day saw it "Authorization Only" and the ones that would see it
captured no longer read that day. Its money is in the deposit all the same. So before a batch's deposit
entry is written, every transaction PayTrace lists in the batch that our ledger does not know is run
through the same transform and writer as a payment run (dated in the settlement run's window, see
:func:`paytrace_sl.pipeline.transform.build_plan`). Transactions the ledger knows are left alone; the
others end posted, skipped or in review exactly as in a payment run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.pipeline.mapping import Mapping
from paytrace_sl.pipeline.sl_context import load_sl_context
from paytrace_sl.pipeline.transform import TransformError, TransformResult, WindowBounds, build_plan
from paytrace_sl.sl.own_tables import xPTDeadLetter
from paytrace_sl.sl.writer import SLWriter, WriterError, WriteResult

__all__ = ["Backstop", "post_missing"]


@dataclass(frozen=True)
class Backstop:
    """What the backstop did: the transactions it processed, the transform and the write results."""

    missing: tuple[Transaction, ...]
    transform: TransformResult | None
    write: WriteResult | None
    error: str = ""  # the transform refused the set, or an SL batch of it could not be written

    def counts(self) -> dict[str, Any]:
        if self.transform is None or self.write is None:
            return {"missing": len(self.missing), "posted": 0, "review": 0, "skipped": 0, "error": self.error}
        return {
            "missing": len(self.missing),
            "posted": self.write.posted,
            "review": len(self.transform.review),
            "skipped": len(self.transform.skipped),
            "transaction_ids": sorted(t.transaction_id for t in self.missing)[:50],
            "error": self.error,
        }


def post_missing(
    engine: sa.Engine,
    writer: SLWriter,
    mapping: Mapping,
    transactions: Sequence[Transaction],
    window: WindowBounds,
) -> Backstop:
    """Post (or skip / send to review) the batch transactions our ledger does not know."""
    unique = {t.transaction_id: t for t in transactions}
    if not unique:
        return Backstop((), None, None)
    with engine.connect() as conn:
        ctx = load_sl_context(
            conn,
            transaction_ids=list(unique),
            customer_ids=[t.customer_id for t in unique.values()],
            invoice_ids=[t.invoice_id for t in unique.values()],
            mapping=mapping,
        )
        # quarantined (dead-lettered, not replayed) records stay quarantined: only replay posts them
        quarantined = {
            int(r[0])
            for r in conn.execute(
                sa.select(xPTDeadLetter.c.transaction_id).where(
                    xPTDeadLetter.c.transaction_id.in_(sorted(unique)), xPTDeadLetter.c.replayed_at.is_(None)
                )
            )
        }
    missing = tuple(
        t for tid, t in sorted(unique.items()) if tid not in ctx.ledger and tid not in quarantined
    )
    if not missing:
        return Backstop((), None, None)
    try:
        result = build_plan(list(missing), ctx, mapping, window=window)
    except TransformError as exc:
        return Backstop(missing, None, None, error=str(exc))
    result.row_account(extracted=len(missing), dead_lettered=0).check()  # every row decided, none lost
    # Each SL batch stands alone (as settlement batches do): one that cannot be written (a closed
    # period, say) is reported and the others are still written.
    write = WriteResult()
    errors: list[str] = []
    writer.prepare(b.cpny_id for b in result.plan.batches)
    for planned in result.plan.batches:
        try:
            write.batches.append(writer.write_batch(planned))
        except WriterError as exc:
            errors.append(str(exc))
    return Backstop(missing, result, write, error="; ".join(errors))
