"""PayTrace recurring schedules → our xPTRecurSched / xPTRecurPay mirror (wiring only; issue 16 §3).

Daily in the merchant's time zone. ``refresh_schedules`` exports the schedules and their approved
payments and links each schedule to its SL customer; ``recurring_overview`` reads upcoming and failed
charges back. Nothing is posted here: a recurring charge is an ordinary PayTrace sale that
``paytrace_payments_to_sl`` posts once (docs/recurring.md).
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from paytrace_sl_airflow.dag_support import default_task_args, end_date, merchant_timezone, start_date
from paytrace_sl_airflow.recurring import DAG_ID, refresh_schedules, show_overview


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone=merchant_timezone()),
    start_date=start_date(),
    end_date=end_date(),
    catchup=False,  # a mirror of PayTrace's current state: only the latest run matters
    max_active_runs=1,
    default_args=default_task_args(),
    tags=["paytrace", "dynamics-sl", "recurring"],
    doc_md=__doc__,
)
def paytrace_recurring_to_sl() -> None:
    # one XCom per task, the summary (dag_support.step_task)
    refresh = task(task_id="refresh_schedules", multiple_outputs=False)(refresh_schedules)()
    overview = task(task_id="recurring_overview", multiple_outputs=False)(show_overview)()
    refresh >> overview


paytrace_recurring_to_sl()
