"""Processor chargeback/retrieval files → Dynamics SL (wiring only; docs/accounting.md §9).

Started by a file's arrival: each run waits on the inbox folder (``PAYTRACE_SL_CHARGEBACKS_DIR/inbox``,
the standard provider's FileSensor in reschedule mode), then imports every waiting file (each case stage
once: DM + fee entry, won payment, lost review) and moves it to ``done/`` or ``failed/``. The schedule is
continuous with one active run, so the next run waits for the next file. Bad rows go to xPTDeadLetter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task

from paytrace_sl_airflow.chargebacks import InboxFileSensor, run_chargeback_import
from paytrace_sl_airflow.dag_support import default_task_args, start_date

DAG_ID = "paytrace_chargebacks_to_sl"


@dag(
    dag_id=DAG_ID,
    schedule="@continuous",
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=default_task_args(),
    tags=["paytrace", "dynamics-sl", "chargebacks"],
    doc_md=__doc__,
)
def paytrace_chargebacks_to_sl() -> None:
    wait = InboxFileSensor(
        task_id="wait_for_file",
        mode="reschedule",
        poke_interval=60,
        timeout=dt.timedelta(hours=6).total_seconds(),
        soft_fail=True,  # no file for 6 hours: the run is skipped and the next one waits again
    )

    @task(multiple_outputs=False)  # one XCom, the summary (dag_support.step_task)
    def import_files() -> dict[str, Any]:
        """Import each waiting file into SL, exactly once per case and stage."""
        return run_chargeback_import(DAG_ID)

    wait >> import_files()


paytrace_chargebacks_to_sl()
