"""The exactly-once SL batch writer: a :class:`~paytrace_sl.plan.PostingPlan` becomes SL batches on Hold.

Split by SL document kind, following ``docs/accounting.md``:

* :mod:`.ledger` — :class:`SLWriter`: one database transaction per SL batch (lock, re-filter against the
  ledger, number, build, insert, preflight, commit), the step hooks and periods;
* :mod:`.payments` (§2 customer payments), :mod:`.refunds` (§3 credit/debit memos),
  :mod:`.settlements` (§5 deposit GL entries), :mod:`.voids` (§4 removing voided documents),
  :mod:`.chargebacks` (§9 one case stage at a time);
* :mod:`.row_builders` — audit/currency columns, ``xPTLedger``, ``Batch``, ``ARDoc``, ``ARTran`` (memo,
  application line) and ``GLTran`` rows;
* :mod:`.bulk` — the insert path (executemany or PostgreSQL ``COPY``) and refused items' review rows;
* :mod:`.core` — settings and shared helpers; :mod:`.model` — results, errors, constants.

The generated SQL stays in :mod:`paytrace_sl.sl.writer_sql` (golden T-SQL). Every name below was
importable from the single ``paytrace_sl.sl.writer`` module before the split and still is.
"""

from __future__ import annotations

from paytrace_sl.sl.writer.ledger import SLWriter
from paytrace_sl.sl.writer.model import (
    CENT,
    COPY_CHUNK_LINES,
    COPY_THRESHOLD,
    FIRST_LINE_NBR,
    SCREEN_GL_JOURNAL,
    SCREEN_INVOICE_MEMO,
    SCREEN_PAYMENT,
    BatchResult,
    Item,
    ItemOutcome,
    PreflightFailed,
    StepHook,
    WriterError,
    WriteResult,
    content_hash,
    fit_text,
)

__all__ = [
    "CENT",
    "COPY_CHUNK_LINES",
    "COPY_THRESHOLD",
    "FIRST_LINE_NBR",
    "SCREEN_GL_JOURNAL",
    "SCREEN_INVOICE_MEMO",
    "SCREEN_PAYMENT",
    "BatchResult",
    "Item",
    "ItemOutcome",
    "PreflightFailed",
    "SLWriter",
    "StepHook",
    "WriteResult",
    "WriterError",
    "content_hash",
    "fit_text",
]
