"""The pipeline's public names in one place (a façade kept for existing imports: CLI, DAG support, tests).

The code lives in:

* :mod:`~paytrace_sl.pipeline.config` — :class:`PipelineConfig`, DAG ids, the look-back rule;
* :mod:`~paytrace_sl.pipeline.context` — :class:`RunContext` (engine, mapping, schema check, landing
  folder: once per task) and :func:`as_step`;
* :mod:`~paytrace_sl.pipeline.summaries` — one frozen dataclass per step summary (strict JSON);
* :mod:`~paytrace_sl.pipeline.files` — the landing file names;
* :mod:`~paytrace_sl.pipeline.bookkeeping` — our xPT* rows (dead letters, skips, reviews, run log, totals);
* :mod:`~paytrace_sl.pipeline.flows.payments` / :mod:`~.flows.settlements` / :mod:`~.flows.replay` —
  the steps; :mod:`~paytrace_sl.pipeline.flows.run` — all steps of a window in one process.

Steps of ``paytrace_payments_to_sl``: :func:`extract_step` → :func:`validate_step` →
:func:`transform_step` → :func:`load_step` → :func:`preflight_step` → :func:`summarize_step`.
"""

from __future__ import annotations

from paytrace_sl.pipeline.bookkeeping import (
    mark_replayed,
    open_dead_letters,
    recent_window_counts,
    record_dead_letters,
    record_failure,
    record_reviews,
    record_run,
    record_skips,
    totals,
)
from paytrace_sl.pipeline.config import (
    DEFAULT_LOOKBACK,
    DEFAULT_MAPPING,
    DEFAULT_VAR,
    PAYMENTS_DAG_ID,
    REPLAY_DAG_ID,
    REPO_ROOT,
    SETTLEMENTS_DAG_ID,
    PipelineConfig,
    PipelineError,
    lookback_of,
    with_dag,
)
from paytrace_sl.pipeline.context import RunContext, Step, engine_for
from paytrace_sl.pipeline.dead_letters import parse_failure_letter
from paytrace_sl.pipeline.files import (
    BATCH_TX_FILE,
    BATCHES_FILE,
    OUTCOME_FILE,
    PLAN_FILE,
    REJECTS_FILE,
    SETTLE_PLAN_FILE,
    SETTLE_REVIEW_FILE,
    SL_BATCHES_FILE,
    TX_FILE,
    VALIDATED_FILE,
)
from paytrace_sl.pipeline.flows.payments import (
    PAYMENT_STEPS,
    extract_step,
    load_step,
    preflight_step,
    summarize_step,
    transform_step,
    validate_step,
)
from paytrace_sl.pipeline.flows.replay import NothingToReplay, closed_letters_text, replay
from paytrace_sl.pipeline.flows.run import run_settlements, run_steps, run_window
from paytrace_sl.pipeline.flows.settlements import (
    SETTLEMENT_STEPS,
    reconcile_step,
    report_dir_name,
    report_step,
    settle_extract_step,
    settle_load_step,
    settle_summarize_step,
    settle_transform_step,
)
from paytrace_sl.settings import reports_dir

_record_failure = record_failure  # the old private name (dag_support before the split)

__all__ = [
    "BATCHES_FILE",
    "BATCH_TX_FILE",
    "DEFAULT_LOOKBACK",
    "DEFAULT_MAPPING",
    "DEFAULT_VAR",
    "OUTCOME_FILE",
    "PAYMENTS_DAG_ID",
    "PAYMENT_STEPS",
    "PLAN_FILE",
    "REJECTS_FILE",
    "REPLAY_DAG_ID",
    "REPO_ROOT",
    "SETTLEMENTS_DAG_ID",
    "SETTLEMENT_STEPS",
    "SETTLE_PLAN_FILE",
    "SETTLE_REVIEW_FILE",
    "SL_BATCHES_FILE",
    "TX_FILE",
    "VALIDATED_FILE",
    "NothingToReplay",
    "PipelineConfig",
    "PipelineError",
    "RunContext",
    "Step",
    "closed_letters_text",
    "engine_for",
    "extract_step",
    "load_step",
    "lookback_of",
    "mark_replayed",
    "open_dead_letters",
    "parse_failure_letter",
    "preflight_step",
    "recent_window_counts",
    "reconcile_step",
    "record_dead_letters",
    "record_failure",
    "record_reviews",
    "record_run",
    "record_skips",
    "replay",
    "report_dir_name",
    "report_step",
    "reports_dir",
    "run_settlements",
    "run_steps",
    "run_window",
    "settle_extract_step",
    "settle_load_step",
    "settle_summarize_step",
    "settle_transform_step",
    "summarize_step",
    "totals",
    "transform_step",
    "validate_step",
    "with_dag",
]
