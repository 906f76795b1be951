"""The validate step on its own (issue 17): time and peak RSS at given sizes, cold and warm GX directory.

For each size N the PayTrace sandbox serves one merchant day of N transactions and the real extract step
lands it once (cached under ``--cache``, so several invocations — e.g. this branch and ``main`` via
``--code`` — validate the very same landing file). Then the real validate step
(``runner.validate_step``: landing file → frame → Great Expectations → dead letters → validated file) runs
in its own process, as an Airflow task does, ``--repeat`` times: the first with an empty GX directory
(context, suite and checkpoint created), the next ones reusing it (the steady state of a deployment).
Timing excludes the interpreter's start-up and the top-level imports; the GX import is inside the step.

    .venv/bin/python bench/bench_validate.py --sizes 10000,100000
    flock /work/bench.lock .venv/bin/python bench/bench_validate.py --sizes 1000000 --repeat 1
    .venv/bin/python bench/bench_validate.py --sizes 100000 --code /tmp/main/include,.  # main vs this
    .venv/bin/python bench/bench_validate.py --sizes 100000 --profile                   # + cProfile
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pipeline as bp  # the pipeline bench's sandbox, database and child helpers

DEFAULT_CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "ptsl-bench-validate"


def _child(
    stage: str, size: int, sl_url: str, paytrace_url: str, work: Path, env: dict[str, str], profile: bool
) -> dict[str, Any]:
    cmd = [sys.executable, bp.__file__, "--child", "--stage", stage, "--size", str(size)]
    cmd += ["--sl-url", sl_url, "--paytrace-url", paytrace_url, "--workdir", str(work)]
    if profile:
        cmd += ["--profile", stage]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{stage} child failed:\n{done.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _land(size: int, work: Path, sl_url: str) -> None:
    """Extract one sandbox day of ``size`` transactions into ``work`` (once; reused afterwards)."""
    if (work / "landed").exists():
        return
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sandbox = subprocess.Popen(
        [sys.executable, "-c", bp.SANDBOX_CHILD.format(seed=bp.SEED, start=bp.START.isoformat(), n=size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        paytrace_url, _generated = sandbox.stdout.readline().split()
        out = _child("extract", size, sl_url, paytrace_url, work, dict(os.environ), False)
        (work / "landed").write_text(json.dumps(out["summary"], default=str))
    finally:
        if sandbox.stdin is not None:
            sandbox.stdin.close()
        try:
            sandbox.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a 1M-transaction sandbox on a busy machine: stop it
            sandbox.kill()
            sandbox.wait()


def bench_size(size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.sl_seed import init_sandbox

    db = f"ptsl_val_{uuid.uuid4().hex[:8]}"
    bp._create_db(db)
    try:
        # validate reads and writes only our own tables (run history, dead letters): a small seed will do
        init_sandbox(bp._url(db), MerchantConfig(seed=bp.SEED, start=bp.START, days=1, tx_per_day=100))
        work = Path(args.cache) / str(size)
        _land(size, work, bp._url(db))
        codes = [c.strip() for c in (args.code or ".").split(",")]
        for i in range(len(codes)):
            shutil.rmtree(work / f"gx-{i}", ignore_errors=True)
        shutil.rmtree(work / "gx", ignore_errors=True)
        runs = []
        for attempt in range(args.repeat):
            for i, code in enumerate(codes):  # interleaved: each code sees the same machine load
                env = dict(os.environ)
                if code != ".":
                    env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
                    contracts = Path(code).resolve().parent / "data_contracts"
                    if contracts.is_dir():  # that checkout's contracts, not this one's
                        env["PAYTRACE_SL_CONTRACTS_DIR"] = str(contracts)
                if (work / f"gx-{i}").exists():
                    (work / f"gx-{i}").rename(work / "gx")
                load = bp._load_average()
                try:
                    out = _child("validate", size, bp._url(db), "http://127.0.0.1:9", work, env, args.profile)
                finally:
                    if (work / "gx").exists():
                        (work / "gx").rename(work / f"gx-{i}")
                out["code"] = "this checkout" if code == "." else code
                out["gx_dir"] = "empty" if attempt == 0 else "reused"
                out["load_average"] = f"{load} → {bp._load_average()}"
                runs.append(out)
                s = out["summary"]
                print(
                    f"{size:>9} {out['code'][-28:]:>28} {out['gx_dir']:>6} validate {out['seconds']:7.2f} s  "
                    f"peak RSS {out['peak_rss_mb']:6.0f} MB "
                    f"(after imports {out['rss_after_imports_mb']:.0f})  "
                    f"checked {s['checked']} passed {s['passed']} dead-lettered {s['dead_lettered']}  "
                    f"load {out['load_average']}",
                    flush=True,
                )
                if out.get("profile"):
                    print(out["profile"], flush=True)
        return runs
    finally:
        bp._drop_db(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated transaction counts")
    parser.add_argument("--repeat", type=int, default=2, help="validate runs per size (first: empty GX dir)")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the landed days are kept")
    parser.add_argument(
        "--code",
        help="comma-separated checkouts' include/ folders to put first on PYTHONPATH, '.' for this one; "
        "their runs are interleaved (e.g. /tmp/main/include,.)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile summary of each validate run")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, load average {bp._load_average()}; code {args.code or '.'}")
    results: dict[int, list[dict[str, Any]]] = {}
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        results[size] = bench_size(size, args)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
