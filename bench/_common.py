"""What the bench scripts share, so each states only what it measures: fresh PostgreSQL databases (the
helpers of ``tests/support/airflow_cluster``, as the tests and ``bench_airflow.py`` use them), the load
average, the sandbox day (seed, date, zone) served by its own process, one pipeline step run in a child
process of ``bench_pipeline.py`` (as an Airflow task runs), one landed day cached per size, and the
``--sizes/--cache/--code/--json`` arguments of the step benchmarks (``bench_validate.py``,
``bench_transform.py``) with their loop over sizes."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from airflow_cluster import create_database as create_db
from airflow_cluster import drop_database as drop_db
from airflow_cluster import pg_dsn as dsn
from airflow_cluster import pg_url as url

__all__ = [
    "NO_PAYTRACE",
    "SEED",
    "START",
    "TIMEZONE",
    "add_day_arguments",
    "code_env",
    "code_label",
    "codes",
    "create_db",
    "drop_db",
    "dsn",
    "land_day",
    "load_average",
    "pipeline_config",
    "run_sizes",
    "sandbox_day",
    "stage_child",
    "url",
]

START = dt.date(2025, 4, 1)
SEED = 42
TIMEZONE = "America/Los_Angeles"
NO_PAYTRACE = "http://127.0.0.1:9"  # for steps that do not call PayTrace (validate, transform)
PIPELINE_SCRIPT = Path(__file__).resolve().with_name("bench_pipeline.py")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------------------------- sandbox day

# The sandbox serves a pre-generated day: its records (and their JSON) are made before the URL is
# announced, so the extract stage times our client (HTTP, parse, landing), not the sandbox's generator.
SANDBOX_CHILD = """
import datetime as dt, sys, time, types
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
merchant = MerchantConfig(seed={seed}, start=dt.date.fromisoformat("{start}"), days=1, tx_per_day={n})
cfg = SandboxConfig(merchant)
server = SandboxServer(cfg, port=0)
sim, started = server.sim, time.perf_counter()
made, day = {{}}, sim.config.start
while day <= sim.end:
    made[day] = [
        types.SimpleNamespace(
            transaction_type=r.transaction_type, status_code=r.status_code, status_message=r.status_message,
            customer_id=r.customer_id, transaction_id=r.transaction_id, to_json=(lambda j=r.to_json(): j),
        )
        for r in sim.rows_for_day(day, False)
    ]
    day += dt.timedelta(days=1)
generate = sim.rows_for_day
def served(d, include_bin=False):
    return generate(d, True) if include_bin else iter(made.get(d, ()))
sim.rows_for_day = served
seconds = time.perf_counter() - started
server.start()
print(server.url, seconds, flush=True)
sys.stdin.read()
server.stop()
"""


@contextmanager
def sandbox_day(size: int) -> Iterator[tuple[str, float]]:
    """The PayTrace sandbox serving one day of ``size`` transactions: its URL and generation seconds."""
    sandbox = subprocess.Popen(
        [sys.executable, "-c", SANDBOX_CHILD.format(seed=SEED, start=START.isoformat(), n=size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        paytrace_url, generated = sandbox.stdout.readline().split()
        yield paytrace_url, float(generated)
    finally:
        if sandbox.stdin is not None:
            sandbox.stdin.close()
        try:
            sandbox.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a 1M-transaction sandbox on a busy machine: stop it
            sandbox.kill()
            sandbox.wait()


# ------------------------------------------------------------------------------- pipeline step child


def pipeline_config(work: Path, sl_url: str, paytrace_url: str, gx_dir: Path | None = None) -> Any:
    """The ``PipelineConfig`` of a bench day: sandbox mapping and credentials, landing under ``work``."""
    from paytrace_sl.paytrace.config import PayTraceSettings
    from paytrace_sl.pipeline import runner
    from paytrace_sl_sandbox.demo import SANDBOX_PASSWORD, SANDBOX_USER, write_sandbox_mapping

    mapping = work / "mapping.yaml"
    return runner.PipelineConfig(
        sl_url=sl_url,
        paytrace=PayTraceSettings(
            url=paytrace_url,
            username=SANDBOX_USER,
            password=SANDBOX_PASSWORD,
            timezone=TIMEZONE,
            requests_per_second=0,
        ),
        mapping_path=mapping if mapping.exists() else write_sandbox_mapping(mapping),
        landing_dir=work / "landing",
        gx_dir=gx_dir or work / "gx",
        lookback=dt.timedelta(0),
    )


def stage_child(
    stage: str,
    size: int,
    sl_url: str,
    paytrace_url: str,
    work: Path | str,
    *,
    env: dict[str, str] | None = None,
    profile: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One pipeline step of the bench day in its own process (``bench_pipeline.py --child``): its output."""
    cmd = [sys.executable, str(PIPELINE_SCRIPT), "--child", "--stage", stage, "--size", str(size)]
    cmd += ["--sl-url", sl_url, "--paytrace-url", paytrace_url, "--workdir", str(work)]
    for name in profile:
        cmd += ["--profile", name]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{stage} child failed:\n{done.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def land_day(size: int, work: Path, sl_url: str) -> None:
    """Extract one sandbox day of ``size`` transactions into ``work`` (once; reused afterwards)."""
    if (work / "landed").exists():
        return
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with sandbox_day(size) as (paytrace_url, _generated):
        out = stage_child("extract", size, sl_url, paytrace_url, work)
    (work / "landed").write_text(json.dumps(out["summary"], default=str))


# ---------------------------------------------------------------------- step benchmarks' arguments


def add_day_arguments(parser: argparse.ArgumentParser, cache: str) -> None:
    """``--sizes``, ``--cache`` (default ``$TMPDIR/<cache>``), ``--code`` and ``--json``."""
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated transaction counts")
    parser.add_argument(
        "--cache",
        default=str(Path(os.environ.get("TMPDIR", "/tmp")) / cache),
        help="where the landed days are kept",
    )
    parser.add_argument(
        "--code",
        help="comma-separated checkouts' include/ folders to put first on PYTHONPATH, '.' for this one; "
        "their runs are interleaved (e.g. /tmp/main/include,.)",
    )
    parser.add_argument("--json", help="also write the raw results to this file")


def codes(args: argparse.Namespace) -> list[str]:
    """The ``--code`` checkouts, '.' (this one) when none is given."""
    return [c.strip() for c in (args.code or ".").split(",")]


def code_env(code: str) -> dict[str, str]:
    """The environment of a child running ``code`` (an include/ folder, '.' for this checkout)."""
    env = dict(os.environ)
    if code != ".":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
        contracts = Path(code).resolve().parent / "data_contracts"
        if contracts.is_dir():  # that checkout's contracts, not this one's
            env["PAYTRACE_SL_CONTRACTS_DIR"] = str(contracts)
    return env


def code_label(code: str) -> str:
    return "this checkout" if code == "." else code


def run_sizes(args: argparse.Namespace, bench_size: Callable[[int, argparse.Namespace], Any]) -> int:
    """``bench_size`` per ``--sizes``; the results so far written to ``--json`` after each size."""
    print(f"machine: {os.cpu_count()} cores, load average {load_average()}; code {args.code or '.'}")
    results: dict[int, Any] = {}
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        results[size] = bench_size(size, args)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0
