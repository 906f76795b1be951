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
import os
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pipeline as bp  # the pipeline bench's sandbox, database and child helpers
import bench_validate as bv  # its landing of one sandbox day

DEFAULT_CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "ptsl-bench-transform"
OUTPUTS = ("plan.jsonl", "transform_outcome.json")
NO_PAYTRACE = "http://127.0.0.1:9"  # validate and transform do not call PayTrace


def _env(code: str) -> dict[str, str]:
    env = dict(os.environ)
    if code != ".":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
        contracts = Path(code).resolve().parent / "data_contracts"
        if contracts.is_dir():  # that checkout's contracts, not this one's
            env["PAYTRACE_SL_CONTRACTS_DIR"] = str(contracts)
    return env


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
    bp._create_db(db)
    try:
        # the SL the transform reads: customers and open invoices as the sandbox seeds a day of this size
        init_sandbox(
            bp._url(db),
            MerchantConfig(seed=bp.SEED, start=bp.START, days=1, tx_per_day=size),
            sl_config=SandboxSLConfig(ar_last_bat_nbr="005000"),
        )
        work = Path(args.cache) / str(size)
        bv._land(size, work, bp._url(db))
        if not (work / "validated").exists():  # the validated file, once
            out = bv._child(
                "validate", size, bp._url(db), "http://127.0.0.1:9", work, dict(os.environ), False
            )
            (work / "validated").write_text(json.dumps(out["summary"], default=str))
        landing = work / "landing" / f"bench-{size}"
        runs = []
        for _ in range(args.repeat):
            for code in [c.strip() for c in (args.code or ".").split(",")]:  # interleaved: same load
                load = bp._load_average()
                out = bv._child("transform", size, bp._url(db), NO_PAYTRACE, work, _env(code), False)
                out["code"] = "this checkout" if code == "." else code
                out["load_average"] = f"{load} → {bp._load_average()}"
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
        bp._drop_db(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated transaction counts")
    parser.add_argument("--repeat", type=int, default=1, help="transform runs per size and checkout")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the landed days are kept")
    parser.add_argument(
        "--code",
        help="comma-separated checkouts' include/ folders to put first on PYTHONPATH, '.' for this one; "
        "their runs are interleaved (e.g. /tmp/main/include,.)",
    )
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
