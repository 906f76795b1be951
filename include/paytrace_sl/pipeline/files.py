"""Every file a run's steps hand each other in the landing area (``<landing_dir>/<run>/``), in one table.

A step writes its output here and returns only counts (:mod:`~paytrace_sl.pipeline.summaries`); the
next step (another process under Airflow) reads it back. ``<step>.json`` is each step's summary
(:func:`summary_file`).
"""

from __future__ import annotations

# payments (paytrace_payments_to_sl, replay)
WINDOW_FILE = "window.json"  # the window (and fetch range or the replayed dead-letter ids)
TX_FILE = "transactions.jsonl"  # extract: parsed records of the fetch range
REJECTS_FILE = "rejects.jsonl"  # extract: records set aside (id, field, reason; never the value)
VALIDATED_FILE = "validated.jsonl"  # validate: rows that passed the checks
PLAN_FILE = "plan.jsonl"  # transform: the posting plan, one batch head or item per line
LEGACY_PLAN_FILE = "plan.json"  # the plan as one JSON document (before issue 17); load still reads it
OUTCOME_FILE = "transform_outcome.json"  # transform: posted/already posted/skipped/review per record
SL_BATCHES_FILE = "sl_batches.json"  # load / settle_load: the SL batches written (preflight re-checks)

# settlements (paytrace_settlements_to_sl)
BATCHES_FILE = "batches.json"  # settle_extract: settled batches
BATCH_TX_FILE = "batch_transactions.jsonl"  # settle_extract: each batch's transactions
SETTLE_PLAN_FILE = "settlement_plan.json"  # settle_transform: GL settlement plan
SETTLE_REVIEW_FILE = "settlement_review.json"  # settle_transform: batches not planned (review items)
RECONCILIATION_FILE = "reconciliation.json"  # reconcile: one record per batch

LANDING_FILES: dict[str, str] = {
    WINDOW_FILE: "extract",
    TX_FILE: "extract",
    REJECTS_FILE: "extract",
    VALIDATED_FILE: "validate",
    PLAN_FILE: "transform",
    LEGACY_PLAN_FILE: "transform (before issue 17)",
    OUTCOME_FILE: "transform",
    SL_BATCHES_FILE: "load, settle_load",
    BATCHES_FILE: "settle_extract",
    BATCH_TX_FILE: "settle_extract",
    SETTLE_PLAN_FILE: "settle_transform",
    SETTLE_REVIEW_FILE: "settle_transform",
    RECONCILIATION_FILE: "reconcile",
}
"""File name → the step that writes it."""


def summary_file(step: str) -> str:
    """``<step>.json``: the step's summary, as returned to Airflow (XCom) and read by later steps."""
    return f"{step}.json"
