"""`make airflow` (scripts/airflow-standalone.sh): PostgreSQL metadata, connections and schedule Variables in
the metadata DB, a banner that says where each setting comes from, and one SIGINT stops everything.

The script is run for real: Airflow standalone (api-server, scheduler, dag-processor, triggerer) on a
free port with its own AIRFLOW_HOME and a fresh PostgreSQL metadata database, the PayTrace sandbox and
the SL sandbox. The test sends one SIGINT to the script's process group, as a terminal's Ctrl-C does, and
then looks for any process still alive in the sessions the script and its descendants ran in.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from sl_replica import PG_ADMIN_DSN

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "airflow-standalone.sh"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, session id) of ``pid``, or None when it is gone (zombies count as gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else (int(fields[1]), int(fields[3]))


def _live_pids() -> dict[int, tuple[int, int]]:
    out: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _stat(int(entry.name))) is not None:
            out[int(entry.name)] = info
    return out


def _sessions_of_descendants(root: int) -> set[int]:
    """Session ids of ``root`` and every process below it. Airflow renames its processes
    (setproctitle overwrites /proc/PID/environ), so they are found by session: the script starts
    standalone in a session of its own (setsid), and its components stay in it."""
    procs = _live_pids()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _sid) in procs.items():
        children.setdefault(ppid, []).append(pid)
    sessions, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in procs:
            sessions.add(procs[pid][1])
        todo.extend(children.get(pid, []))
    return sessions


def _in_sessions(sessions: set[int]) -> list[int]:
    return sorted(pid for pid, (_ppid, sid) in _live_pids().items() if sid in sessions)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _decrypt(home: Path, stored: str) -> str:
    """A connection field as Airflow stored it: Fernet-encrypted with the key in airflow.cfg, if any."""
    key = ""
    for line in (home / "airflow.cfg").read_text().splitlines():
        if line.replace(" ", "").startswith("fernet_key="):
            key = line.split("=", 1)[1].strip()
    if not key:
        return stored
    from cryptography.fernet import Fernet

    return Fernet(key.encode()).decrypt(stored.encode()).decode()


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.timeout(900)  # standalone start-up on a busy 2-core box, the banner, then the stop
def test_make_airflow_uses_postgres_and_one_sigint_stops_everything(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    api_port, sandbox_port = _free_port(), _free_port()
    meta_db = f"ptsl_af_{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PAYTRACE", "SL_DATABASE"))}
    env.update(
        PAYTRACE_SL_AIRFLOW_HOME=str(home),
        PAYTRACE_SL_AIRFLOW_DB=meta_db,
        AIRFLOW__API__PORT=str(api_port),
        # the scheduler's and triggerer's log servers too: another Airflow on this machine (a second
        # worker's test, a benchmark, someone's `make airflow`) holds the defaults 8793/8794
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(_free_port()),
        PAYTRACE_SANDBOX_PORT=str(sandbox_port),
        PAYTRACE_SANDBOX_DAYS="1",
        PAYTRACE_SANDBOX_TX_PER_DAY="10",
        # someone's environment connection must not override the metadata DB's (UI-editable) one
        AIRFLOW_CONN_DYNAMICS_SL_DEFAULT='{"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": "sqlite:///x"}}',
    )
    log = (tmp_path / "airflow.log").open("w")
    proc = subprocess.Popen(
        ["bash", str(SCRIPT)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    sessions: set[int] = set()
    try:
        deadline = time.monotonic() + 300
        while not _healthy(api_port):
            # noted while starting too: if the script dies, `finally` still stops what it started
            sessions |= _sessions_of_descendants(proc.pid)
            assert proc.poll() is None, (tmp_path / "airflow.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Airflow did not answer within 300 s"
            time.sleep(2)
        sessions |= _sessions_of_descendants(proc.pid)
        assert len(_in_sessions(sessions)) >= 4, "the script, the sandbox and Airflow's components"
        # connections are in the metadata DB (PostgreSQL), with the sandbox's SL URL, not the env's
        with psycopg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{meta_db}") as conn:
            rows: dict[str, str] = dict(conn.execute("SELECT conn_id, extra FROM connection").fetchall())
        assert set(rows) >= {"paytrace_default", "dynamics_sl_default"}
        extra = json.loads(_decrypt(home, rows["dynamics_sl_default"]))
        assert extra["sqlalchemy_url"].endswith("sl-sandbox.db")
        # the schedule settings are Variables in the metadata DB (UI-editable), not exported variables
        with psycopg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{meta_db}") as conn:
            keys = {k for (k,) in conn.execute("SELECT key FROM variable").fetchall()}
        assert keys >= {"paytrace_sl_interval", "paytrace_sl_start_date", "paytrace_sl_end_date"}
        # the banner says what the tasks will use and where it comes from
        deadline = time.monotonic() + 120
        while "Stop:        Ctrl-C" not in (text := (tmp_path / "airflow.log").read_text()):
            assert time.monotonic() < deadline, text[-3000:]
            time.sleep(1)
        assert "<- connection dynamics_sl_default, metadata DB" in text, text[-3000:]
        assert "paytrace_sl_interval:    daily <- Variable paytrace_sl_interval" in text, text[-3000:]
        assert "/paytrace-sl/data-docs/" in text

        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what one Ctrl-C in the terminal sends
        proc.wait(timeout=60)
        stopped_in = time.monotonic() - started
        leftovers: list[int] = []
        for _ in range(20):
            leftovers = _in_sessions(sessions)
            if not leftovers:
                break
            time.sleep(0.5)
        assert leftovers == [], f"processes left after one SIGINT: {leftovers}"
        assert stopped_in < 45
        assert "stopped." in (tmp_path / "airflow.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _in_sessions(sessions):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        _drop(meta_db)
