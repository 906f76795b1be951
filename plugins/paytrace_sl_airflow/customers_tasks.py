"""Task callables of ``paytrace_customers_to_sl``: the bridge from an Airflow task to
:mod:`paytrace_sl.customers.steps` (parse-time code only reads names; the work runs in the task)."""

from __future__ import annotations

import logging
from typing import Any

from paytrace_sl_airflow.dag_support import pipeline_config, pipeline_run_id, window_from_context, with_try

log = logging.getLogger(__name__)

DAG_ID = "paytrace_customers_to_sl"

# task id → the task's doc (shown in the UI); the order is the chain's
CUSTOMER_TASKS: dict[str, str] = {
    "export_profiles": "PayTrace vault export → parsed profiles (last four card digits only); bad ones → "
    "dead letters.",
    "link_profiles": "Each profile linked to its SL customer: exact id, cross-reference, or assisted "
    "matching (auto-link above the threshold, else a suggestion); optionally the SL customer created.",
    "expiring_cards": "Vault cards expiring within customers.expiring_days for customers with open "
    "invoices (what an AR clerk chases).",
    "summarize": "The run's xPTRun row with every step's counts.",
}


def run_customer_step(step: str, dag_id: str = DAG_ID) -> dict[str, Any]:
    """Run one customer step for the current task's window and run id; returns its small summary."""
    from airflow.sdk import get_current_context

    from paytrace_sl.customers import steps
    from paytrace_sl.logging_setup import install_redaction
    from paytrace_sl.pipeline.bookkeeping import record_failure

    install_redaction()
    context = get_current_context()
    cfg = with_try(pipeline_config(dag_id), context)
    window = window_from_context(context, cfg.timezone)
    run_id = pipeline_run_id(dag_id, str(context["run_id"]))
    log.info("%s for %s (run %s)", step, window.label, run_id)
    try:
        return dict(steps.CUSTOMER_STEPS)[step](cfg, window, run_id)
    except Exception as exc:
        if step == "summarize":
            record_failure(cfg, window, run_id, exc)
        raise


def customer_task(step: str) -> Any:
    """Inside the ``@dag`` function: the ``@task`` of ``step`` (called with the upstream's output)."""
    from airflow.sdk import task

    def run(_upstream: Any = None) -> dict[str, Any]:
        return run_customer_step(step)

    run.__name__ = step
    run.__qualname__ = f"{DAG_ID}.<locals>.{step}"
    run.__doc__ = CUSTOMER_TASKS[step]
    return task(task_id=step, doc_md=CUSTOMER_TASKS[step])(run)
