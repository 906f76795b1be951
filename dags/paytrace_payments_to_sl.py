"""PayTrace transactions → Dynamics SL payments, one data interval per run (wiring only).

Every task calls one step of :mod:`paytrace_sl.pipeline.runner` for the run's window and returns its
small JSON summary (XCom). The timetable is an explicit *data-interval* timetable in the merchant's time
zone — a plain cron string would give zero-width intervals in Airflow 3 — hourly by default
(``PAYTRACE_SL_INTERVAL=daily`` for daily runs). Each run also re-reads the configured look-back so late
records are caught; the writer's ledger makes overlapping windows, retries and backfills (any
``--reprocess-behavior``) post each PayTrace transaction once.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, task

from paytrace_sl_airflow.dag_support import (
    default_task_args,
    end_date,
    merchant_timezone,
    payments_interval,
    run_payment_step,
    start_date,
)

DAG_ID = "paytrace_payments_to_sl"


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable(payments_interval().cron, timezone=merchant_timezone()),
    start_date=start_date(),
    end_date=end_date(),
    catchup=True,
    max_active_runs=1,  # windows overlap by the look-back; one at a time keeps SL batches tidy
    default_args=default_task_args(),
    tags=["paytrace", "dynamics-sl"],
    doc_md=__doc__,
)
def paytrace_payments_to_sl() -> None:
    @task
    def extract() -> dict[str, Any]:
        """PayTrace export of the window plus look-back → landing file; unparseable records → dead letters."""
        return run_payment_step("extract", DAG_ID)

    @task
    def validate(_upstream: Any) -> dict[str, Any]:
        """Great Expectations checks from the data contract; bad rows → dead letters."""
        return run_payment_step("validate", DAG_ID)

    @task
    def transform(_upstream: Any) -> dict[str, Any]:
        """Records + SL customers/invoices + mapping.yaml → posting plan."""
        return run_payment_step("transform", DAG_ID)

    @task
    def load(_upstream: Any) -> dict[str, Any]:
        """Write SL batches on Hold through the exactly-once writer."""
        return run_payment_step("load", DAG_ID)

    @task
    def preflight(_upstream: Any) -> dict[str, Any]:
        """SL's release checks on the batches this run wrote."""
        return run_payment_step("preflight", DAG_ID)

    @task
    def summarize(_upstream: Any) -> dict[str, Any]:
        """Row accounting, the run's xPTRun row, and a notification if items await a person."""
        return run_payment_step("summarize", DAG_ID)

    summarize(preflight(load(transform(validate(extract())))))


paytrace_payments_to_sl()
