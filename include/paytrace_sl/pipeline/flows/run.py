"""All steps of a window in this process (``paytrace-sl sync``, the replay, the tests): the Airflow DAGs
run the same steps one task each (``paytrace_sl_airflow.dag_support.run_payment_step``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from paytrace_sl.pipeline.bookkeeping import record_failure
from paytrace_sl.pipeline.config import (
    PAYMENTS_DAG_ID,
    REPLAY_DAG_ID,
    SETTLEMENTS_DAG_ID,
    PipelineConfig,
    with_dag,
)
from paytrace_sl.pipeline.context import Step
from paytrace_sl.pipeline.flows.payments import PAYMENT_STEPS
from paytrace_sl.pipeline.flows.settlements import SETTLEMENT_STEPS
from paytrace_sl.pipeline.windows import Window

OnStep = Callable[[str, dict[str, Any]], None]
"""Called after each step with its name and JSON summary (the CLI's progress lines)."""


def run_steps(
    cfg: PipelineConfig,
    steps: Sequence[tuple[str, Step]],
    window: Window,
    run_id: str,
    on_step: OnStep | None = None,
) -> dict[str, Any]:
    """Run ``steps`` in order in this process; a failure is recorded in ``xPTRun`` and notified."""
    summary: dict[str, Any] = {}
    try:
        for name, step in steps:
            summary = step(cfg, window, run_id)
            if on_step is not None:
                on_step(name, summary)
    except Exception as exc:
        record_failure(cfg, window, run_id, exc)
        raise
    return summary


def run_window(
    cfg: PipelineConfig, window: Window, run_id: str, on_step: OnStep | None = None
) -> dict[str, Any]:
    """All payment steps for one window in-process (what ``sync`` runs); returns the summary."""
    return run_steps(
        with_dag(cfg, PAYMENTS_DAG_ID) if cfg.dag_id == REPLAY_DAG_ID else cfg,
        PAYMENT_STEPS,
        window,
        run_id,
        on_step,
    )


def run_settlements(
    cfg: PipelineConfig, window: Window, run_id: str, on_step: OnStep | None = None
) -> dict[str, Any]:
    """All settlement steps for one window in-process; returns the settlement summary."""
    return run_steps(with_dag(cfg, SETTLEMENTS_DAG_ID), SETTLEMENT_STEPS, window, run_id, on_step)
