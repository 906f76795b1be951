"""The transform step on its own (issue 17): time and peak RSS at given sizes, outputs compared.

For each size N the PayTrace sandbox serves one merchant day of N transactions, the real extract and
validate steps land it once (cached under ``--cache``), and an SL database (PostgreSQL) is seeded as the
SL sandbox seeds a day of N transactions (customers, open invoices). Then the real transform step
(``runner.transform_step``: validated file + SL context + mapping → ``plan.jsonl`` and the outcome file)
runs in its own process, as an Airflow task does, once per ``--code`` checkout, interleaved. Each run's
``plan.jsonl``, outcome file and summary are hashed: runs of different code must land the same bytes.

    .venv/bin/python bench/bench_transform.py --sizes 10000
    flock /work/bench.lock .venv/bin/python bench/bench_transform.py --sizes 100000,200000,400000
    .venv/bin/python bench/bench_transform.py --sizes 100000 --code /tmp/main/include,.  # main vs this
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc  # the benches' database, sandbox day, step child and arguments

OUTPUTS = ("plan.jsonl", "transform_outcome.json")


def _digests(landing: Path) -> dict[str, str]:
    out = {}
    for name in OUTPUTS:
        digest = hashlib.sha256()
        with (landing / name).open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        out[name] = digest.hexdigest()[:16]
    return out


def bench_size(size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.sl_seed import SandboxSLConfig, init_sandbox

    db = f"ptsl_tr_{uuid.uuid4().hex[:8]}"
    bc.create_db(db)
    try:
        # the SL the transform reads: customers and open invoices as the sandbox seeds a day of this size
        init_sandbox(
            bc.url(db),
            MerchantConfig(seed=bc.SEED, start=bc.START, days=1, tx_per_day=size),
            sl_config=SandboxSLConfig(ar_last_bat_nbr="005000"),
        )
        work = Path(args.cache) / str(size)
        bc.land_day(size, work, bc.url(db))
        if not (work / "validated").exists():  # the validated file, once
            out = bc.stage_child("validate", size, bc.url(db), bc.NO_PAYTRACE, work)
            (work / "validated").write_text(json.dumps(out["summary"], default=str))
        landing = work / "landing" / f"bench-{size}"
        runs = []
        for _ in range(args.repeat):
            for code in bc.codes(args):  # interleaved: same load
                load = bc.load_average()
                out = bc.stage_child(
                    "transform", size, bc.url(db), bc.NO_PAYTRACE, work, env=bc.code_env(code)
                )
                out["code"] = bc.code_label(code)
                out["load_average"] = f"{load} → {bc.load_average()}"
                out["digests"] = _digests(landing)
                runs.append(out)
                s = out["summary"]
                accounted = s["posted"] + s["already_posted"] + sum(s["skipped"].values()) + s["review"]
                print(
                    f"{size:>9} {out['code'][-28:]:>28} transform {out['seconds']:7.2f} s  "
                    f"peak RSS {out['peak_rss_mb']:6.0f} MB "
                    f"(after imports {out['rss_after_imports_mb']:.0f})  "
                    f"records {s['records']} = posted {s['posted']} + already {s['already_posted']} + "
                    f"skipped {sum(s['skipped'].values())} + review {s['review']}"
                    f"{'' if accounted == s['records'] + s.get('fraud_held', 0) else ' (ACCOUNTING OFF)'}  "
                    f"documents {s['planned_documents']} batches {s['planned_batches']}  "
                    f"plan {out['digests']['plan.jsonl']} "
                    f"outcome {out['digests']['transform_outcome.json']}  "
                    f"load {out['load_average']}",
                    flush=True,
                )
        same = len({json.dumps([r["digests"], r["summary"]], sort_keys=True) for r in runs}) == 1
        print(f"{size:>9} outputs (plan.jsonl, outcome file, summary) {'identical' if same else 'DIFFER'}")
        return runs
    finally:
        bc.drop_db(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bc.add_day_arguments(parser, "ptsl-bench-transform")
    parser.add_argument("--repeat", type=int, default=1, help="transform runs per size and checkout")
    return bc.run_sizes(parser.parse_args(argv), bench_size)


if __name__ == "__main__":
    sys.exit(main())
