"""PayTrace transactions → Dynamics SL payments, one data interval per run (wiring only).

Every task calls one step of :mod:`paytrace_sl.pipeline.runner` for the run's window and returns its
small JSON summary (XCom). The timetable is an explicit *data-interval* timetable in the merchant's time
zone — a plain cron string would give zero-width intervals in Airflow 3 — hourly by default
(``PAYTRACE_SL_INTERVAL=daily`` for daily runs). Each run also re-reads the configured look-back so late
records are caught; the writer's ledger makes overlapping windows, retries and backfills (any
``--reprocess-behavior``) post each PayTrace transaction once.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag

from paytrace_sl_airflow.dag_support import (
    default_task_args,
    end_date,
    max_active_runs,
    merchant_timezone,
    payments_interval,
    start_date,
    step_task,
)

DAG_ID = "paytrace_payments_to_sl"


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable(payments_interval().cron, timezone=merchant_timezone()),
    start_date=start_date(),
    end_date=end_date(),
    catchup=True,
    max_active_runs=max_active_runs(),  # 1 unless PAYTRACE_SL_MAX_ACTIVE_RUNS (docs/operations.md)
    default_args=default_task_args(),
    tags=["paytrace", "dynamics-sl"],
    doc_md=__doc__,
)
def paytrace_payments_to_sl() -> None:
    # one task per library step (paytrace_sl.pipeline.runner.PAYMENT_STEPS, in that order)
    extract = step_task(DAG_ID, "extract")
    validate = step_task(DAG_ID, "validate")
    score_fraud = step_task(DAG_ID, "score_fraud")
    transform = step_task(DAG_ID, "transform")
    load = step_task(DAG_ID, "load")
    preflight = step_task(DAG_ID, "preflight")
    summarize = step_task(DAG_ID, "summarize")

    extract >> validate >> score_fraud >> transform >> load >> preflight >> summarize


paytrace_payments_to_sl()
