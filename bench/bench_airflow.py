"""Benchmark through real Airflow: LocalExecutor, PostgreSQL metadata, scheduler + dag-processor + api-server.

Two measurements of ``paytrace_payments_to_sl``, each with its own PayTrace sandbox (HTTP, own process)
and its own SL sandbox in a fresh PostgreSQL database; one fresh PostgreSQL database holds Airflow's
metadata for both (``airflow db migrate``). Everything is created here and dropped at the end.

(a) **hourly**: one hourly window holding ~10,000 transactions. The sandbox merchant puts a whole day's
    slots into the local hour 12:00-13:00 (``MerchantConfig.busy_hour``); the run fetches the day's
    export (and the mapping's 3-day look-back, empty here) from PayTrace and keeps its window plus the
    look-back, i.e. exactly that hour's records. The run is created with ``airflow backfill create`` for
    that one logical date.
(b) **backfill**: ``airflow backfill create`` of 30 daily windows (default 1,000 transactions a day, the
    mapping's own look-back of 3 days, one run at a time as the docs recommend).

Airflow components (started here, stopped at the end): ``airflow api-server`` (the tasks' execution
API), ``airflow scheduler`` (LocalExecutor) and ``airflow dag-processor``; they are restarted between
(a) and (b) because the payments interval (hourly/daily) is read from the environment at parse time. The
DAG's start date is set after the benchmark windows, so the scheduler creates no catch-up runs of its own:
the only runs are the backfill's.

Reported: wall time from ``backfill create`` to the last run's success, per run (queued → running,
running → success), per task (duration from the metadata DB; from the task logs: start-up before the
step, the library step itself, wrap-up after it), and the scheduler overhead = run wall time minus the
sum of its task durations. At the end it checks correctness against the sandbox: every transaction the
sandbox generated for the windows is accounted for (ledger, skip, review or dead letter) and nothing
else is; no ledger key or (transaction, kind) twice, i.e. nothing posted twice; SL ``ARDoc`` rows = the
ledger's AR documents; every Airflow run and task succeeded on its first try.

    .venv/bin/python bench/bench_airflow.py                      # (a) and (b)
    .venv/bin/python bench/bench_airflow.py --only hourly        # or --only backfill
    .venv/bin/python bench/bench_airflow.py --hourly-tx 10000 --backfill-days 30 --tx-per-day 1000

Needs PostgreSQL on 127.0.0.1:5432 (``PAYTRACE_SL_TEST_PG`` to override), trust auth, user postgres.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import _create_db, _drop_db, _dsn, _load_average, _url

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DAG_ID = "paytrace_payments_to_sl"
TASKS = ("extract", "validate", "transform", "load", "preflight", "summarize")
TIMEZONE = "America/Los_Angeles"
SEED = 42
HOURLY_DAY = dt.date(2025, 6, 2)  # a Monday; any day works
BUSY_HOUR = 12
BACKFILL_START = dt.date(2025, 4, 1)
DAG_START_AFTER = "2099-01-01"  # the DAG's start date: after every window here, so no catch-up runs

SANDBOX_CHILD = """
import datetime as dt, json, sys
from paytrace_sl.sandbox.merchant import MerchantConfig
from paytrace_sl.sandbox.server import SandboxConfig, SandboxServer
kw = json.loads(sys.argv[1])
kw["start"] = dt.date.fromisoformat(kw["start"])
server = SandboxServer(SandboxConfig(MerchantConfig(**kw)), port=0).start()
print(server.url, flush=True)
sys.stdin.read()
server.stop()
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    sl_db: str = ""
    results: dict[str, Any] = field(default_factory=dict)

    def merchant_config(self) -> Any:
        from paytrace_sl.sandbox.merchant import MerchantConfig

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
    )


# ------------------------------------------------------------------------------------ environment


def airflow_env(
    home: Path, meta_db: str, port: int, jwt: str, phase: Phase, paytrace_url: str, work: Path, mapping: Path
) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")
    for name in ("SL_DATABASE_URL", "PAYTRACE_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD"):
        env.pop(name, None)
    base = f"http://127.0.0.1:{port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _url(meta_db),
            # psycopg 3 for the async engine too (Airflow would derive postgresql+asyncpg, not installed)
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _url(meta_db, "postgresql+psycopg_async"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",  # as scripts/airflow-standalone.sh; 2 cores here
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt,  # the scheduler signs task tokens, the API server checks
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
                {"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": _url(phase.sl_db)}}
            ),
            "PAYTRACE_TIMEZONE": TIMEZONE,
            "PAYTRACE_SL_INTERVAL": phase.interval,
            "PAYTRACE_SL_START_DATE": DAG_START_AFTER,
            "PAYTRACE_SL_MAPPING": str(mapping),
            "PAYTRACE_SL_LANDING_DIR": str(work / phase.name / "landing"),
            "PAYTRACE_SL_GX_DIR": str(work / phase.name / "gx"),
            "PAYTRACE_SL_REPORTS_DIR": str(work / phase.name / "reports"),
            "PAYTRACE_SL_RETRIES": "0",  # a failure must show, not hide behind a 30 s retry
            "GX_ANALYTICS_ENABLED": "false",
        }
    )
    env.pop("PAYTRACE_SL_END_DATE", None)
    env.pop("PAYTRACE_SL_LOOKBACK_HOURS", None)
    if phase.lookback_hours is not None:
        env["PAYTRACE_SL_LOOKBACK_HOURS"] = str(phase.lookback_hours)
    return env


def airflow_cli(args: list[str], env: dict[str, str], logfile: Path) -> str:
    with logfile.open("a") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n")
    done = subprocess.run(["airflow", *args], env=env, capture_output=True, text=True, check=False)
    with logfile.open("a") as out:
        out.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


@contextmanager
def components(env: dict[str, str], logs: Path, port: int) -> Iterator[float]:
    """api-server, scheduler, dag-processor in their own sessions; yields the seconds until healthy."""
    procs: list[subprocess.Popen[bytes]] = []
    started = time.perf_counter()
    try:
        for name, args in (
            ("api-server", ["api-server", "--port", str(port), "--host", "127.0.0.1"]),
            ("scheduler", ["scheduler"]),
            ("dag-processor", ["dag-processor"]),
        ):
            out = (logs / f"{name}.log").open("ab")
            procs.append(
                subprocess.Popen(
                    ["airflow", *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        yield wait_healthy(port, procs, started)
    finally:
        for p in procs:
            with suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 40
        for p in procs:
            try:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        for p in procs:  # children left in a component's session group (task processes)
            with suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)


def wait_healthy(port: int, procs: list[subprocess.Popen[bytes]], started: float) -> float:
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    while time.perf_counter() - started < 240:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"an Airflow component exited ({p.args!r}); see the logs")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # loopback
                health = json.loads(resp.read())
            states = {k: (v or {}).get("status") for k, v in health.items()}
            if all(states.get(k) == "healthy" for k in ("metadatabase", "scheduler", "dag_processor")):
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError("Airflow did not become healthy in 240 s")


def meta(meta_db: str) -> psycopg.Connection[Any]:
    return psycopg.connect(_dsn(meta_db), autocommit=True)


def wait_dag_parsed(meta_db: str, interval: str, started: float) -> float:
    cron = {"hourly": "0 * * * *", "daily": "0 0 * * *"}[interval]
    while time.perf_counter() - started < 240:
        with suppress(psycopg.Error), meta(meta_db) as conn:
            row = conn.execute(
                "SELECT timetable_summary, is_paused, is_stale FROM dag WHERE dag_id = %s", (DAG_ID,)
            ).fetchone()
            if row and cron in str(row[0]) and not row[1] and not row[2]:
                return time.perf_counter() - started
        time.sleep(1)
    raise RuntimeError(f"{DAG_ID} was not parsed with the {interval} timetable in 240 s")


# ------------------------------------------------------------------------------------ measurement


def latest_backfill(meta_db: str) -> int:
    with meta(meta_db) as conn:
        row = conn.execute("SELECT max(id) FROM backfill WHERE dag_id = %s", (DAG_ID,)).fetchone()
    if not row or row[0] is None:
        raise RuntimeError("no backfill was created")
    return int(row[0])


def wait_backfill(meta_db: str, backfill_id: int, expected_runs: int, timeout: float) -> None:
    started = time.perf_counter()
    last = ""
    while time.perf_counter() - started < timeout:
        with meta(meta_db) as conn:
            states = dict(
                conn.execute(
                    "SELECT state, count(*) FROM dag_run WHERE backfill_id = %s GROUP BY state",
                    (backfill_id,),
                ).fetchall()
            )
        done = states.get("success", 0) + states.get("failed", 0)
        status = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
        if status != last:
            log(f"  runs: {status}")
            last = status
        if done >= expected_runs:
            break
        time.sleep(1)
    else:
        raise RuntimeError(f"backfill did not finish in {timeout:.0f} s")
    # The scheduler marks the backfill completed on a later loop; a next backfill of the DAG needs that.
    while time.perf_counter() - started < timeout + 120:
        with meta(meta_db) as conn:
            row = conn.execute("SELECT completed_at FROM backfill WHERE id = %s", (backfill_id,)).fetchone()
        if row and row[0] is not None:
            return
        time.sleep(1)
    raise RuntimeError("the scheduler did not mark the backfill completed")


def _ts(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


def read_metadata(meta_db: str, backfill_id: int) -> list[dict[str, Any]]:
    """Per run of the backfill: times and its task instances (from Airflow's metadata DB)."""
    with meta(meta_db) as conn:
        runs = conn.execute(
            "SELECT run_id, logical_date, data_interval_start, data_interval_end, queued_at, start_date, "
            "end_date, state FROM dag_run WHERE dag_id = %s AND backfill_id = %s ORDER BY logical_date",
            (DAG_ID, backfill_id),
        ).fetchall()
        tis = conn.execute(
            "SELECT ti.run_id, ti.task_id, ti.state, ti.try_number, ti.scheduled_dttm, ti.queued_dttm, "
            "ti.start_date, ti.end_date, ti.duration FROM task_instance ti JOIN dag_run dr "
            "ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id WHERE dr.dag_id = %s AND dr.backfill_id = %s",
            (DAG_ID, backfill_id),
        ).fetchall()
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


def expected_transactions(phase: Phase) -> set[int]:
    """Ids of every sandbox transaction created inside the phase's fetched ranges (windows + look-back)."""
    from paytrace_sl.paytrace.timefmt import parse_paytrace_datetime
    from paytrace_sl.sandbox.merchant import MerchantSimulation

    sim = MerchantSimulation(phase.merchant_config())
    tz = ZoneInfo(TIMEZONE)
    lookback = (
        dt.timedelta(hours=phase.lookback_hours) if phase.lookback_hours is not None else dt.timedelta(days=3)
    )
    ranges = [(s - lookback, e) for s, e in phase.windows]
    ids: set[int] = set()
    for i in range(sim.config.days):
        for rec in sim.transactions_for_day(sim.config.start + dt.timedelta(days=i)):
            created = parse_paytrace_datetime(rec["created"]["at"], tz)
            if any(s <= created < e for s, e in ranges):
                ids.add(int(rec["transaction_id"]))
    return ids


def check(phase: Phase, runs: list[dict[str, Any]]) -> dict[str, Any]:
    expected = expected_transactions(phase)
    with psycopg.connect(_dsn(phase.sl_db)) as conn:

        def ids(sql: str) -> set[int]:
            return {int(r[0]) for r in conn.execute(sql).fetchall() if r[0] is not None}

        ledger = ids("SELECT transaction_id FROM xptledger")
        skip = ids("SELECT transaction_id FROM xptskip")
        review = ids("SELECT transaction_id FROM xptreview")
        dead = ids("SELECT transaction_id FROM xptdeadletter")
        one = conn.execute(
            "SELECT count(*), count(DISTINCT ledger_key), count(DISTINCT (transaction_id, kind)) "
            "FROM xptledger"
        ).fetchone()
        assert one is not None
        # SL documents the ledger stands for: one ARDoc per AR row, two for a refund (CM + DM, accounting.md)
        ar_ledger = conn.execute(
            "SELECT count(*) + count(*) FILTER (WHERE kind = 'refund') FROM xptledger WHERE module = 'AR'"
        ).fetchone()
        ardoc = conn.execute("SELECT count(*) FROM ardoc WHERE crtd_prog = 'PTSL'").fetchone()
        artran = conn.execute("SELECT count(*) FROM artran WHERE crtd_prog = 'PTSL'").fetchone()
        batches = conn.execute("SELECT count(*) FROM batch WHERE crtd_prog = 'PTSL'").fetchone()
        xrun = conn.execute("SELECT status, counts, run_id FROM xptrun").fetchall()
        by_kind: dict[Any, Any] = dict(
            conn.execute("SELECT kind, count(*) FROM xptledger GROUP BY kind").fetchall()
        )
    accounted = ledger | skip | review | dead
    per_run = {str(r): json.loads(c or "{}") for _, c, r in xrun}
    in_window = sum(int(c.get("in_window", 0)) for c in per_run.values())
    tis = [ti for r in runs for ti in r["tasks"].values()]
    result = {
        "sandbox_transactions": len(expected),
        "runs_in_window_sum": in_window,
        "ledger_rows": int(one[0]),
        "ledger_by_kind": {str(k): int(v) for k, v in by_kind.items()},
        "posted_transactions": len(ledger),
        "skipped": len(skip),
        "review": len(review),
        "dead_letter": len(dead),
        "ardoc_rows": int(ardoc[0]) if ardoc else 0,
        "artran_rows": int(artran[0]) if artran else 0,
        "batch_rows": int(batches[0]) if batches else 0,
        "missing": len(expected - accounted),
        "unexpected": len(accounted - expected),
        "xptrun_status": sorted({str(s) for s, _, _ in xrun}),
        "per_run": per_run,
        "checks": {
            "every sandbox transaction accounted for": expected == accounted,
            "no ledger key or (transaction, kind) twice": one[0] == one[1] == one[2],
            "SL ARDoc rows = the ledger's AR documents (refund = CM + DM)": bool(
                ar_ledger and ardoc and ar_ledger[0] == ardoc[0]
            ),
            "sum of runs' in-window counts = sandbox count": in_window == len(expected),
            "all dag runs success": all(r["state"] == "success" for r in runs)
            and len(runs) == len(phase.windows),
            "all task instances success, first try": len(tis) == len(TASKS) * len(runs)
            and all(t["state"] == "success" and int(t["tries"] or 0) <= 1 for t in tis),
            "xPTRun success/partial only": {str(s) for s, _, _ in xrun} <= {"success", "partial"},
        },
    }
    return result


# ------------------------------------------------------------------------------------------ phase


def run_phase(phase: Phase, args: argparse.Namespace, meta_db: str, work: Path, jwt: str) -> None:
    from paytrace_sl.demo import write_sandbox_mapping
    from paytrace_sl.sl.sandbox_seed import init_sandbox

    res = phase.results
    res["load_average_start"] = _load_average()
    phase.sl_db = f"ptsl_af_sl_{phase.name}_{uuid.uuid4().hex[:6]}"
    _create_db(phase.sl_db)
    log(f"{phase.name}: seeding the SL sandbox {phase.sl_db} ({phase.merchant})")
    t = time.perf_counter()
    init_sandbox(_url(phase.sl_db), phase.merchant_config())
    res["seed_seconds"] = time.perf_counter() - t
    mapping = write_sandbox_mapping(work / phase.name / "mapping-sandbox.yaml", unidentified_receipts=True)
    sandbox = subprocess.Popen(
        [sys.executable, "-c", SANDBOX_CHILD, json.dumps(phase.merchant)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        paytrace_url = sandbox.stdout.readline().strip()
        port = _free_port()
        home = work / "airflow"
        env = airflow_env(home, meta_db, port, jwt, phase, paytrace_url, work, mapping)
        logs = work / phase.name
        logs.mkdir(parents=True, exist_ok=True)
        log(f"{phase.name}: starting api-server (:{port}), scheduler (LocalExecutor), dag-processor")
        started = time.perf_counter()
        with components(env, logs, port) as healthy:
            res["startup_healthy_seconds"] = healthy
            res["startup_dag_parsed_seconds"] = wait_dag_parsed(meta_db, phase.interval, started)
            log(
                f"{phase.name}: healthy after {healthy:.1f} s, DAG parsed ({phase.interval}) after "
                f"{res['startup_dag_parsed_seconds']:.1f} s; load average {_load_average()}"
            )
            res["load_average_before_runs"] = _load_average()
            cmd = [
                "backfill",
                "create",
                "--dag-id",
                DAG_ID,
                "--from-date",
                phase.from_date.isoformat(),
                "--to-date",
                phase.to_date.isoformat(),
                "--reprocess-behavior",
                "none",
                "--max-active-runs",
                str(phase.max_active_runs),
            ]
            log(f"{phase.name}: airflow {' '.join(cmd)}")
            t0 = time.time()
            airflow_cli(cmd, env, logs / "cli.log")
            res["backfill_cli_seconds"] = time.time() - t0
            backfill_id = latest_backfill(meta_db)
            wait_backfill(meta_db, backfill_id, len(phase.windows), args.timeout)
            res["wall_poll_seconds"] = time.time() - t0
            res["t0"] = t0
            res["load_average_end"] = _load_average()
        runs = read_metadata(meta_db, backfill_id)
        add_log_breakdown(home, runs)
        res["runs"] = runs
        res["wall_seconds"] = max(r["end"] for r in runs if r["end"]) - t0
        res["check"] = check(phase, runs)
    finally:
        if sandbox.stdin is not None:
            sandbox.stdin.close()
        try:
            sandbox.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sandbox.kill()
        if not args.keep:
            _drop_db(phase.sl_db)


# ------------------------------------------------------------------------------------------ report


def _fmt(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def report(phase: Phase) -> list[str]:
    res = phase.results
    runs = res["runs"]
    out: list[str] = []
    p = out.append
    n = len(runs)
    p(f"### ({'a' if phase.name == 'hourly' else 'b'}) {phase.name}: {n} run(s), merchant {phase.merchant}")
    p("")
    p(
        f"load average: start {res['load_average_start']}; "
        f"before the runs {res['load_average_before_runs']}; "
        f"end {res['load_average_end']}"
    )
    p(
        f"set-up (not timed below): SL sandbox seed {res['seed_seconds']:.1f} s; Airflow healthy "
        f"{res['startup_healthy_seconds']:.1f} s, "
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
        "after the step s | wait before start s |"
    )
    p("|---|---|---|---|---|---|---|")
    for task in TASKS:
        tis = [r["tasks"][task] for r in runs if task in r["tasks"]]
        if not tis:
            continue
        d = [t["duration"] for t in tis]

        def mean(key: str, tis: list[dict[str, Any]] = tis) -> float | None:
            vals = [t[key] for t in tis if t.get(key) is not None]
            return statistics.mean(vals) if vals else None

        waits = [t["start"] - t["scheduled"] for t in tis if t["start"] and t["scheduled"]]
        p(
            f"| {task} | {statistics.mean(d):.2f} | {min(d):.2f} / {max(d):.2f} | "
            f"{_fmt(mean('before_step'), 2)} | "
            f"{_fmt(mean('step'), 2)} | {_fmt(mean('after_step'), 2)} | "
            f"{_fmt(statistics.mean(waits) if waits else None, 2)} |"
        )
    if n > 1:
        p("")
        ordered = sorted(runs, key=lambda r: r["start"])
        gaps = [b["start"] - a["end"] for a, b in itertools.pairwise(ordered)]
        p(
            f"between runs: the next run starts {statistics.mean(gaps):.1f} s after the previous success "
            f"(mean; min {min(gaps):.1f}, max {max(gaps):.1f}; Σ {sum(gaps):.1f} s)"
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
        f"correctness: sandbox {tx:,} transactions; Σ runs' in-window {ck['runs_in_window_sum']:,}; "
        f"posted (distinct in xPTLedger) {ck['posted_transactions']:,}, ledger rows {ck['ledger_rows']:,} "
        f"{ck['ledger_by_kind']}; skipped {ck['skipped']:,}; review {ck['review']:,}; dead letter "
        f"{ck['dead_letter']:,}; SL rows written: Batch {ck['batch_rows']:,}, ARDoc {ck['ardoc_rows']:,}, "
        f"ARTran {ck['artran_rows']:,}; missing {ck['missing']}, unexpected {ck['unexpected']}"
    )
    for name, ok in ck["checks"].items():
        p(f"- [{'x' if ok else ' '}] {name}")
    p("")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("hourly", "backfill"))
    parser.add_argument("--hourly-tx", type=int, default=10_000, help="transactions in the busy hour")
    parser.add_argument(
        "--hourly-lookback-hours", type=float, default=None, help="default: the mapping's (3 days)"
    )
    parser.add_argument("--backfill-days", type=int, default=30)
    parser.add_argument("--tx-per-day", type=int, default=1000, help="backfill: transactions per day")
    parser.add_argument("--max-active-runs", type=int, default=1, help="backfill --max-active-runs")
    parser.add_argument(
        "--backfill-lookback-hours", type=float, default=None, help="default: the mapping's (3 days)"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="per phase, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the work directory")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    args = parser.parse_args(argv)

    phases = []
    if args.only in (None, "hourly"):
        phases.append(hourly_phase(args.hourly_tx, args.hourly_lookback_hours))
    if args.only in (None, "backfill"):
        phases.append(
            backfill_phase(
                args.backfill_days, args.tx_per_day, args.max_active_runs, args.backfill_lookback_hours
            )
        )
    header = [
        f"machine: {os.cpu_count()} cores, load average {_load_average()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}",
        "",
    ]
    print("\n".join(header), flush=True)
    meta_db = f"ptsl_af_meta_{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="ptsl-bench-airflow-"))
    jwt = secrets.token_urlsafe(32)
    lines = list(header)
    try:
        _create_db(meta_db)
        env = airflow_env(
            work / "airflow", meta_db, 0, jwt, phases[0], "http://127.0.0.1:1", work, work / "m"
        )
        log(f"airflow db migrate ({meta_db})")
        t = time.perf_counter()
        airflow_cli(["db", "migrate"], env, work / "migrate.log")
        lines.append(
            f"`airflow db migrate` on the fresh PostgreSQL database: {time.perf_counter() - t:.1f} s"
        )
        lines.append("")
        for phase in phases:
            run_phase(phase, args, meta_db, work, jwt)
            part = report(phase)
            print("\n".join(part), flush=True)
            lines += part
    finally:
        if args.json:
            args.json.write_text(
                json.dumps([{"name": p.name, **p.results} for p in phases], indent=2, default=str)
            )
        if args.keep:
            print(f"kept: metadata DB {meta_db}, SL DBs {[p.sl_db for p in phases]}, work dir {work}")
        else:
            _drop_db(meta_db)
            shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    ok = all(all(p.results["check"]["checks"].values()) for p in phases)
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
