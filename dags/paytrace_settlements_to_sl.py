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
    report_waits_for_payments,
    start_date,
    step_chain,
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
    # extract_batches → plan_settlements → load_settlements → reconcile → summarize → report
    # (runner.SETTLEMENT_STEPS); before the report, a sensor waits for the day's payments runs
    report_waits_for_payments(step_chain(DAG_ID, "settlements"))


paytrace_settlements_to_sl()
