"""Benchmark through real Airflow: LocalExecutor and CeleryExecutor (two workers) in the same run.

For each executor and measurement, a fresh Airflow deployment (``tests/support/airflow_cluster.py``:
api-server, scheduler, dag-processor, and with Celery two ``airflow celery worker`` processes on a Redis
broker; a new PostgreSQL metadata database), its own PayTrace sandbox (HTTP, own process) and its own SL
sandbox in a fresh PostgreSQL database. Everything is created here and dropped at the end.

(a) **hourly**: one hourly window of ``paytrace_payments_to_sl`` holding ~10,000 transactions. The
    sandbox merchant puts a whole day's slots into the local hour 12:00-13:00 (``busy_hour``); the run
    keeps its window plus the look-back, i.e. exactly that hour's records; created with ``airflow
    backfill create`` for that one logical date.
(b) **backfill**: ``airflow backfill create`` of N daily windows of BOTH DAGs at once (payments and
    settlements; default 1,000 transactions a day, the mapping's 3-day look-back), ``--max-active-runs``
    as given (``--max-active-runs 1,2`` measures both, one after the other, each on a fresh SL).

The payments interval (hourly/daily) is read from the environment at parse time, one more reason for a
deployment per measurement. The DAGs' start date is after the benchmark windows, so the scheduler
creates no catch-up runs of its own: the only runs are the backfills'.

Reported per executor and phase: wall time from ``backfill create`` to the last run's success; per run
and per task (payments DAG: metadata DB durations and, from the task logs, start-up / library step /
wrap-up); settlements DAG: run walls and its wait for payments. Correctness against the sandbox
(``tests/support/ledger_audit.py``): every transaction of the fetched ranges accounted for and nothing
else, no ledger key twice, ARDoc rows = ledger AR documents, unique batch numbers, every run and task
succeeded on its first try. A closing table compares the executors.

    .venv/bin/python bench/bench_airflow.py                                   # both executors, (a) + (b)
    .venv/bin/python bench/bench_airflow.py --executors celery --only backfill --backfill-days 7
    .venv/bin/python bench/bench_airflow.py --max-active-runs 1,2 --markdown /tmp/airflow.md

Needs PostgreSQL on 127.0.0.1:5432 (``PAYTRACE_SL_TEST_PG``), trust auth, user postgres, and for Celery
Redis on 127.0.0.1:6379 (``PAYTRACE_SL_TEST_REDIS``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from airflow_cluster import (
    CELERY,
    LOCAL,
    REPO,
    AirflowCluster,
    create_database,
    drop_database,
    pg_dsn,
    pg_url,
    sandbox_process,
)
from ledger_audit import audit_ledger, expected_transactions

from _common import load_average as _load_average
from paytrace_sl.pipeline.steps import PAYMENT_STEP_NAMES
from paytrace_sl.pipeline.windows import Window
from paytrace_sl_airflow.dag_support import PAYMENT_TASKS

DAG_ID = "paytrace_payments_to_sl"
SETTLE_DAG_ID = "paytrace_settlements_to_sl"
# the payments DAG's task ids, in the runner's order (dag_support maps each step to its task id)
TASKS = tuple(PAYMENT_TASKS[step][0] for step in PAYMENT_STEP_NAMES)
TIMEZONE = "America/Los_Angeles"
SEED = 42
HOURLY_DAY = dt.date(2025, 6, 2)  # a Monday; any day works
BUSY_HOUR = 12
BACKFILL_START = dt.date(2025, 4, 1)
DAG_START_AFTER = "2099-01-01"  # the DAG's start date: after every window here, so no catch-up runs
EXECUTORS = {"local": LOCAL, "celery": CELERY}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------- phases


@dataclass
class Phase:
    name: str  # "hourly" | "backfill"
    interval: str  # payments interval of the DAG
    merchant: dict[str, Any]  # MerchantConfig keyword arguments (JSON-able; start as ISO date)
    from_date: dt.datetime  # backfill range (logical dates, inclusive)
    to_date: dt.datetime
    windows: list[tuple[dt.datetime, dt.datetime]]  # the data intervals expected
    lookback_hours: float | None  # None = the mapping's look-back
    max_active_runs: int
    dags: tuple[str, ...] = (DAG_ID,)
    executor: str = LOCAL
    variant: str = ""  # "" = this checkout; else the git ref whose dags/plugins/deploy ran (--compare-ref)
    source: Path = REPO
    sl_db: str = ""
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        which = f", {self.variant}" if self.variant else ""
        return f"{self.name} ({self.executor}, max-active-runs {self.max_active_runs}{which})"

    @property
    def slug(self) -> str:
        return f"{self.executor}-{self.name}-{self.max_active_runs}-{self.variant or 'this'}".replace(
            "/", "_"
        )

    def merchant_config(self) -> Any:
        from paytrace_sl_sandbox.merchant import MerchantConfig

        kw = dict(self.merchant, start=dt.date.fromisoformat(self.merchant["start"]))
        return MerchantConfig(**kw)


def hourly_phase(tx: int, lookback: float | None) -> Phase:
    tz = ZoneInfo(TIMEZONE)
    start = dt.datetime.combine(HOURLY_DAY, dt.time(BUSY_HOUR), tz)
    return Phase(
        name="hourly",
        interval="hourly",
        merchant={
            "seed": SEED,
            "start": HOURLY_DAY.isoformat(),
            "days": 1,
            "tx_per_day": tx,
            "timezone": TIMEZONE,
            "busy_hour": BUSY_HOUR,
        },
        from_date=start,
        to_date=start,
        windows=[(start, start + dt.timedelta(hours=1))],
        lookback_hours=lookback,
        max_active_runs=1,
    )


def backfill_phase(days: int, tx_per_day: int, max_active_runs: int, lookback: float | None) -> Phase:
    tz = ZoneInfo(TIMEZONE)
    starts = [dt.datetime.combine(BACKFILL_START + dt.timedelta(days=i), dt.time(), tz) for i in range(days)]
    windows = [(s, dt.datetime.combine(s.date() + dt.timedelta(days=1), dt.time(), tz)) for s in starts]
    return Phase(
        name="backfill",
        interval="daily",
        merchant={
            "seed": SEED,
            "start": BACKFILL_START.isoformat(),
            "days": days,
            "tx_per_day": tx_per_day,
            "timezone": TIMEZONE,
        },
        from_date=starts[0],
        to_date=starts[-1],
        windows=windows,
        lookback_hours=lookback,
        max_active_runs=max_active_runs,
        dags=(DAG_ID, SETTLE_DAG_ID),
    )


# ------------------------------------------------------------------------------------ environment


def phase_env(phase: Phase, paytrace_url: str, work: Path, mapping: Path) -> dict[str, str]:
    """The project's settings for one phase (the cluster adds Airflow's own)."""
    env = {
        "AIRFLOW_CONN_PAYTRACE_DEFAULT": json.dumps(
            {
                "conn_type": "paytrace",
                "host": paytrace_url,
                "login": "sandbox",
                "password": "sandbox-password",
                "extra": {"timezone": TIMEZONE, "requests_per_second": 0},
            }
        ),
        "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT": json.dumps(
            {"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": pg_url(phase.sl_db)}}
        ),
        "PAYTRACE_TIMEZONE": TIMEZONE,
        "PAYTRACE_SL_INTERVAL": phase.interval,
        "PAYTRACE_SL_START_DATE": DAG_START_AFTER,
        "PAYTRACE_SL_MAPPING": str(mapping),
        "PAYTRACE_SL_LANDING_DIR": str(work / "landing"),
        "PAYTRACE_SL_GX_DIR": str(work / "gx"),
        "PAYTRACE_SL_REPORTS_DIR": str(work / "reports"),
        "PAYTRACE_SL_RETRIES": "0",  # a failure must show, not hide behind a 30 s retry
        "PAYTRACE_SL_PAYMENTS_WAIT_POKE_SECONDS": "10",
        # 2 cores here: the LocalExecutor runs at most 4 tasks, as scripts/airflow-standalone.sh
        "AIRFLOW__CORE__PARALLELISM": "4" if phase.executor == LOCAL else "8",
    }
    if phase.lookback_hours is not None:
        env["PAYTRACE_SL_LOOKBACK_HOURS"] = str(phase.lookback_hours)
    return env


# ------------------------------------------------------------------------------------ measurement


def _ts(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


def read_metadata(cluster: AirflowCluster, dag_id: str, backfill_id: int) -> list[dict[str, Any]]:
    """Per run of the backfill: times and its task instances (from Airflow's metadata DB)."""
    with cluster.meta() as conn:
        runs = conn.execute(
            "SELECT run_id, logical_date, data_interval_start, data_interval_end, queued_at, start_date, "
            "end_date, state FROM dag_run WHERE dag_id = %s AND backfill_id = %s ORDER BY logical_date",
            (dag_id, backfill_id),
        ).fetchall()
        tis = conn.execute(
            "SELECT ti.run_id, ti.task_id, ti.state, ti.try_number, ti.scheduled_dttm, ti.queued_dttm, "
            "ti.start_date, ti.end_date, ti.duration FROM task_instance ti JOIN dag_run dr "
            "ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id WHERE dr.dag_id = %s AND dr.backfill_id = %s",
            (dag_id, backfill_id),
        ).fetchall()
        # what each task pushed: Airflow 3 keeps XCom values as JSON in the metadata DB
        xcoms = conn.execute(
            "SELECT x.run_id, x.task_id, count(*), coalesce(sum(octet_length(x.value::text)), 0) FROM xcom x "
            "JOIN dag_run dr ON dr.dag_id = x.dag_id AND dr.run_id = x.run_id "
            "WHERE dr.dag_id = %s AND dr.backfill_id = %s GROUP BY x.run_id, x.task_id",
            (dag_id, backfill_id),
        ).fetchall()
    xcom_size = {(r, t): (int(n), int(b)) for r, t, n, b in xcoms}
    by_run: dict[str, dict[str, Any]] = {}
    for run_id, task_id, state, tries, sched, queued, start, end, duration in tis:
        by_run.setdefault(run_id, {})[task_id] = {
            "state": state,
            "tries": tries,
            "scheduled": _ts(sched),
            "queued": _ts(queued),
            "start": _ts(start),
            "end": _ts(end),
            "duration": float(duration or 0.0),
            "xcoms": xcom_size.get((run_id, task_id), (0, 0))[0],
            "xcom_bytes": xcom_size.get((run_id, task_id), (0, 0))[1],
        }
    out = []
    for run_id, logical, dis, die, queued, start, end, state in runs:
        out.append(
            {
                "run_id": run_id,
                "logical_date": logical.isoformat(),
                "interval": (dis.isoformat(), die.isoformat()),
                "queued": _ts(queued),
                "start": _ts(start),
                "end": _ts(end),
                "state": state,
                "tasks": by_run.get(run_id, {}),
            }
        )
    return out


def _log_times(path: Path, step: str) -> tuple[float | None, float | None]:
    """Timestamps of the library step's first line (``<step> for …``) and summary (``<step>: {…``)."""
    begin = finish = None
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None, None
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        event = str(rec.get("event", ""))
        stamp = rec.get("timestamp")
        if not stamp:
            continue
        when = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
        if begin is None and event.startswith(f"{step} for "):
            begin = when
        elif event.startswith(f"{step}: {{"):
            finish = when
    return begin, finish


_ACCESS_PATH = re.compile(r"path=['\"]?(/[^\s'\"]*)")
_ACCESS_DURATION = re.compile(r"duration_us=['\"]?(\d+)")
_ACCESS_STATUS = re.compile(r"status_code=['\"]?(\d+)")


def api_server_requests(path: Path, offset: int = 0) -> dict[str, dict[str, float]]:
    """Execution-API requests in the api-server's access log from byte ``offset`` on: per kind
    (``variables``, ``xcoms``, …, the path's second part) the count, how many were 404s and the sum of
    the server-side durations (``duration_us``: the request inside the api-server, not the task's wait)."""
    out: dict[str, dict[str, float]] = {}
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        if "request finished" not in line or "/execution/" not in line:
            continue
        found, took = _ACCESS_PATH.search(line), _ACCESS_DURATION.search(line)
        if not found or not took:
            continue
        parts = found.group(1).split("/")
        kind = parts[2] if len(parts) > 2 else "?"
        entry = out.setdefault(kind, {"count": 0, "not_found": 0, "seconds": 0.0})
        entry["count"] += 1
        entry["seconds"] += int(took.group(1)) / 1e6
        status = _ACCESS_STATUS.search(line)
        if status and status.group(1) == "404":
            entry["not_found"] += 1
    return out


def add_log_breakdown(home: Path, runs: list[dict[str, Any]]) -> None:
    for run in runs:
        for task_id, ti in run["tasks"].items():
            attempt = max(1, int(ti["tries"] or 1))
            path = home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run['run_id']}" / f"task_id={task_id}"
            begin, finish = _log_times(path / f"attempt={attempt}.log", task_id)
            if begin is None or finish is None or ti["start"] is None or ti["end"] is None:
                continue
            ti["before_step"] = begin - ti["start"]
            ti["step"] = finish - begin
            ti["after_step"] = ti["end"] - finish


# ----------------------------------------------------------------------------------- correctness


def served_days(
    windows: list[tuple[dt.datetime, dt.datetime]], lookback: dt.timedelta
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The merchant days each run asks PayTrace for, as ranges: an export is by whole day, so a run
    fetches every record of the days its window plus look-back touch (``Window.request_dates``), and
    the extract step keeps a record created outside that range (``fetch_transactions``: the ledger
    makes a second sight of it "already posted"). In the hourly phase these are the day's voids,
    created hours after the sales they void: accounted for by the run, so expected here."""
    tz = ZoneInfo(TIMEZONE)
    out = []
    for start, end in windows:
        first, last = Window(start - lookback, end, TIMEZONE).request_dates()
        out.append(
            (
                dt.datetime.combine(first, dt.time(), tz),
                dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz),
            )
        )
    return out


def check(phase: Phase, runs: list[dict[str, Any]], settle_runs: list[dict[str, Any]]) -> dict[str, Any]:
    lookback = (
        dt.timedelta(hours=phase.lookback_hours) if phase.lookback_hours is not None else dt.timedelta(days=3)
    )
    expected = expected_transactions(phase.merchant, served_days(phase.windows, lookback), dt.timedelta())
    result = audit_ledger(pg_dsn(phase.sl_db), expected)
    in_window = expected_transactions(phase.merchant, phase.windows, dt.timedelta())
    with psycopg.connect(pg_dsn(phase.sl_db)) as conn:
        xrun = conn.execute(
            "SELECT status, counts, run_id FROM xptrun WHERE dag_id = %s", (DAG_ID,)
        ).fetchall()
    per_run = {str(r): json.loads(c or "{}") for _, c, r in xrun}
    runs_in_window = sum(int(c.get("in_window", 0)) for c in per_run.values())
    tis = [ti for r in runs for ti in r["tasks"].values()]
    settle_tis = [ti for r in settle_runs for ti in r["tasks"].values()]
    result["runs_in_window_sum"] = runs_in_window
    result["sandbox_in_window"] = len(in_window)
    result["per_run"] = per_run
    result["xptrun_status"] = sorted({str(s) for s, _, _ in xrun})
    checks = result["checks"]
    checks["sum of runs' in-window counts = sandbox in-window count"] = runs_in_window == len(in_window)
    checks["all dag runs success"] = all(r["state"] == "success" for r in runs + settle_runs) and len(
        runs
    ) == len(phase.windows)
    checks["all task instances success, first try"] = len(tis) == len(TASKS) * len(runs) and all(
        t["state"] == "success" and int(t["tries"] or 0) <= 1 for t in tis + settle_tis
    )
    checks["xPTRun success/partial only"] = {str(s) for s, _, _ in xrun} <= {"success", "partial"}
    if settle_runs:
        by_day = {r["interval"][0]: r for r in runs}
        checks["each day's report started after that day's payments run finished"] = all(
            r["tasks"]["report"]["start"] >= by_day[r["interval"][0]]["end"] for r in settle_runs
        )
    return result


# ------------------------------------------------------------------------------------------ phase


def run_phase(phase: Phase, args: argparse.Namespace, cluster: AirflowCluster, work: Path) -> None:
    from paytrace_sl_sandbox.demo import write_sandbox_mapping
    from paytrace_sl_sandbox.sl_seed import init_sandbox

    res = phase.results
    res["load_average_start"] = _load_average()
    phase.sl_db = f"ptsl_af_sl_{phase.name}_{uuid.uuid4().hex[:6]}"
    create_database(phase.sl_db)
    pwork = work / phase.slug
    try:
        log(f"{phase.label}: seeding the SL sandbox {phase.sl_db} ({phase.merchant})")
        t = time.perf_counter()
        init_sandbox(pg_url(phase.sl_db), phase.merchant_config())
        res["seed_seconds"] = time.perf_counter() - t
        mapping = write_sandbox_mapping(pwork / "mapping-sandbox.yaml", unidentified_receipts=True)
        with sandbox_process(phase.merchant) as paytrace_url:
            log(f"{phase.label}: (re)starting Airflow ({cluster.executor}, {cluster.workers} Celery workers)")
            started = time.perf_counter()
            res["startup_healthy_seconds"] = cluster.restart(phase_env(phase, paytrace_url, pwork, mapping))
            res["execution_api_first_seconds"] = cluster.execution_api_first_seconds
            cron = {"hourly": "0 * * * *", "daily": "0 0 * * *"}[phase.interval]
            cluster.wait_dag_parsed(DAG_ID, cron=cron)
            for dag_id in phase.dags[1:]:
                cluster.wait_dag_parsed(dag_id)
            res["startup_dag_parsed_seconds"] = time.perf_counter() - started
            log(
                f"{phase.label}: healthy after {res['startup_healthy_seconds']:.1f} s, DAGs parsed after "
                f"{res['startup_dag_parsed_seconds']:.1f} s; load average {_load_average()}"
            )
            res["load_average_before_runs"] = _load_average()
            access_log = cluster.logs / "api-server.log"
            access_offset = access_log.stat().st_size if access_log.exists() else 0
            t0 = time.time()
            ids: dict[str, int] = {}
            for dag_id in reversed(phase.dags):  # settlements first: their reports must wait regardless
                ids[dag_id] = cluster.backfill(
                    dag_id,
                    phase.from_date.isoformat(),
                    phase.to_date.isoformat(),
                    max_active_runs=phase.max_active_runs,
                )
            res["backfill_cli_seconds"] = time.time() - t0
            cluster.wait_backfills(
                {b: len(phase.windows) for b in ids.values()}, args.timeout, progress=lambda m: log(f"  {m}")
            )
            res["wall_poll_seconds"] = time.time() - t0
            res["t0"] = t0
            res["load_average_end"] = _load_average()
            res["api_requests"] = api_server_requests(access_log, access_offset)
        runs = read_metadata(cluster, DAG_ID, ids[DAG_ID])
        settle_runs = (
            read_metadata(cluster, SETTLE_DAG_ID, ids[SETTLE_DAG_ID]) if SETTLE_DAG_ID in ids else []
        )
        add_log_breakdown(cluster.home, runs)
        res["runs"] = runs
        res["settle_runs"] = settle_runs
        res["wall_seconds"] = max(r["end"] for r in runs if r["end"]) - t0
        if settle_runs:
            res["wall_both_seconds"] = max(r["end"] for r in runs + settle_runs if r["end"]) - t0
        res["check"] = check(phase, runs, settle_runs)
    finally:
        if not args.keep:
            drop_database(phase.sl_db)


# ------------------------------------------------------------------------------------------ report


def _fmt(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def report(phase: Phase) -> list[str]:
    res = phase.results
    runs = res["runs"]
    out: list[str] = []
    p = out.append
    n = len(runs)
    p(f"### ({'a' if phase.name == 'hourly' else 'b'}) {phase.label}: {n} run(s), merchant {phase.merchant}")
    p("")
    p(
        f"load average: start {res['load_average_start']}; "
        f"before the runs {res['load_average_before_runs']}; "
        f"end {res['load_average_end']}"
    )
    p(
        f"set-up (not timed below): SL sandbox seed {res['seed_seconds']:.1f} s; Airflow healthy "
        f"{res['startup_healthy_seconds']:.1f} s (of which the task execution API's first request "
        f"{res['execution_api_first_seconds']:.1f} s), "
        f"DAG parsed {res['startup_dag_parsed_seconds']:.1f} s after start"
    )
    walls = [r["end"] - r["start"] for r in runs]
    sums = [sum(t["duration"] for t in r["tasks"].values()) for r in runs]
    first_queued = min(r["queued"] for r in runs if r["queued"])
    p(
        "**wall time from `airflow backfill create` to the last run's success: "
        f"{res['wall_seconds']:.1f} s** "
        f"(the CLI itself {res['backfill_cli_seconds']:.1f} s; first run queued "
        f"{first_queued - res['t0']:.1f} s after the command started)"
    )
    ck = res["check"]
    tx = ck["sandbox_transactions"]
    p(
        f"transactions: {tx:,} in the sandbox for these windows → {tx / res['wall_seconds']:.0f} tx/s "
        f"end to end through Airflow"
    )
    settle = res.get("settle_runs") or []
    if settle:
        sw = [r["end"] - r["start"] for r in settle]
        waits = [
            r["tasks"]["wait_for_payments"]["end"] - r["tasks"]["wait_for_payments"]["start"] for r in settle
        ]
        p(
            f"**both DAGs ({len(settle)} settlement runs too): {res['wall_both_seconds']:.1f} s** "
            f"from `backfill create` to the last run's success; settlement run wall mean "
            f"{statistics.mean(sw):.1f} s (min {min(sw):.1f}, max {max(sw):.1f}), of which its last "
            f"`wait_for_payments` poke {statistics.mean(waits):.1f} s"
        )
    p("")
    per_run = res["check"]["per_run"]
    p(
        "| run (logical date) | records: window + look-back | posted | already posted | "
        "queued→running s | running→success s | Σ task durations s | overhead s |"
    )
    p("|---|---|---|---|---|---|---|---|")
    shown = runs if n <= 6 else [*runs[:3], None, *runs[-2:]]
    for r in shown:
        if r is None:
            p("| … | | | | | | | |")
            continue
        c = per_run.get(r["run_id"], {})
        wall = r["end"] - r["start"]
        s = sum(t["duration"] for t in r["tasks"].values())
        looked_back = c.get("transactions", 0) - c.get("in_window", 0)
        p(
            f"| {r['logical_date'][:16]} | {c.get('in_window', 0):,} + {looked_back:,} "
            f"| {c.get('posted', 0):,} | {c.get('already_posted', 0):,} | {r['start'] - r['queued']:.1f} | "
            f"{wall:.1f} | {s:.1f} | {wall - s:.1f} |"
        )
    if n > 1:
        cs = [per_run.get(r["run_id"], {}) for r in runs]
        p(
            f"| **mean of {n}** | {statistics.mean(c.get('in_window', 0) for c in cs):,.0f} + "
            f"{statistics.mean(c.get('transactions', 0) - c.get('in_window', 0) for c in cs):,.0f} | "
            f"{statistics.mean(c.get('posted', 0) for c in cs):,.0f} | "
            f"{statistics.mean(c.get('already_posted', 0) for c in cs):,.0f} | "
            f"{statistics.mean(r['start'] - r['queued'] for r in runs):.1f} | "
            f"{statistics.mean(walls):.1f} | {statistics.mean(sums):.1f} | "
            f"{statistics.mean(w - s for w, s in zip(walls, sums, strict=True)):.1f} |"
        )
        p(
            f"| min / max run | | | | | {min(walls):.1f} / {max(walls):.1f} | "
            f"{min(sums):.1f} / {max(sums):.1f} | |"
        )
    p("")
    p(
        "| task | duration s (mean) | min / max | start-up before the step s | library step s | "
        "after the step s | previous task's end → scheduled s | scheduled → queued s | queued → start s | "
        "XComs: rows, bytes (mean) |"
    )
    p("|---|---|---|---|---|---|---|---|---|---|")
    for prev, task in zip((None, *TASKS), TASKS, strict=False):
        tis = [r["tasks"][task] for r in runs if task in r["tasks"]]
        if not tis:
            continue
        d = [t["duration"] for t in tis]

        def mean(key: str, tis: list[dict[str, Any]] = tis) -> float | None:
            vals = [t[key] for t in tis if t.get(key) is not None]
            return statistics.mean(vals) if vals else None

        handover = [
            r["tasks"][task]["scheduled"] - r["tasks"][prev]["end"]
            for r in runs
            if prev in r["tasks"]
            and task in r["tasks"]
            and r["tasks"][task]["scheduled"]
            and r["tasks"][prev]["end"]
        ]
        to_queue = [t["queued"] - t["scheduled"] for t in tis if t["queued"] and t["scheduled"]]
        to_start = [t["start"] - t["queued"] for t in tis if t["start"] and t["queued"]]
        p(
            f"| {task} | {statistics.mean(d):.2f} | {min(d):.2f} / {max(d):.2f} | "
            f"{_fmt(mean('before_step'), 2)} | "
            f"{_fmt(mean('step'), 2)} | {_fmt(mean('after_step'), 2)} | "
            f"{_fmt(statistics.mean(handover) if handover else None, 2)} | "
            f"{_fmt(statistics.mean(to_queue) if to_queue else None, 2)} | "
            f"{_fmt(statistics.mean(to_start) if to_start else None, 2)} | "
            f"{statistics.mean(t['xcoms'] for t in tis):.0f}, "
            f"{statistics.mean(t['xcom_bytes'] for t in tis):,.0f} |"
        )
    if n > 1:
        p("")
        ordered = sorted(runs, key=lambda r: r["start"])
        gaps = [b["start"] - a["end"] for a, b in itertools.pairwise(ordered)]
        p(
            f"between runs: the next run starts {statistics.mean(gaps):.1f} s after the previous success "
            f"(mean; min {min(gaps):.1f}, max {max(gaps):.1f}; Σ {sum(gaps):.1f} s)"
        )
    api = res.get("api_requests") or {}
    if api:
        p("")
        p(
            "execution-API requests during the runs (api-server access log; server-side time, the "
            "task waits longer): "
            + "; ".join(
                f"{kind} {int(e['count'])} ({int(e['not_found'])} not found, {e['seconds']:.2f} s, "
                f"{e['count'] / n:.0f} per run)"
                for kind, e in sorted(api.items(), key=lambda kv: -kv[1]["count"])
            )
        )
    total_d = sum(sums)
    steps = sum(t.get("step") or 0.0 for r in runs for t in r["tasks"].values())
    total_wall = sum(walls)
    p("")
    p(
        f"Σ over runs: run wall {total_wall:.1f} s = task durations {total_d:.1f} s "
        f"({total_d / total_wall:.0%}; of which library steps {steps:.1f} s = {steps / total_wall:.0%}) "
        f"+ scheduler overhead between tasks {total_wall - total_d:.1f} s "
        f"({(total_wall - total_d) / total_wall:.0%})"
    )
    p("")
    p(
        f"correctness: sandbox {tx:,} transactions served for the fetched days, {ck['sandbox_in_window']:,} "
        f"created in the windows; Σ runs' in-window {ck['runs_in_window_sum']:,}; "
        f"posted (distinct in xPTLedger) {ck['posted_transactions']:,}, ledger rows {ck['ledger_rows']:,} "
        f"{ck['ledger_by_kind']}; skipped {ck['skipped']:,}; review {ck['review']:,}; dead letter "
        f"{ck['dead_letter']:,}; SL rows written: Batch {ck['batch_rows']:,}, ARDoc {ck['ardoc_rows']:,}, "
        f"ARTran {ck['artran_rows']:,}; missing {ck['missing']}, unexpected {ck['unexpected']}"
    )
    for name, ok in ck["checks"].items():
        p(f"- [{'x' if ok else ' '}] {name}")
    p("")
    return out


def summary(phases: list[Phase]) -> list[str]:
    """One table: every phase on every executor."""
    out = [
        "### Executors compared (same run, same machine)",
        "",
        "| phase | executor | adapters (dags, plugins, deploy) | max active runs | transactions | "
        "wall s (payments) | wall s (both DAGs) | run wall s (mean) | Σ task durations s (mean) | "
        "overhead between tasks s (mean) | load average (start / end) | all checks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ph in phases:
        res = ph.results
        if "check" not in res:
            continue
        tx = res["check"]["sandbox_transactions"]
        both = res.get("wall_both_seconds")
        walls = [r["end"] - r["start"] for r in res["runs"]]
        sums = [sum(t["duration"] for t in r["tasks"].values()) for r in res["runs"]]
        between = statistics.mean(w - d for w, d in zip(walls, sums, strict=True))
        out.append(
            f"| {ph.name} | {ph.executor} | {ph.variant or 'this checkout'} | {ph.max_active_runs} | "
            f"{tx:,} | {res['wall_seconds']:.1f} | {_fmt(both)} | {statistics.mean(walls):.1f} | "
            f"{statistics.mean(sums):.1f} | {between:.1f} | "
            f"{res['load_average_start']} / {res['load_average_end']} | "
            f"{'yes' if all(res['check']['checks'].values()) else 'NO'} |"
        )
    out.append("")
    return out


def export_ref(ref: str, into: Path) -> Path:
    """``dags/``, ``plugins/`` and ``deploy/`` of git ``ref`` under ``into`` (what a deployment of that
    version runs; the library in ``include/`` is this checkout's for both)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "dags", "plugins", "deploy"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("hourly", "backfill"))
    parser.add_argument("--executors", default="local,celery", help="comma list: local, celery")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument("--hourly-tx", type=int, default=10_000, help="transactions in the busy hour")
    parser.add_argument(
        "--hourly-lookback-hours", type=float, default=None, help="default: the mapping's (3 days)"
    )
    parser.add_argument("--backfill-days", type=int, default=30)
    parser.add_argument("--tx-per-day", type=int, default=1000, help="backfill: transactions per day")
    parser.add_argument(
        "--max-active-runs", default="1", help="backfill --max-active-runs; a comma list runs each"
    )
    parser.add_argument(
        "--local-max-active-runs", default=None, help="LocalExecutor's list (default: --max-active-runs)"
    )
    parser.add_argument(
        "--backfill-lookback-hours", type=float, default=None, help="default: the mapping's (3 days)"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="per phase, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the work directory")
    parser.add_argument(
        "--compare-ref",
        help="also run every phase with dags/, plugins/ and deploy/ of this git ref (same library, same "
        "run, alternating with this checkout): a before/after of the Airflow adapters and settings",
    )
    parser.add_argument("--repeat", type=int, default=1, help="run each phase (and variant) this often")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    args = parser.parse_args(argv)

    executors = [EXECUTORS[e.strip()] for e in args.executors.split(",") if e.strip()]
    header = [
        f"machine: {os.cpu_count()} cores, load average {_load_average()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}",
        "",
    ]
    print("\n".join(header), flush=True)
    work = Path(tempfile.mkdtemp(prefix="ptsl-bench-airflow-"))
    lines = list(header)
    phases: list[Phase] = []
    if args.keep:
        os.environ["PAYTRACE_SL_KEEP_CLUSTER"] = "1"
    variants: list[tuple[str, Path]] = [("", REPO)]
    if args.compare_ref:
        variants.insert(0, (args.compare_ref, export_ref(args.compare_ref, work / "ref")))
        header.insert(1, f"compared: dags/, plugins/, deploy/ of {args.compare_ref} vs this checkout")
        lines.insert(1, header[1])
    try:
        for executor in executors:
            mine: list[Phase] = []
            if args.only in (None, "hourly"):
                mine.append(hourly_phase(args.hourly_tx, args.hourly_lookback_hours))
            if args.only in (None, "backfill"):
                mars = (
                    args.local_max_active_runs if executor == LOCAL and args.local_max_active_runs else None
                )
                for mar in (int(m) for m in (mars or args.max_active_runs).split(",")):
                    mine.append(
                        backfill_phase(args.backfill_days, args.tx_per_day, mar, args.backfill_lookback_hours)
                    )
            for ph in mine:
                ph.executor = executor
            # with --compare-ref: the ref's adapters, then this checkout's, alternating per repetition
            mine = [
                replace(ph, variant=variant, source=source, results={})
                for ph in mine
                for _ in range(args.repeat)
                for variant, source in variants
            ]
            phases += mine
            for i, phase in enumerate(mine):
                # a fresh deployment per phase: two phases over the same days would find the first's runs
                # (a backfill without reprocessing creates none) and the metadata DB starts equal
                cluster = AirflowCluster(
                    work / f"{phase.slug}-{i}",
                    executor=executor,
                    workers=args.workers,
                    name=executor[:6].lower(),
                    source=phase.source,
                )
                try:
                    log(f"{phase.label}: airflow db migrate ({cluster.meta_db})")
                    cluster.create()
                    lines.append(
                        f"{phase.label}: `airflow db migrate` on a fresh PostgreSQL database: "
                        f"{cluster.migrate_seconds:.1f} s"
                    )
                    lines.append("")
                    run_phase(phase, args, cluster, work / f"{phase.slug}-{i}")
                    part = report(phase)
                    print("\n".join(part), flush=True)
                    lines += part
                finally:
                    cluster.close()
        part = summary(phases)
        print("\n".join(part), flush=True)
        lines += part
    finally:
        if args.json:
            args.json.write_text(
                json.dumps(
                    [{"name": p.name, "executor": p.executor, **p.results} for p in phases],
                    indent=2,
                    default=str,
                )
            )
        if args.keep:
            print(f"kept: SL DBs {[p.sl_db for p in phases]}, work dir {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    ok = all("check" in p.results and all(p.results["check"]["checks"].values()) for p in phases)
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
