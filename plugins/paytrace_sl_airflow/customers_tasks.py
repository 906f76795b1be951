"""Task callables of ``paytrace_customers_to_sl``: the bridge from an Airflow task to
:mod:`paytrace_sl.customers.steps` (parse-time code only reads names; the work runs in the task)."""

from __future__ import annotations

from typing import Any

from paytrace_sl_airflow.dag_support import run_window_step

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
    from paytrace_sl.customers import steps

    return run_window_step(dag_id, step, dict(steps.CUSTOMER_STEPS), ("summarize",))


def customer_task(step: str) -> Any:
    """Inside the ``@dag`` function: the ``@task`` of ``step`` (called with the upstream's output)."""
    from airflow.sdk import task

    def run(_upstream: Any = None) -> dict[str, Any]:
        return run_customer_step(step)

    run.__name__ = step
    run.__qualname__ = f"{DAG_ID}.<locals>.{step}"
    run.__doc__ = CUSTOMER_TASKS[step]
    # one XCom, the summary, which the next step receives (dag_support.step_task)
    return task(task_id=step, doc_md=CUSTOMER_TASKS[step], multiple_outputs=False)(run)
