"""A real Airflow 3 deployment on loopback, for the Celery integration test and ``bench/bench_airflow.py``.

``AirflowCluster`` starts what a production deployment runs: ``airflow api-server`` (the tasks' execution
API), ``airflow scheduler``, ``airflow dag-processor`` and, with ``CeleryExecutor``, N ``airflow celery
worker`` processes (Redis broker, Celery results in the metadata database); with ``LocalExecutor`` the
scheduler runs the tasks itself. Airflow's metadata lives in a fresh PostgreSQL database made here
(``airflow db migrate``). Every component runs in its own session (process group) and is stopped with
SIGTERM, then SIGKILL for whatever is left in its group, so nothing outlives the cluster.

The executor settings come from ``deploy/airflow-executor.env``, the file docker-compose.yml and the
Helm values use too (one source: a test checks they agree). Only locations differ: here the broker is
``redis://127.0.0.1:6379`` with a queue of this cluster's own (other clusters may share the Redis), the
result backend and metadata are this cluster's database.

Test-grade, not production: no auth manager set-up, one API worker, logs in ``<home>/logs``.
Needs PostgreSQL on 127.0.0.1:5432 (``PAYTRACE_SL_TEST_PG``) and, for Celery, Redis on 127.0.0.1:6379
(``PAYTRACE_SL_TEST_REDIS``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

# Celery's worker log line for a task it took: "Task execute_workload[<celery task id>] received"
_RECEIVED = re.compile(r"Task [\w.]*execute_workload\[([0-9a-f-]+)\] received")
REPO = Path(__file__).resolve().parents[2]
EXECUTOR_ENV_FILE = REPO / "deploy" / "airflow-executor.env"
PG_ADMIN_DSN = os.environ.get("PAYTRACE_SL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PAYTRACE_SL_TEST_REDIS", "redis://127.0.0.1:6379/0")
VENV_BIN = Path(sys.executable).parent
CELERY = "CeleryExecutor"
LOCAL = "LocalExecutor"

# A PayTrace sandbox in its own process (the tasks reach it over HTTP); prints its URL, stops on EOF.
SANDBOX_CHILD = """
import datetime as dt, json, sys
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
kw = json.loads(sys.argv[1])
kw["start"] = dt.date.fromisoformat(kw["start"])
server = SandboxServer(SandboxConfig(MerchantConfig(**kw)), port=0).start()
print(server.url, flush=True)
sys.stdin.read()
server.stop()
"""


def executor_settings(path: Path = EXECUTOR_ENV_FILE) -> dict[str, str]:
    """``KEY=VALUE`` lines of the shared executor settings file (comments and blanks skipped)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not KEY=VALUE: {line!r}")
        out[key.strip()] = value.strip()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_url(name: str, driver: str = "postgresql+psycopg") -> str:
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0].replace('postgresql://', driver + '://')}/{name}"


def pg_dsn(name: str) -> str:
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"


def create_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]


@contextmanager
def sandbox_process(merchant: Mapping[str, Any]) -> Iterator[str]:
    """A PayTrace sandbox for ``MerchantConfig(**merchant)`` (``start`` as ISO date) in a child; its URL."""
    child = subprocess.Popen(
        [sys.executable, "-c", SANDBOX_CHILD, json.dumps(dict(merchant))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url:
            raise RuntimeError("the PayTrace sandbox child did not start")
        yield url
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def forget_queue(queue: str) -> None:
    """Remove this cluster's queue and kombu's binding for it from the shared Redis (nothing else)."""
    import redis

    with suppress(redis.RedisError), redis.Redis.from_url(REDIS_URL, socket_timeout=5) as client:
        client.delete(queue, f"_kombu.binding.{queue}")


def stop_process_groups(procs: list[subprocess.Popen[bytes]], grace: float = 40.0) -> None:
    """SIGTERM every process group, wait up to ``grace`` s, then SIGKILL each group (leftover children)."""
    for p in procs:
        with suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
    for p in procs:  # children left in a component's group (task processes, Celery pool children)
        with suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)


class AirflowCluster:
    """Airflow components on loopback with a fresh metadata database; a context manager.

    ``env`` is the environment every component and CLI call gets; pass the project's own settings
    (connections, ``PAYTRACE_SL_*``) in ``extra_env``. ``restart(extra_env)`` stops the components and
    starts them again with changed settings (the metadata database stays).
    """

    def __init__(
        self,
        work: Path,
        *,
        executor: str = CELERY,
        workers: int = 2,
        extra_env: Mapping[str, str] | None = None,
        name: str = "",
        source: Path = REPO,
    ) -> None:
        """``source``: the tree whose ``dags/``, ``plugins/`` and ``deploy/airflow-executor.env`` the
        deployment runs (default this checkout; ``bench_airflow.py --compare-ref`` passes an export of
        another commit, so two versions of the adapters are measured in one run, same library)."""
        if executor not in (CELERY, LOCAL):
            raise ValueError(f"executor {executor!r}: {CELERY} or {LOCAL}")
        self.work = work
        self.source = source
        self.executor = executor
        self.workers = workers if executor == CELERY else 0
        self.tag = name or uuid.uuid4().hex[:8]
        self.meta_db = f"ptsl_af_meta_{self.tag}_{uuid.uuid4().hex[:6]}"
        self.queue = f"ptsl-{self.tag}-{uuid.uuid4().hex[:6]}"  # this cluster's own Celery queue
        self.home = work / "airflow"
        self.logs = work / "components"
        self.port = free_port()
        self.jwt = secrets.token_urlsafe(32)
        self.extra_env = dict(extra_env or {})
        self.procs: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []
        self.healthy_seconds = 0.0
        self.execution_api_first_seconds = 0.0
        self.migrate_seconds = 0.0
        self._db_created = False

    # ------------------------------------------------------------------------------ environment

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "PAYTRACE_", "SL_DATABASE_URL"))
        }
        env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")
        if self.source != REPO:
            # the source's adapter package ahead of this checkout's (editable install on sys.path)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.source / "plugins"), env.get("PYTHONPATH", "")) if p
            )
        base = f"http://127.0.0.1:{self.port}"
        env.update(executor_settings(self.source / "deploy" / "airflow-executor.env"))
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url(self.meta_db),
                # psycopg 3 for the async engine too (Airflow would derive postgresql+asyncpg, not installed)
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": pg_url(self.meta_db, "postgresql+psycopg_async"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.source / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.source / "plugins"),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__API__BASE_URL": base,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt,  # the scheduler signs task tokens, the API checks
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
                # one API worker on a shared 2-core machine can take longer than the default 5 s to
                # answer a task's supervisor; a timed-out start fails the task before it runs
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
                "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg_url(self.meta_db),
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                "GX_ANALYTICS_ENABLED": "false",
            }
        )
        env.update(self.extra_env)
        return env

    def cli(self, args: list[str], *, timeout: float = 600) -> str:
        """``airflow <args>`` with the cluster's environment; its output goes to ``components/cli.log``."""
        self.logs.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["airflow", *args], env=self.env, capture_output=True, text=True, check=False, timeout=timeout
        )
        with (self.logs / "cli.log").open("a") as out:
            out.write(f"\n$ airflow {' '.join(args)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    def meta(self) -> psycopg.Connection[Any]:
        """A connection to the metadata database (for reading dag_run / task_instance)."""
        return psycopg.connect(pg_dsn(self.meta_db), autocommit=True)

    # -------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> AirflowCluster:
        try:
            self.create()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def create(self) -> None:
        """The metadata database, migrated."""
        create_database(self.meta_db)
        self._db_created = True
        started = time.perf_counter()
        self.cli(["db", "migrate"])
        self.migrate_seconds = time.perf_counter() - started

    def commands(self) -> list[tuple[str, list[str], dict[str, str]]]:
        """(name, airflow arguments, extra environment) of each component."""
        out: list[tuple[str, list[str], dict[str, str]]] = [
            ("api-server", ["api-server", "--port", str(self.port), "--host", "127.0.0.1"], {}),
            ("scheduler", ["scheduler"], {}),
            ("dag-processor", ["dag-processor"], {}),
        ]
        for i in range(1, self.workers + 1):
            out.append(
                (
                    f"worker{i}",
                    [
                        "celery",
                        "worker",
                        "--queues",
                        self.queue,
                        "--celery-hostname",
                        f"worker{i}@{self.tag}",
                    ],
                    # each worker serves its task logs on a port of its own (two workers, one host)
                    {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
                )
            )
        return out

    def start(self, timeout: float = 240) -> float:
        """Start every component in its own session; returns the seconds until all are healthy."""
        self.logs.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        env = self.env
        for name, args, extra in self.commands():
            out = (self.logs / f"{name}.log").open("ab")
            self.procs.append(
                subprocess.Popen(
                    ["airflow", *args],
                    env={**env, **extra},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            self.names.append(name)
        self.healthy_seconds = self.wait_healthy(started, timeout)
        return self.healthy_seconds

    def stop(self) -> None:
        procs, self.procs, self.names = self.procs, [], []
        stop_process_groups(procs)

    def restart(self, extra_env: Mapping[str, str]) -> float:
        """Stop, replace the project settings by ``extra_env``, start; seconds until healthy."""
        self.stop()
        self.extra_env = dict(extra_env)
        return self.start()

    def close(self) -> None:
        self.stop()
        if self.executor == CELERY:
            forget_queue(self.queue)
        if self._db_created and not os.environ.get("PAYTRACE_SL_KEEP_CLUSTER"):
            drop_database(self.meta_db)
            self._db_created = False

    def alive(self) -> dict[str, bool]:
        return {n: p.poll() is None for n, p in zip(self.names, self.procs, strict=True)}

    def wait_healthy(self, started: float, timeout: float) -> float:
        """api-server health: metadatabase, scheduler and dag processor healthy; every worker answers."""
        url = f"http://127.0.0.1:{self.port}/api/v2/monitor/health"
        while time.perf_counter() - started < timeout:
            for name, p in zip(self.names, self.procs, strict=True):
                if p.poll() is not None:
                    raise RuntimeError(f"Airflow {name} exited ({p.returncode}); see {self.logs}/{name}.log")
            with suppress(OSError, ValueError):
                with urllib.request.urlopen(url, timeout=5) as resp:  # loopback
                    health = json.loads(resp.read())
                states = {k: (v or {}).get("status") for k, v in health.items()}
                if all(states.get(k) == "healthy" for k in ("metadatabase", "scheduler", "dag_processor")):
                    if self.workers_ready():
                        self.warm_execution_api(timeout)
                        return time.perf_counter() - started
            time.sleep(1)
        raise RuntimeError(f"Airflow did not become healthy in {timeout:.0f} s; see {self.logs}")

    def warm_execution_api(self, timeout: float) -> None:
        """One request to the task execution API (``/execution/health``), timed.

        The api-server builds that API on its first request (tens of seconds on a busy host): without
        this the first task's supervisor makes it, times out, retries, and the first run measures it.
        A deployment's api-server healthcheck makes the same request (docs/performance.md)."""
        started = time.perf_counter()
        url = f"http://127.0.0.1:{self.port}/execution/health"
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback
            resp.read()
        self.execution_api_first_seconds = time.perf_counter() - started

    def workers_ready(self) -> bool:
        """Every Celery worker logged that it is ready to consume (``celery@… ready.``)."""
        for i in range(1, self.workers + 1):
            path = self.logs / f"worker{i}.log"
            if not path.exists() or " ready." not in path.read_text(errors="replace"):
                return False
        return True

    # ------------------------------------------------------------------------------ DAG runs

    def wait_dag_parsed(self, dag_id: str, timeout: float = 240, cron: str | None = None) -> None:
        """Wait until ``dag_id`` is in the metadata DB, unpaused (and with ``cron`` in its timetable)."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            with suppress(psycopg.Error), self.meta() as conn:
                row = conn.execute(
                    "SELECT timetable_summary, is_paused, is_stale FROM dag WHERE dag_id = %s", (dag_id,)
                ).fetchone()
                if row and (cron is None or cron in str(row[0])) and not row[1] and not row[2]:
                    return
            time.sleep(1)
        raise RuntimeError(f"{dag_id} was not parsed{f' with {cron}' if cron else ''} in {timeout:.0f} s")

    def backfill(self, dag_id: str, from_date: str, to_date: str, *, max_active_runs: int = 1) -> int:
        """``airflow backfill create`` (no reprocessing); returns the backfill's id."""
        self.cli(
            [
                "backfill",
                "create",
                "--dag-id",
                dag_id,
                "--from-date",
                from_date,
                "--to-date",
                to_date,
                "--reprocess-behavior",
                "none",
                "--max-active-runs",
                str(max_active_runs),
            ]
        )
        with self.meta() as conn:
            row = conn.execute("SELECT max(id) FROM backfill WHERE dag_id = %s", (dag_id,)).fetchone()
        if not row or row[0] is None:
            raise RuntimeError(f"no backfill of {dag_id} was created")
        return int(row[0])

    def wait_backfills(
        self, expected: Mapping[int, int], timeout: float, progress: Any = None
    ) -> dict[int, dict[str, int]]:
        """Wait until each backfill id has ``expected[id]`` runs finished (success or failed) and the
        scheduler has marked it completed; returns the run states per backfill."""
        started = time.perf_counter()
        last = ""
        while True:
            with self.meta() as conn:
                rows = conn.execute(
                    "SELECT backfill_id, state, count(*) FROM dag_run WHERE backfill_id = ANY(%s) "
                    "GROUP BY backfill_id, state",
                    (list(expected),),
                ).fetchall()
                completed = {
                    int(r[0])
                    for r in conn.execute(
                        "SELECT id FROM backfill WHERE id = ANY(%s) AND completed_at IS NOT NULL",
                        (list(expected),),
                    ).fetchall()
                }
            states: dict[int, dict[str, int]] = {b: {} for b in expected}
            for b, state, n in rows:
                states[int(b)][str(state)] = int(n)
            status = "; ".join(
                f"backfill {b}: " + ", ".join(f"{k} {v}" for k, v in sorted(s.items()))
                for b, s in states.items()
            )
            if progress is not None and status != last:
                progress(status)
                last = status
            done = all(
                s.get("success", 0) + s.get("failed", 0) >= expected[b] and b in completed
                for b, s in states.items()
            )
            if done:
                return states
            if time.perf_counter() - started > timeout:
                raise RuntimeError(
                    f"backfills not finished in {timeout:.0f} s: {status}; alive {self.alive()}"
                )
            dead = [n for n, ok in self.alive().items() if not ok]
            if dead:
                raise RuntimeError(f"Airflow components exited during the backfill: {dead}; see {self.logs}")
            time.sleep(1)

    def task_instances(self, dag_id: str | None = None) -> list[dict[str, Any]]:
        """Every task instance (of ``dag_id``) with its run's interval, times, hostname and Celery id."""
        sql = (
            "SELECT ti.dag_id, ti.run_id, ti.task_id, ti.state, ti.try_number, ti.hostname, ti.queue, "
            "ti.external_executor_id, ti.start_date, ti.end_date, ti.duration, dr.data_interval_start, "
            "dr.data_interval_end, dr.end_date, dr.state "
            "FROM task_instance ti JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id"
        )
        params: tuple[Any, ...] = ()
        if dag_id:
            sql += " WHERE ti.dag_id = %s"
            params = (dag_id,)
        keys = (
            "dag_id run_id task_id state try_number hostname queue external_executor_id start end duration "
            "interval_start interval_end run_end run_state"
        ).split()
        with self.meta() as conn:
            return [dict(zip(keys, row, strict=True)) for row in conn.execute(sql, params).fetchall()]

    def celery_task_workers(self) -> dict[str, str]:
        """Celery task id → the worker (``worker1`` …) whose log shows it received that task."""
        out: dict[str, str] = {}
        for i in range(1, self.workers + 1):
            path = self.logs / f"worker{i}.log"
            if not path.exists():
                continue
            for match in _RECEIVED.finditer(path.read_text(errors="replace")):
                out[match.group(1)] = f"worker{i}"
        return out
