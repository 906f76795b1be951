"""Did a set of runs post every sandbox transaction exactly once? Shared by the cluster test and benchmarks.

The PayTrace sandbox is deterministic: from its ``MerchantConfig`` we know every transaction created in
the fetched ranges (windows plus look-back). After the runs, each must sit in exactly the buckets the
pipeline has (ledger, skip list, review queue, dead letters) and nothing else may; no ledger key and no
(transaction, kind) may be there twice; SL's ``ARDoc`` rows must be the ledger's AR documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import psycopg


def expected_transactions(
    merchant: Mapping[str, Any],
    windows: Sequence[tuple[dt.datetime, dt.datetime]],
    lookback: dt.timedelta,
) -> set[int]:
    """Ids of every sandbox transaction created inside the fetched ranges (each window + its look-back)."""
    from paytrace_sl.paytrace.timefmt import parse_paytrace_datetime
    from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation

    config = MerchantConfig(**dict(merchant, start=dt.date.fromisoformat(str(merchant["start"]))))
    sim = MerchantSimulation(config)
    tz = ZoneInfo(config.timezone)
    ranges = [(s - lookback, e) for s, e in windows]
    ids: set[int] = set()
    for i in range(config.days):
        for rec in sim.transactions_for_day(config.start + dt.timedelta(days=i)):
            created = parse_paytrace_datetime(rec["created"]["at"], tz)
            if any(s <= created < e for s, e in ranges):
                ids.add(int(rec["transaction_id"]))
    return ids


def audit_ledger(sl_dsn: str, expected: set[int]) -> dict[str, Any]:
    """Counts from the SL database at ``sl_dsn`` and the exactly-once checks (``checks``: name → bool)."""
    with psycopg.connect(sl_dsn) as conn:

        def ids(sql: str) -> set[int]:
            return {int(r[0]) for r in conn.execute(sql).fetchall() if r[0] is not None}  # type: ignore[arg-type]

        ledger = ids("SELECT transaction_id FROM xptledger")
        skip = ids("SELECT transaction_id FROM xptskip")
        review = ids("SELECT transaction_id FROM xptreview")
        dead = ids("SELECT transaction_id FROM xptdeadletter")
        one = conn.execute(
            "SELECT count(*), count(DISTINCT ledger_key), "
            "count(DISTINCT (transaction_id, kind)) FILTER (WHERE transaction_id IS NOT NULL) "
            "+ count(*) FILTER (WHERE transaction_id IS NULL) "
            "FROM xptledger"
        ).fetchone()
        assert one is not None  # (settlement rows have no transaction id: counted as distinct)
        # one ARDoc per AR ledger row, two for a refund (CM + DM, docs/accounting.md)
        ar_ledger = conn.execute(
            "SELECT count(*) + count(*) FILTER (WHERE kind = 'refund') FROM xptledger WHERE module = 'AR'"
        ).fetchone()
        ardoc = conn.execute("SELECT count(*) FROM ardoc WHERE crtd_prog = 'PTSL'").fetchone()
        artran = conn.execute("SELECT count(*) FROM artran WHERE crtd_prog = 'PTSL'").fetchone()
        batches = conn.execute("SELECT count(*) FROM batch WHERE crtd_prog = 'PTSL'").fetchone()
        dup_batches = conn.execute(
            "SELECT count(*) FROM (SELECT module, batnbr FROM batch GROUP BY module, batnbr "
            "HAVING count(*) > 1) d"
        ).fetchone()
        by_kind = dict(conn.execute("SELECT kind, count(*) FROM xptledger GROUP BY kind").fetchall())  # type: ignore[arg-type]
    accounted = ledger | skip | review | dead
    assert ar_ledger is not None and ardoc is not None and artran is not None and batches is not None
    assert dup_batches is not None
    return {
        "sandbox_transactions": len(expected),
        "ledger_rows": int(one[0]),
        "ledger_by_kind": {str(k): int(v) for k, v in by_kind.items()},
        "posted_transactions": len(ledger),
        "skipped": len(skip),
        "review": len(review),
        "dead_letter": len(dead),
        "ardoc_rows": int(ardoc[0]),
        "artran_rows": int(artran[0]),
        "batch_rows": int(batches[0]),
        "missing": len(expected - accounted),
        "unexpected": len(accounted - expected),
        "checks": {
            "every sandbox transaction accounted for, nothing else": expected == accounted,
            "no ledger key or (transaction, kind) twice": one[0] == one[1] == one[2],
            "SL ARDoc rows = the ledger's AR documents (refund = CM + DM)": ar_ledger[0] == ardoc[0],
            "no SL batch number twice": int(dup_batches[0]) == 0,
        },
    }
