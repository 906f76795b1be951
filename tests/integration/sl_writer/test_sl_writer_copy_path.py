"""The PostgreSQL COPY path (batches of COPY_THRESHOLD rows or more) keeps every writer guarantee.

Same rows as the INSERT path (text with tabs/backslashes/newlines included), the same refusal of a
value that does not fit, and a unique-key collision still surfaces as an IntegrityError the writer
retries (psycopg raises its own error from COPY; the writer translates it).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, commit_posted_ledger_row, count, fetch, snapshot

from paytrace_sl.plan import PlannedBatch, PlannedPayment, PostingKind
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger
from paytrace_sl.sl.rows import SLValueError
from paytrace_sl.sl.writer import COPY_THRESHOLD, SLWriter

pytestmark = pytest.mark.integration

D = catalog.ARDoc
AWKWARD = "a\tb\\c\nd\re"  # every character COPY's text format must escape


def batch(first: int, n: int, **kw: object) -> PlannedBatch:
    pays = tuple(
        PlannedPayment(first + i, CUST, Decimal("3.10") + i, DOC_DATE, CLEARING, **kw)  # type: ignore[arg-type]
        for i in range(n)
    )
    return PlannedBatch(PostingKind.PAYMENT, CPNY, pays)


def test_copy_escapes_text_and_matches_the_insert_path(sl_pg_engine: sa.Engine) -> None:
    n = COPY_THRESHOLD + 1
    fast = SLWriter(sl_pg_engine).write_batch(batch(10_000, n, description=AWKWARD, ext_ref_nbr="x\\y"))
    slow = SLWriter(sl_pg_engine, bulk=False).write_batch(
        batch(20_000, n, description=AWKWARD, ext_ref_nbr="x\\y")
    )
    fast_docs = fetch(sl_pg_engine, D, D.c.BatNbr == fast.bat_nbr)
    slow_docs = fetch(sl_pg_engine, D, D.c.BatNbr == slow.bat_nbr)
    assert {d["DocDesc"] for d in fast_docs} == {AWKWARD} == {d["DocDesc"] for d in slow_docs}
    assert {d["CustOrdNbr"].rstrip() for d in fast_docs} == {"x\\y"}
    skip = {"RefNbr", "BatNbr", "ApplBatNbr", "Crtd_DateTime", "LUpd_DateTime", "tstamp"}
    assert sorted(({k: v for k, v in d.items() if k not in skip} for d in fast_docs), key=repr) == sorted(
        ({k: v for k, v in d.items() if k not in skip} for d in slow_docs), key=repr
    )
    ledger = fetch(sl_pg_engine, xPTLedger, xPTLedger.c.bat_nbr == fast.bat_nbr)
    assert len(ledger) == n and all(r["posted_at"].tzinfo is not None for r in ledger)
    assert sum(r["amount"] for r in ledger) == sum(Decimal("3.10") + i for i in range(n))
    assert abs(ledger[0]["posted_at"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_copy_refuses_a_key_that_does_not_fit_and_writes_nothing(sl_pg_engine: sa.Engine) -> None:
    before = snapshot(sl_pg_engine)
    items = list(batch(30_000, COPY_THRESHOLD).items)
    items.append(PlannedPayment(39_999, "C" * 16, Decimal("1.00"), DOC_DATE, CLEARING))  # CustId char(15)
    with pytest.raises(SLValueError, match=r"ARDoc\.CustId: longer than char\(15\)"):
        SLWriter(sl_pg_engine).write_batch(PlannedBatch(PostingKind.PAYMENT, CPNY, tuple(items)))
    assert snapshot(sl_pg_engine) == before


def test_copy_ledger_collision_is_retried_like_an_insert(sl_pg_engine: sa.Engine) -> None:
    other = sa.create_engine(sl_pg_engine.url)
    fired: list[str] = []
    n = COPY_THRESHOLD + 3

    def hook(step: str) -> None:
        if step == "numbered" and not fired:  # a concurrent writer commits one of our keys right now
            fired.append(step)
            commit_posted_ledger_row(other, "paytrace:40001:payment", "1.00")

    res = SLWriter(sl_pg_engine, step_hook=hook).write_batch(batch(40_000, n))
    other.dispose()
    assert res.attempts == 2
    assert res.outcomes["paytrace:40001:payment"].outcome == "already_posted"
    assert res.posted == n - 1
    assert count(sl_pg_engine, D, D.c.BatNbr == res.bat_nbr) == n - 1
