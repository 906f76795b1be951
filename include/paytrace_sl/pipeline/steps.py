"""The names and order of the pipeline steps: one definition for the runner and the DAG files.

Deliberately import-free (the DAG processor reads it on every parse, see
``paytrace_sl_airflow.dag_support.step_task``); :mod:`paytrace_sl.pipeline.flows.payments` and
:mod:`~paytrace_sl.pipeline.flows.settlements` pair each name with its step function in ``PAYMENT_STEPS`` /
``SETTLEMENT_STEPS`` (re-exported by :mod:`paytrace_sl.pipeline.runner`).
"""

from __future__ import annotations

PAYMENT_STEP_NAMES: tuple[str, ...] = (
    "extract",
    "validate",
    "score_fraud",
    "transform",
    "load",
    "preflight",
    "summarize",
)
SETTLEMENT_STEP_NAMES: tuple[str, ...] = (
    "settle_extract",
    "settle_transform",
    "settle_load",
    "reconcile",
    "settle_summarize",
    "report",
)
