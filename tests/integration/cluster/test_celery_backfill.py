"""Both DAGs backfilled on a real CeleryExecutor cluster: Redis broker, two ``airflow celery worker``s.

The cluster (``tests/support/airflow_cluster.py``) is what a production deployment runs: api-server,
scheduler, dag-processor and two Celery workers on PostgreSQL metadata, on loopback. Three merchant days
of payments and settlements are backfilled at once with ``--max-active-runs 2`` (windows in parallel,
the mapping's 3-day look-backs overlapping), so two workers write to one SL database at the same time.
Checked afterwards: nothing lost, nothing posted twice, unique SL batch numbers; every task ran on one
of the two Celery workers (and both worked); the auditor report of each day started only after that
day's payments run had finished.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from airflow_cluster import CELERY, AirflowCluster, pg_dsn, sandbox_process
from ledger_audit import audit_ledger, expected_transactions
from sl_replica import new_pg_database

from paytrace_sl.pipeline.steps import PAYMENT_STEP_NAMES, SETTLEMENT_STEP_NAMES

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

LA = "America/Los_Angeles"
MERCHANT = {"seed": 11, "start": "2025-04-01", "days": 5, "tx_per_day": 25, "timezone": LA}
FIRST_DAY = dt.date(2025, 4, 2)
DAYS = 3
PAYMENTS, SETTLEMENTS = "paytrace_payments_to_sl", "paytrace_settlements_to_sl"


@pytest.fixture
def seeded_sl() -> Iterator[str]:
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.sl_seed import init_sandbox

    with new_pg_database() as url:
        init_sandbox(url, MerchantConfig(**dict(MERCHANT, start=dt.date.fromisoformat(MERCHANT["start"]))))
        yield url


def test_three_days_of_both_dags_on_two_celery_workers(seeded_sl: str, tmp_path: Path) -> None:
    from paytrace_sl_sandbox.demo import write_sandbox_mapping

    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=3).ping()
    except redis.exceptions.ConnectionError:
        if not __import__("os").environ.get("CI"):
            pytest.skip("no Redis on 127.0.0.1:6379")
        raise
    mapping = write_sandbox_mapping(tmp_path / "mapping.yaml", unidentified_receipts=True)
    tz = ZoneInfo(LA)
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(DAYS)]
    windows = [
        (dt.datetime.combine(d, dt.time(), tz), dt.datetime.combine(d + dt.timedelta(days=1), dt.time(), tz))
        for d in days
    ]
    with sandbox_process(MERCHANT) as paytrace_url:
        env = {
            "AIRFLOW_CONN_PAYTRACE_DEFAULT": json.dumps(
                {
                    "conn_type": "paytrace",
                    "host": paytrace_url,
                    "login": "sandbox",
                    "password": "sandbox-password",
                    "extra": {"timezone": LA, "requests_per_second": 0},
                }
            ),
            "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT": json.dumps(
                {"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": seeded_sl}}
            ),
            "PAYTRACE_TIMEZONE": LA,
            "PAYTRACE_SL_INTERVAL": "daily",
            "PAYTRACE_SL_START_DATE": "2099-01-01",  # after every window: no catch-up runs of its own
            "PAYTRACE_SL_MAPPING": str(mapping),
            "PAYTRACE_SL_LANDING_DIR": str(tmp_path / "landing"),
            "PAYTRACE_SL_GX_DIR": str(tmp_path / "gx"),
            "PAYTRACE_SL_REPORTS_DIR": str(tmp_path / "reports"),
            "PAYTRACE_SL_RETRIES": "0",  # a failure must show, not hide behind a retry
            "PAYTRACE_SL_PAYMENTS_WAIT_POKE_SECONDS": "10",
        }
        with AirflowCluster(tmp_path / "cluster", executor=CELERY, workers=2, extra_env=env) as cluster:
            cluster.wait_dag_parsed(PAYMENTS, cron="0 0 * * *")
            cluster.wait_dag_parsed(SETTLEMENTS)
            first, last = windows[0][0].isoformat(), windows[-1][0].isoformat()
            # settlements first: their reports must wait for payments runs that have not even started
            ids = {
                cluster.backfill(SETTLEMENTS, first, last, max_active_runs=2): DAYS,
                cluster.backfill(PAYMENTS, first, last, max_active_runs=2): DAYS,
            }
            states = cluster.wait_backfills(ids, timeout=300)
            tis = cluster.task_instances()
            workers_by_celery_id = cluster.celery_task_workers()
            queue = cluster.queue
            meta_dsn = pg_dsn(cluster.meta_db)
            with psycopg.connect(meta_dsn) as conn:
                # payments runs that were running at the same time (windows in parallel)
                overlap = conn.execute(
                    "SELECT count(*) FROM dag_run a JOIN dag_run b ON a.dag_id = b.dag_id "
                    "AND a.run_id < b.run_id AND a.start_date < b.end_date AND b.start_date < a.end_date "
                    "WHERE a.dag_id = %s",
                    (PAYMENTS,),
                ).fetchone()

    assert all(s == {"success": DAYS} for s in states.values()), states
    # payments: one task per step; settlements: one per step plus the sensor waiting for the day's payments
    per_day = len(PAYMENT_STEP_NAMES) + len(SETTLEMENT_STEP_NAMES) + 1
    assert len(tis) == DAYS * per_day, [(t["dag_id"], t["task_id"]) for t in tis]
    assert {t["state"] for t in tis} == {"success"}, [(t["task_id"], t["state"]) for t in tis]
    # every task went through Celery on this cluster's queue and was received by one of the two workers
    assert {t["queue"] for t in tis} == {queue}
    ran_on = {t["external_executor_id"]: workers_by_celery_id.get(t["external_executor_id"]) for t in tis}
    assert None not in ran_on.values(), ran_on
    assert set(ran_on.values()) == {"worker1", "worker2"}, ran_on

    # the report of day D started after the payments run of day D had finished
    payments_end = {t["interval_start"]: t["run_end"] for t in tis if t["dag_id"] == PAYMENTS}
    reports = [t for t in tis if t["dag_id"] == SETTLEMENTS and t["task_id"] == "report"]
    assert len(reports) == DAYS
    for report in reports:
        assert report["start"] >= payments_end[report["interval_start"]], report

    # exactly once, with windows really running in parallel (overlapping look-backs)
    assert overlap is not None and overlap[0] >= 1, "max_active_runs 2 ran no two payments windows at once"
    lookback = dt.timedelta(days=3)  # the shipped mapping's window.lookback_days
    audit = audit_ledger(
        pg_dsn(seeded_sl.rsplit("/", 1)[1]), expected_transactions(MERCHANT, windows, lookback)
    )
    assert all(audit["checks"].values()), audit
    assert audit["posted_transactions"] > 0 and audit["ledger_by_kind"].get("settlement", 0) > 0, audit
    with psycopg.connect(pg_dsn(seeded_sl.rsplit("/", 1)[1])) as conn:
        recon = conn.execute("SELECT count(*) FROM xptrecon").fetchone()
        runs = dict(conn.execute("SELECT dag_id, count(*) FROM xptrun GROUP BY dag_id").fetchall())
    assert recon is not None and recon[0] > 0
    # both DAGs' runs of a day have the same Airflow run id (backfill__<date>): one xPTRun row each
    assert runs == {PAYMENTS: DAYS, SETTLEMENTS: DAYS}, runs
    reports_dir = tmp_path / "reports"
    assert sorted(p.name for p in reports_dir.iterdir()) == [d.isoformat() for d in days]
