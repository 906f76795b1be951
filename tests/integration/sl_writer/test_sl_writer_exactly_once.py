"""Exactly once: a failure between any two statements leaves nothing; concurrent writers post once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from slw_support import (
    BANK,
    CLEARING,
    CPNY,
    CUST,
    DOC_DATE,
    INVOICE,
    REFUNDS,
    commit_posted_ledger_row,
    count,
    fetch,
    snapshot,
)

from paytrace_sl.plan import (
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
    PostingKind,
)
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTLedger
from paytrace_sl.sl.preflight import run_preflight
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration


class InjectedFailure(RuntimeError):
    """Stands in for a crash, a lost connection or a killed worker between two statements."""


@contextmanager
def statements(engine: sa.Engine, fail_at: int | None = None) -> Iterator[list[str]]:
    """Record every statement sent to the database; raise before sending statement number ``fail_at``."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, stmt: str, params: Any, context: Any, executemany: bool) -> None:
        if fail_at is not None and len(seen) == fail_at:
            raise InjectedFailure(f"injected before statement #{fail_at}: {stmt[:60]}")
        seen.append(stmt)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def pay(txn: int, amount: str, *appl: tuple[str, str]) -> PlannedPayment:
    apps = tuple(InvoiceApplication(r, Decimal(a)) for r, a in appl)
    return PlannedPayment(txn, CUST, Decimal(amount), DOC_DATE, CLEARING, apps)


BATCHES = {
    "payment": PlannedBatch(
        PostingKind.PAYMENT,
        CPNY,
        (pay(101, "300.00", (INVOICE, "300.00")), pay(102, "42.00", ("NOPE", "1.00"))),
    ),
    "refund": PlannedBatch(
        PostingKind.REFUND, CPNY, (PlannedRefund(201, CUST, Decimal("20.00"), DOC_DATE, CLEARING, REFUNDS),)
    ),
    "settlement": PlannedBatch(
        PostingKind.SETTLEMENT, CPNY, (PlannedSettlement(301, DOC_DATE, Decimal("322.00"), CLEARING, BANK),)
    ),
}


def _fail_everywhere_then_post(engine: sa.Engine, batch: PlannedBatch) -> int:
    with statements(engine) as dry:
        pass  # listener smoke: nothing recorded outside a write
    assert dry == []
    before = snapshot(engine)
    # Count the statements of one successful write without committing it: fail after the last one.
    writer = SLWriter(engine)
    writer.prepare([batch.cpny_id])
    n = 0
    while True:
        failed = False
        with statements(engine, fail_at=n) as seen:
            try:
                writer.write_batch(batch)
            except InjectedFailure:
                failed = True
        if not failed:  # fail_at was past the last statement: the batch is committed
            assert len(seen) == n
            break
        assert snapshot(engine) == before, f"failure before statement #{n} left rows behind"
        n += 1
    return n


def _check_failures_then_once(engine: sa.Engine, kind: str) -> None:
    batch = BATCHES[kind]
    n = _fail_everywhere_then_post(engine, batch)
    assert n > 5
    keys = [i.ledger_key for i in batch.items]
    assert count(engine, xPTLedger, xPTLedger.c.ledger_key.in_(keys)) == len(keys)
    after = snapshot(engine)
    again = SLWriter(engine).write_batch(batch)
    assert (again.posted, again.already_posted) == (0, len(keys))
    assert snapshot(engine) == after
    with engine.connect() as conn:
        assert run_preflight(conn) == []


@pytest.mark.parametrize("kind", sorted(BATCHES))
def test_failure_between_any_two_statements_leaves_nothing(sl_pg_engine: sa.Engine, kind: str) -> None:
    """PostgreSQL, every batch kind, a failure before each statement in turn."""
    _check_failures_then_once(sl_pg_engine, kind)


def test_failure_between_any_two_statements_leaves_nothing_sqlite(sl_sqlite_engine: sa.Engine) -> None:
    """SQLite (no row locks; write lock taken first): the payment batch, a failure before each statement."""
    _check_failures_then_once(sl_sqlite_engine, "payment")


def test_void_failure_anywhere_leaves_payment_in_place(sl_engine: sa.Engine) -> None:
    SLWriter(sl_engine).write_batch(BATCHES["payment"])
    void = PlannedBatch(PostingKind.VOID, CPNY, (PlannedVoid(101, DOC_DATE),))
    _fail_everywhere_then_post(sl_engine, void)
    assert [d["RefNbr"] for d in fetch(sl_engine, catalog.ARDoc, catalog.ARDoc.c.DocType == "PA")] == ["102"]


@pytest.mark.timeout(120)
def test_concurrent_writers_post_every_transaction_once(sl_pg_engine: sa.Engine) -> None:
    url = sl_pg_engine.url.render_as_string(hide_password=False)
    first = [pay(1000 + i, f"{i}.25") for i in range(60)]
    second = [pay(1000 + i, f"{i}.25") for i in range(30, 90)]  # 30 overlap
    plans = [
        [PlannedBatch(PostingKind.PAYMENT, CPNY, tuple(first[i : i + 20])) for i in range(0, 60, 20)],
        [PlannedBatch(PostingKind.PAYMENT, CPNY, tuple(second[i : i + 15])) for i in range(0, 60, 15)],
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    numbers: list[list[str]] = [[], []]

    def run(index: int) -> None:
        engine = create_sl_engine(url)
        try:
            writer = SLWriter(engine, run_id=f"writer-{index}")
            barrier.wait()
            for batch in plans[index]:
                res = writer.write_batch(batch)
                if res.bat_nbr:
                    numbers[index].append(res.bat_nbr)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=100)
    assert not errors, errors
    all_numbers = numbers[0] + numbers[1]
    assert len(all_numbers) == len(set(all_numbers))
    docs = fetch(sl_pg_engine, catalog.ARDoc, catalog.ARDoc.c.DocType == "PA")
    refs = sorted(int(d["RefNbr"]) for d in docs)
    assert refs == list(range(1000, 1090))  # every transaction exactly once
    assert count(sl_pg_engine, xPTLedger) == 90
    assert fetch(sl_pg_engine, catalog.ARSetup)[0]["LastBatNbr"] == max(all_numbers)
    with sl_pg_engine.connect() as conn:
        assert run_preflight(conn) == []  # every batch's totals match its documents


def test_ledger_collision_is_retried_once_after_refiltering(sl_pg_engine: sa.Engine) -> None:
    """Another writer commits one of our keys between our filter and our insert: retry posts the rest."""
    batch = PlannedBatch(PostingKind.PAYMENT, CPNY, (pay(501, "1.00"), pay(502, "2.00")))
    other = create_sl_engine(sl_pg_engine.url.render_as_string(hide_password=False))
    fired: list[str] = []

    def hook(step: str) -> None:
        if step == "numbered" and not fired:  # a concurrent attempt commits key 502 right now
            fired.append(step)
            commit_posted_ledger_row(other, "paytrace:502:payment", "2.00")

    res = SLWriter(sl_pg_engine, step_hook=hook).write_batch(batch)
    assert res.attempts == 2
    assert res.outcomes["paytrace:502:payment"].outcome == "already_posted"
    assert res.outcomes["paytrace:501:payment"].outcome == "posted"
    assert [d["RefNbr"] for d in fetch(sl_pg_engine, catalog.ARDoc, catalog.ARDoc.c.DocType == "PA")] == [
        "501"
    ]
    assert (
        fetch(sl_pg_engine, catalog.ARSetup)[0]["LastBatNbr"] == "000101"
    )  # first attempt's number rolled back
    other.dispose()
