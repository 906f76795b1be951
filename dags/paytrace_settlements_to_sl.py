"""Settled PayTrace batches → settlement GL entries in Dynamics SL → per-batch reconciliation (wiring only).

Daily, one merchant day per run (data-interval timetable in the merchant's time zone, so a DST day is
23 or 25 hours). Steps live in :mod:`paytrace_sl.pipeline.runner`; the writer's ledger makes reruns and
backfills post each settlement once.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, task

from paytrace_sl_airflow.dag_support import (
    default_task_args,
    end_date,
    merchant_timezone,
    run_payment_step,
    start_date,
)

DAG_ID = "paytrace_settlements_to_sl"


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=merchant_timezone()),
    start_date=start_date(),
    end_date=end_date(),
    catchup=True,
    max_active_runs=1,
    default_args=default_task_args(),
    tags=["paytrace", "dynamics-sl", "settlement"],
    doc_md=__doc__,
)
def paytrace_settlements_to_sl() -> None:
    @task
    def extract_batches() -> dict[str, Any]:
        """Settled batches of the day (plus look-back) and each batch's transaction list."""
        return run_payment_step("settle_extract", DAG_ID)

    @task
    def plan_settlements(_upstream: Any) -> dict[str, Any]:
        """One GL entry per batch and clearing account: clearing → bank."""
        return run_payment_step("settle_transform", DAG_ID)

    @task
    def load_settlements(_upstream: Any) -> dict[str, Any]:
        """Write the GL batches on Hold through the exactly-once writer."""
        return run_payment_step("settle_load", DAG_ID)

    @task
    def reconcile(_upstream: Any) -> dict[str, Any]:
        """PayTrace batch count/net vs posted ledger rows → xPTRecon (matched, or the cents and why)."""
        return run_payment_step("reconcile", DAG_ID)

    @task
    def summarize(_upstream: Any) -> dict[str, Any]:
        """The run's xPTRun row; a notification when a batch does not reconcile."""
        return run_payment_step("settle_summarize", DAG_ID)

    @task
    def report(_upstream: Any) -> dict[str, Any]:
        """The auditor report for the day (HTML + CSV/JSON), listed on the PayTrace → SL UI page."""
        return run_payment_step("report", DAG_ID)

    report(summarize(reconcile(load_settlements(plan_settlements(extract_batches())))))


paytrace_settlements_to_sl()
