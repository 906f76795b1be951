"""Where the validate step's peak RSS happens (issue 17): resident memory per phase of one validate run.

Runs the real validate step (``runner.validate_step``) once, in this process, on a day landed by
``bench_validate.py`` (its ``--cache`` folder), and reports for each phase — building the landing frame,
``_gx_frame``, GX context/checkpoint set-up, the checkpoint run, Data Docs, what follows — the peak RSS
reached *during* that phase (``VmHWM`` reset through ``/proc/self/clear_refs`` at each phase change) and
the RSS when it ended. Inside the checkpoint run a sampler thread notes the GX call stack (the metric
being computed) at the highest RSS seen. Linux only; the figures are load-independent, the seconds are not.

    flock /work/bench.lock .venv/bin/python bench/profile_validate_memory.py --cache /tmp/c --size 100000
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class Phases:
    """Peak RSS per phase: on each change, the peak since the last change goes to the phase that ends."""

    def __init__(self) -> None:
        self.stack: list[str] = ["start"]
        self.rows: list[tuple[str, float, float, float]] = []  # phase, peak MB, end MB, seconds
        self.since = time.perf_counter()

    def _switch(self) -> None:
        now = time.perf_counter()
        self.rows.append((" > ".join(self.stack), _status("VmHWM"), _status("VmRSS"), now - self.since))
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self.since = now

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._switch()
            self.stack.append(label)
            try:
                return original(*args, **kwargs)
            finally:
                self._switch()
                self.stack.pop()

        setattr(owner, attr, wrapper)


class PeakStack(threading.Thread):
    """Samples VmRSS; at each new maximum while ``active``, keeps the main thread's GX frames."""

    def __init__(self, main_ident: int) -> None:
        super().__init__(daemon=True)
        self.main_ident = main_ident
        self.active = False
        self.stop = False
        self.peak = 0.0
        self.where: list[str] = []

    def run(self) -> None:
        while not self.stop:
            time.sleep(0.002)
            if not self.active:
                continue
            rss = _status("VmRSS")
            if rss > self.peak:
                self.peak = rss
                frame = sys._current_frames().get(self.main_ident)
                stack = traceback.extract_stack(frame) if frame is not None else []
                self.where = [
                    f"{Path(f.filename).name}:{f.lineno} {f.name}"
                    for f in stack
                    if any(part in f.filename for part in ("great_expectations", "pandas", "paytrace_sl"))
                ][-14:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="bench_validate.py's --cache folder")
    parser.add_argument("--size", type=int, required=True)
    args = parser.parse_args(argv)

    from paytrace_sl.pipeline import checks, runner
    from paytrace_sl.pipeline.flows import payments
    from paytrace_sl.pipeline.windows import day_window
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.sl_seed import init_sandbox

    work = Path(args.cache) / str(args.size)
    if not (work / "landed").exists():
        raise SystemExit(f"no landed day in {work}: run bench_validate.py --cache {args.cache} first")
    gx_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ptsl-prof-gx-{uuid.uuid4().hex[:8]}"
    db = f"ptsl_prof_{uuid.uuid4().hex[:8]}"
    bc.create_db(db)
    phases = Phases()
    try:
        init_sandbox(bc.url(db), MerchantConfig(seed=bc.SEED, start=bc.START, days=1, tx_per_day=100))
        cfg = bc.pipeline_config(work, bc.url(db), bc.NO_PAYTRACE, gx_dir=gx_dir)
        import great_expectations  # noqa: F401 - the import is not what is measured here
        from great_expectations.checkpoint.checkpoint import Checkpoint

        phases.wrap(payments, "_frame_from_jsonl", "landing frame")
        phases.wrap(checks, "_gx_frame", "_gx_frame")
        phases.wrap(checks, "_context", "GX context")
        phases.wrap(checks, "_checkpoint", "GX suite/checkpoint")
        phases.wrap(Checkpoint, "run", "checkpoint.run")
        phases.wrap(checks, "publish", "Data Docs")
        phases.wrap(checks, "validate_window", "validate_window")
        sampler = PeakStack(threading.get_ident())
        sampler.start()
        original_run = Checkpoint.run

        def run(*a: Any, **kw: Any) -> Any:
            sampler.active = True
            try:
                return original_run(*a, **kw)
            finally:
                sampler.active = False

        Checkpoint.run = run  # type: ignore[method-assign]
        started = time.perf_counter()
        phases._switch()
        phases.stack = ["validate step"]
        summary = runner.validate_step(cfg, day_window(bc.START, bc.TIMEZONE), f"bench-{args.size}")
        phases._switch()
        sampler.stop = True
        seconds = time.perf_counter() - started
        print(f"size {args.size}: {seconds:.1f} s, load {bc.load_average()}, {summary}")
        print(f"{'phase':<70} {'peak MB':>8} {'end MB':>8} {'s':>7}")
        for name, peak, end, seconds in phases.rows:
            print(f"{name:<70} {peak:8.0f} {end:8.0f} {seconds:7.1f}")
        print(f"checkpoint.run sampled peak {sampler.peak:.0f} MB at:")
        for line in sampler.where:
            print("   ", line)
    finally:
        bc.drop_db(db)
        import shutil

        shutil.rmtree(gx_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
