"""The extract's parse and landing without HTTP: whole-document parse vs streamed, in one process.

One sandbox day's export body (the JSON the sandbox serves) is built once; then, alternately in the same
process (so both see the same machine load), it is landed the way the extract did before issue 17
(``json.loads`` of the body, every record parsed and held in ``Copies``, ``resolve_copies``, then
``Landing.write_jsonl``) and the streamed way (``EnvelopeStream`` over 64 KiB chunks into
``LandedCopies``). Both files are compared byte for byte. Prints seconds per round and the ratio.

    .venv/bin/python bench/bench_extract.py --size 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from paytrace_sl.paytrace.client import _record_digest
from paytrace_sl.paytrace.parse import parse_transaction
from paytrace_sl.paytrace.stream import EnvelopeStream
from paytrace_sl.pipeline.copies import Copies, resolve_copies
from paytrace_sl.pipeline.landing import Landing

TZ = ZoneInfo("America/Los_Angeles")
CHUNK = 64 * 1024


def day_body(size: int) -> bytes:
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer

    start = dt.date(2025, 4, 1)
    server = SandboxServer(
        SandboxConfig(MerchantConfig(seed=42, start=start, days=1, tx_per_day=size)), port=0
    )
    rows = [r.to_json() for r in server.sim.rows_for_day(start, False)]
    head = '{"success":true,"response_code":1,"status_message":"ok","transactions":['
    return (head + ",".join(rows) + '],"external_transaction_id":""}').encode()


def whole(body: bytes, landing: Landing) -> None:
    records = json.loads(body, parse_float=Decimal)["transactions"]
    copies = Copies()
    for record in records:
        _record_digest(record)  # the client's duplicate check, as on both paths
        copies.add(parse_transaction(record, TZ))
    del records
    resolved = resolve_copies(copies)
    landing.write_jsonl("whole.jsonl", (t.to_json_dict() for t in resolved.records))


def streamed(body: bytes, landing: Landing) -> None:
    chunks = (body[i : i + CHUNK] for i in range(0, len(body), CHUNK))
    with landing.landed_copies("streamed.jsonl") as copies:
        for record in EnvelopeStream(chunks, "transactions").records():
            _record_digest(record)
            copies.add(parse_transaction(record, TZ))
        copies.finish()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = day_body(args.size)
    print(f"{len(body) / 2**20:.0f} MB body; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        landing = Landing(Path(tmp), "bench")
        for n in range(args.rounds):
            times = {}
            for name, run in (("whole", whole), ("streamed", streamed)):
                started = time.perf_counter()
                run(body, landing)
                times[name] = time.perf_counter() - started
            same = landing.path("whole.jsonl").read_bytes() == landing.path("streamed.jsonl").read_bytes()
            print(
                f"round {n + 1}: whole {times['whole']:.2f}s, streamed {times['streamed']:.2f}s, "
                f"streamed/whole {times['streamed'] / times['whole']:.2f}, identical files: {same}; "
                f"load average {os.getloadavg()}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
