"""Re-process after a fix: dead letters by id, or a range of merchant days (manual runs only).

Trigger with Params: ``dead_letter_ids`` (list of ``xPTDeadLetter.id``) and/or ``start_date`` and
``end_date`` (``YYYY-MM-DD``, end exclusive). The window comes from the Params, never from the run's
logical date (manual runs have no meaningful data interval). Posting stays exactly-once.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from paytrace_sl_airflow.dag_support import default_task_args, run_replay, start_date

DAG_ID = "paytrace_sl_replay"


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=default_task_args(),
    tags=["paytrace", "dynamics-sl", "replay"],
    doc_md=__doc__,
    params={
        "dead_letter_ids": Param(
            [],
            type="array",
            items={"type": "integer"},
            description="xPTDeadLetter ids to re-fetch and re-process",
        ),
        "start_date": Param(
            None, type=["null", "string"], format="date", description="first merchant day (YYYY-MM-DD)"
        ),
        "end_date": Param(
            None, type=["null", "string"], format="date", description="day after the last one (exclusive)"
        ),
    },
)
def paytrace_sl_replay() -> None:
    @task(multiple_outputs=False)  # one XCom, the summary (dag_support.step_task)
    def replay() -> dict[str, Any]:
        """Run the payment steps again for the chosen records or days; close dead letters that now pass."""
        return run_replay(DAG_ID)

    replay()


paytrace_sl_replay()
