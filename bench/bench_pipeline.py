"""End-to-end benchmark without the scheduler: PayTrace sandbox (HTTP) → validate → transform → load.

For each size N (transactions in one merchant day), in a fresh PostgreSQL database created here and
dropped afterwards:

1. start the PayTrace sandbox in its own process (one day, ``tx_per_day=N``), which generates the day
   (records and their JSON) *before* it serves, so extract times our client and not the sandbox's
   generator (the generation time is printed apart); seed the SL sandbox;
2. run the pipeline's own step functions (``paytrace_sl.pipeline.runner``: extract over HTTP, GX
   validate, transform, load through the SL writer), each in its own child process as Airflow runs each
   task, timing each step (imports excluded) and recording its peak RSS (``VmHWM``);
3. measure the physical limit of the load: PostgreSQL ``COPY`` of exactly the rows the writer produced
   (SL tables + our ledger) into a fresh replica with the same indexes;
4. measure a naive loader on a sample — one plain ``INSERT`` per row, autocommit, what a hand-written
   script does — and extrapolate per row.

It prints stage times, rows/s, the ratios (load vs COPY, pipeline vs COPY, load vs naive) and rows/s per
size (does cost grow linearly?). ``--profile load`` (or another stage) adds a cProfile summary.

    .venv/bin/python bench/bench_pipeline.py                          # 10k and 100k
    .venv/bin/python bench/bench_pipeline.py --sizes 10000,100000,1000000

Machine load matters (numbers are wall-clock): the ratios are measured in the same run for that reason.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import json
import os
import pstats
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    SEED,
    START,
    TIMEZONE,
    create_db,
    drop_db,
    dsn,
    load_average,
    pipeline_config,
    sandbox_day,
    stage_child,
    url,
)

WRITER_PROGRAM = "PTSL"
SL_TABLES = ("Batch", "ARDoc", "ARTran", "GLTran", "RefNbr")
LEDGER = "xPTLedger"


# ------------------------------------------------------------------------------- child: the pipeline


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


STAGES = ("extract", "validate", "transform", "load")


def run_stage_child(args: argparse.Namespace) -> dict[str, Any]:
    """Run one pipeline step for one day in this process (as an Airflow task runs in its own process)."""
    from paytrace_sl.pipeline import runner
    from paytrace_sl.pipeline.windows import day_window
    from paytrace_sl.sl.writer import SLWriter

    cfg = pipeline_config(Path(args.workdir), args.sl_url, args.paytrace_url)
    window = day_window(START, TIMEZONE)
    run_id = f"bench-{args.size}"
    step = {
        "extract": runner.extract_step,
        "validate": runner.validate_step,
        "transform": runner.transform_step,
        "load": runner.load_step,
    }[args.stage]

    # Writer-internal breakdown: the writer's own step hook, timed (bench-only wrapper, no behaviour change).
    writer_steps: dict[str, float] = collections.defaultdict(float)
    last: list[float] = []
    writer_time: list[float] = []
    original_init = SLWriter.__init__
    original_write_batch, original_prepare = SLWriter.write_batch, SLWriter.prepare

    def hook(name: str) -> None:
        now = time.perf_counter()
        if last:
            writer_steps[name] += now - last[0]
            last[0] = now
        else:
            last.append(now)

    def init(self: SLWriter, *a: Any, **kw: Any) -> None:
        kw.setdefault("step_hook", hook)
        original_init(self, *a, **kw)

    # write_plan and the load step's batch-at-a-time loop both go through prepare + write_batch
    def timed(original: Any) -> Any:
        def wrapper(self: SLWriter, arg: Any) -> Any:
            started = time.perf_counter()
            last[:] = [started]
            try:
                return original(self, arg)
            finally:
                writer_time.append(time.perf_counter() - started)

        return wrapper

    SLWriter.__init__ = init  # type: ignore[method-assign]
    SLWriter.write_batch = timed(original_write_batch)  # type: ignore[method-assign]
    SLWriter.prepare = timed(original_prepare)  # type: ignore[method-assign]

    rss_before = _peak_rss_mb()
    profiler = cProfile.Profile() if args.stage in (args.profile or ()) else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    summary = step(cfg, window, run_id)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - started
    profile_text = ""
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats("paytrace_sl|psycopg/cursor", 30)
        stats.sort_stats("tottime").print_stats(15)
        profile_text = out.getvalue()
    return {
        "seconds": seconds,
        "writer_seconds": sum(writer_time),
        "writer_steps": dict(writer_steps),
        "summary": summary,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_after_imports_mb": rss_before,
        "profile": profile_text,
    }


def run_pipeline(
    args: argparse.Namespace, size: int, sl_url: str, paytrace_url: str, work: str
) -> dict[str, Any]:
    """The four steps, each in its own child process; per-stage time and peak RSS."""
    stages: dict[str, float] = {}
    summaries: dict[str, Any] = {}
    peak_rss: dict[str, float] = {}
    result: dict[str, Any] = {"profile": "", "writer_seconds": 0.0, "writer_steps": {}}
    for stage in args.stages:
        out = stage_child(stage, size, sl_url, paytrace_url, work, profile=tuple(args.profile or ()))
        stages[stage] = out["seconds"]
        summaries[stage] = out["summary"]
        peak_rss[stage] = out["peak_rss_mb"]
        result["profile"] += out["profile"]
        if stage == "load":
            result["writer_seconds"] = out["writer_seconds"]
            result["writer_steps"] = out["writer_steps"]
            result["rss_after_imports_mb"] = out["rss_after_imports_mb"]
    result.update(stages=stages, summaries=summaries, peak_rss_by_stage=peak_rss)
    result["peak_rss_mb"] = max(peak_rss.values())
    return result


# ----------------------------------------------------------------------- parent: baselines and report


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    """Columns a loader writes: all but the rowversion ``tstamp`` and identity columns (DB-generated)."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> "
        "'tstamp' AND is_identity = 'NO' AND coalesce(column_default, '') NOT LIKE 'nextval%%' "
        "ORDER BY ordinal_position",
        (table.lower(),),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _written_filter(table: str) -> str:
    return "" if table == LEDGER else f" WHERE crtd_prog = '{WRITER_PROGRAM}'"


def export_written_rows(source_db: str) -> dict[str, tuple[list[str], bytes, int]]:
    """Per table: columns, COPY text of exactly the rows the writer produced, and their count."""
    out: dict[str, tuple[list[str], bytes, int]] = {}
    with psycopg.connect(dsn(source_db)) as conn:
        for table in (*SL_TABLES, LEDGER):
            cols = _columns(conn, table)
            buf = bytearray()
            select = f"SELECT {', '.join(cols)} FROM {table.lower()}{_written_filter(table)}"
            with conn.cursor().copy(f"COPY ({select}) TO STDOUT") as copy:
                for block in copy:
                    buf += block
            count = conn.execute(f"SELECT count(*) FROM {table.lower()}{_written_filter(table)}").fetchone()
            out[table] = (cols, bytes(buf), int(count[0]) if count else 0)
    return out


def _fresh_replica(name: str) -> None:
    """An empty SL replica (SL's DDL, same indexes) plus our tables, as the writer's database has."""
    import sqlalchemy as sa

    from paytrace_sl.sl.engine import create_sl_engine
    from paytrace_sl.sl.own_tables import install
    from paytrace_sl_sandbox.sl_seed import create_sl_tables

    create_db(name)
    engine = create_sl_engine(url(name))
    try:
        with engine.begin() as conn:
            create_sl_tables(conn)
        install(engine)
        with engine.connect() as conn:  # warm the catalog caches like the writer's connection is
            conn.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def measure_copy(replica: str, data: dict[str, tuple[list[str], bytes, int]]) -> float:
    """Seconds to COPY the exported rows into the fresh replica, one transaction (the physical limit)."""
    with psycopg.connect(dsn(replica)) as conn:
        started = time.perf_counter()
        with conn.transaction():
            for table, (cols, payload, count) in data.items():
                if not count:
                    continue
                with conn.cursor().copy(f"COPY {table.lower()} ({', '.join(cols)}) FROM STDIN") as copy:
                    copy.write(payload)
        return time.perf_counter() - started


def measure_naive(
    source_db: str, replica: str, data: dict[str, tuple[list[str], bytes, int]], sample: int
) -> tuple[float, int]:
    """Seconds and rows for one INSERT per row (autocommit) of a proportional sample of the rows."""
    total = sum(count for _, _, count in data.values())
    with psycopg.connect(dsn(replica), autocommit=True) as dst:
        for table in data:
            dst.execute(f"TRUNCATE {table.lower()}")
    rows_by_table: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(dsn(source_db)) as src:
        for table, (cols, _, count) in data.items():
            k = max(1, round(sample * count / total)) if count else 0
            if k:
                rows_by_table[table] = src.execute(
                    f"SELECT {', '.join(cols)} FROM {table.lower()}{_written_filter(table)} LIMIT {k}"
                ).fetchall()
    done = 0
    with psycopg.connect(dsn(replica), autocommit=True) as dst:
        started = time.perf_counter()
        for table, rows in rows_by_table.items():
            cols = data[table][0]
            sql = f"INSERT INTO {table.lower()} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
            for row in rows:
                dst.execute(sql, row)
                done += 1
        seconds = time.perf_counter() - started
    return seconds, done


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.sl_seed import SandboxSLConfig, init_sandbox

    tag = uuid.uuid4().hex[:8]
    db, replica = f"ptsl_pipe_{tag}", f"ptsl_pipe_{tag}_copy"
    result: dict[str, Any] = {"size": size, "load_average_start": load_average()}
    with sandbox_day(size) as (paytrace_url, generated):
        try:
            result["sandbox_generate_seconds"] = generated
            create_db(db)
            started = time.perf_counter()
            init_sandbox(
                url(db),
                MerchantConfig(seed=SEED, start=START, days=1, tx_per_day=size),
                sl_config=SandboxSLConfig(ar_last_bat_nbr="005000"),  # room for a 1M day's invoice batches
            )
            result["seed_seconds"] = time.perf_counter() - started
            with tempfile.TemporaryDirectory(prefix="ptsl-bench-") as work:
                result.update(run_pipeline(args, size, url(db), paytrace_url, work))
            if "load" not in args.stages:  # --stages without load: no rows to compare with COPY
                result["load_average_end"] = load_average()
                return result
            data = export_written_rows(db)
            result["rows"] = {t: c for t, (_, _, c) in data.items()}
            _fresh_replica(replica)
            result["copy_seconds"] = measure_copy(replica, data)
            naive_s, naive_rows = measure_naive(db, replica, data, args.naive_sample)
            result["naive_sample_seconds"], result["naive_sample_rows"] = naive_s, naive_rows
            result["load_average_end"] = load_average()
        finally:
            if not args.keep:
                drop_db(db)
                drop_db(replica)
    return result


def report(results: list[dict[str, Any]]) -> None:
    print()
    print(
        f"{'size':>9} {'extract':>8} {'validate':>9} {'transform':>10} {'load':>7} {'total':>7} "
        f"{'SL+ledger rows':>15} {'load rows/s':>12} {'pipeline tx/s':>14} {'peak RSS MB':>12}"
    )
    for r in results:
        s = r["stages"]
        total = sum(s.values())
        rows = sum(r["rows"].values())
        print(
            f"{r['size']:>9} {s['extract']:>8.2f} {s['validate']:>9.2f} {s['transform']:>10.2f} "
            f"{s['load']:>7.2f} {total:>7.2f} {rows:>15} {rows / s['load']:>12.0f} "
            f"{r['summaries']['extract']['transactions'] / total:>14.0f} {r['peak_rss_mb']:>12.0f}"
        )
    print()
    for r in results:
        s = r["stages"]
        rows = sum(r["rows"].values())
        total = sum(s.values())
        copy_rate = rows / r["copy_seconds"]
        naive_per_row = r["naive_sample_seconds"] / max(1, r["naive_sample_rows"])
        naive_total = naive_per_row * rows
        print(f"size {r['size']}: rows written {r['rows']}")
        print(f"  load average {r['load_average_start']} → {r['load_average_end']}")
        print(f"  SL sandbox seed (not part of the pipeline): {r['seed_seconds']:.1f}s")
        print(
            f"  PayTrace sandbox day generated before serving (not part of extract): "
            f"{r['sandbox_generate_seconds']:.1f}s"
        )
        print(
            "  peak RSS per stage (each in its own process, as under Airflow): "
            + ", ".join(f"{k} {v:,.0f} MB" for k, v in r["peak_rss_by_stage"].items())
            + f" (imports alone: {r['rss_after_imports_mb']:,.0f} MB)"
        )
        print(f"  raw COPY of the same rows: {r['copy_seconds']:.2f}s = {copy_rate:,.0f} rows/s")
        print(
            f"  writer (write_batch) {r['writer_seconds']:.2f}s = {rows / r['writer_seconds']:,.0f} rows/s; "
            f"load step {s['load']:.2f}s = {rows / s['load']:,.0f} rows/s"
        )
        print(
            f"  naive INSERT per row (sample {r['naive_sample_rows']}): {1 / naive_per_row:,.0f} rows/s → "
            f"{naive_total:.1f}s extrapolated"
        )
        print(
            f"  load vs COPY: {r['copy_seconds'] / s['load']:.0%} of COPY throughput "
            f"(writer alone {r['copy_seconds'] / r['writer_seconds']:.0%}; target ≥ 50%)"
        )
        print(
            f"  pipeline vs COPY: {r['copy_seconds'] / total:.0%}; load vs naive: "
            f"{naive_total / s['load']:.1f}x faster (target ≥ 20x)"
        )
        steps = sorted(r["writer_steps"].items(), key=lambda kv: -kv[1])
        print("  where the writer's time goes: " + ", ".join(f"{k} {v:.2f}s" for k, v in steps[:8]))
        if r.get("profile"):
            print(r["profile"])
        sys.stdout.flush()
    if len(results) > 1:
        rates = [(r["size"], sum(r["rows"].values()) / r["stages"]["load"]) for r in results]
        e2e = [(r["size"], r["size"] / sum(r["stages"].values())) for r in results]
        print(
            "linearity (rows/s of the load, tx/s end to end, per size): "
            + "; ".join(f"{n}: {a:,.0f} / {b:,.0f}" for (n, a), (_, b) in zip(rates, e2e, strict=True))
        )


def report_stages(r: dict[str, Any]) -> None:
    """The stages of a ``--stages`` run without load: seconds and peak RSS of each."""
    print(f"size {r['size']}: load average {r['load_average_start']} → {r['load_average_end']}")
    print(
        f"  PayTrace sandbox day generated before serving (not timed): {r['sandbox_generate_seconds']:.1f}s"
    )
    for stage, seconds in r["stages"].items():
        print(f"  {stage}: {seconds:.2f}s, peak RSS {r['peak_rss_by_stage'][stage]:,.0f} MB")
    extract = r["summaries"].get("extract")
    if extract:
        print(f"  extract summary: {json.dumps(extract, sort_keys=True)}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated transaction counts")
    parser.add_argument("--naive-sample", type=int, default=2000, help="rows for the naive loader")
    parser.add_argument(
        "--profile",
        action="append",
        choices=("extract", "validate", "transform", "load"),
        help="cProfile summary of this stage (repeatable)",
    )
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="comma-separated stages to run, in order (e.g. 'extract'); COPY and naive need 'load'",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sl-url", help=argparse.SUPPRESS)
    parser.add_argument("--paytrace-url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_stage_child(args), default=str))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if not set(args.stages) <= set(STAGES):
        parser.error(f"--stages: choose from {', '.join(STAGES)}")
    print(f"machine: {os.cpu_count()} cores, load average {load_average()}")
    results = []
    for size in sizes:
        print(f"-- {size} transactions ...", flush=True)
        results.append(bench_size(size, args))
        if "load" not in args.stages:
            report_stages(results[-1])
        else:
            report(results[-1:])  # each size as soon as it is measured (a later size may take long)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    if len(results) > 1 and "load" in args.stages:
        print("\n== all sizes ==")
        report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
