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
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc  # the benches' database, sandbox day, step child and arguments


def bench_size(size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.sl_seed import init_sandbox

    db = f"ptsl_val_{uuid.uuid4().hex[:8]}"
    bc.create_db(db)
    try:
        # validate reads and writes only our own tables (run history, dead letters): a small seed will do
        init_sandbox(bc.url(db), MerchantConfig(seed=bc.SEED, start=bc.START, days=1, tx_per_day=100))
        work = Path(args.cache) / str(size)
        bc.land_day(size, work, bc.url(db))
        codes = bc.codes(args)
        for i in range(len(codes)):
            shutil.rmtree(work / f"gx-{i}", ignore_errors=True)
        shutil.rmtree(work / "gx", ignore_errors=True)
        runs = []
        for attempt in range(args.repeat):
            for i, code in enumerate(codes):  # interleaved: each code sees the same machine load
                if (work / f"gx-{i}").exists():
                    (work / f"gx-{i}").rename(work / "gx")
                load = bc.load_average()
                try:
                    out = bc.stage_child(
                        "validate",
                        size,
                        bc.url(db),
                        bc.NO_PAYTRACE,
                        work,
                        env=bc.code_env(code),
                        profile=("validate",) if args.profile else (),
                    )
                finally:
                    if (work / "gx").exists():
                        (work / "gx").rename(work / f"gx-{i}")
                out["code"] = bc.code_label(code)
                out["gx_dir"] = "empty" if attempt == 0 else "reused"
                out["load_average"] = f"{load} → {bc.load_average()}"
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
        bc.drop_db(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bc.add_day_arguments(parser, "ptsl-bench-validate")
    parser.add_argument("--repeat", type=int, default=2, help="validate runs per size (first: empty GX dir)")
    parser.add_argument("--profile", action="store_true", help="cProfile summary of each validate run")
    return bc.run_sizes(parser.parse_args(argv), bench_size)


if __name__ == "__main__":
    sys.exit(main())
