"""PayTrace vault profiles → SL customer links, suggestions and expiring cards (wiring only).

Daily, one merchant day per run, backfillable like the other DAGs. The vault export has no date filter:
each run reads the vault as it is and links every profile to its SL customer (exact id, cross-reference,
or assisted matching above the mapping's threshold; below it a suggestion waits on the workbench).
``customers: create_missing`` (off by default) creates the SL customer of a profile with no match.
The run's last day is the "today" of the expiring-cards list. Steps: :mod:`paytrace_sl.customers.steps`.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag

from paytrace_sl_airflow.customers_tasks import DAG_ID, customer_task
from paytrace_sl_airflow.dag_support import (
    default_task_args,
    end_date,
    max_active_runs,
    merchant_timezone,
    start_date,
)


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=merchant_timezone()),
    start_date=start_date(),
    end_date=end_date(),
    catchup=True,
    max_active_runs=max_active_runs(),
    default_args=default_task_args(),
    tags=["paytrace", "dynamics-sl", "customers"],
    doc_md=__doc__,
)
def paytrace_customers_to_sl() -> None:
    exported = customer_task("export_profiles")()
    linked = customer_task("link_profiles")(exported)
    expiring = customer_task("expiring_cards")(linked)
    summary = customer_task("summarize")(expiring)
    exported >> linked >> expiring >> summary


paytrace_customers_to_sl()
