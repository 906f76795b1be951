"""Settled PayTrace batches → settlement GL entries in Dynamics SL → per-batch reconciliation (wiring only).

Daily, one merchant day per run (data-interval timetable in the merchant's time zone, so a DST day is
23 or 25 hours). Steps live in :mod:`paytrace_sl.pipeline.runner`; the writer's ledger makes reruns and
backfills post each settlement once. The auditor report of day D waits (a sensor) until the payments
DAG has finished day D, so it never shows a day whose payments are still being posted.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag

from paytrace_sl_airflow.dag_support import (
    default_task_args,
    end_date,
    max_active_runs,
    merchant_timezone,
    start_date,
    step_task,
    wait_for_payments,
)

DAG_ID = "paytrace_settlements_to_sl"


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=merchant_timezone()),
    start_date=start_date(),
    end_date=end_date(),
    catchup=True,
    max_active_runs=max_active_runs(),  # 1 unless PAYTRACE_SL_MAX_ACTIVE_RUNS (docs/operations.md)
    default_args=default_task_args(),
    tags=["paytrace", "dynamics-sl", "settlement"],
    doc_md=__doc__,
)
def paytrace_settlements_to_sl() -> None:
    # one task per library step (paytrace_sl.pipeline.runner.SETTLEMENT_STEPS, in that order)
    extract_batches = step_task(DAG_ID, "settle_extract")
    plan_settlements = step_task(DAG_ID, "settle_transform")
    load_settlements = step_task(DAG_ID, "settle_load")
    reconcile = step_task(DAG_ID, "reconcile")
    summarize = step_task(DAG_ID, "settle_summarize")
    report = step_task(DAG_ID, "report")
    # a sensor: the auditor report of day D waits until the payments DAG has posted day D; it starts
    # when the summary is done, so it pokes only while the report is actually due
    payments_posted = wait_for_payments()

    extract_batches >> plan_settlements >> load_settlements >> reconcile >> summarize >> report
    summarize >> payments_posted >> report


paytrace_settlements_to_sl()
