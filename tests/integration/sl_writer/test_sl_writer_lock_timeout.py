"""A writer queued behind another session's lock on SL's setup row gives up with a clear, retryable error.

An SL user (or a stuck integration) holding ``ARSetup`` in an open transaction must not pin an Airflow
worker forever: every SL connection carries a lock timeout, and the writer turns the database's
"lock not available" into :class:`SLLockTimeout` (a ``Transient`` error, which Airflow retries) that
says what it was doing and that nothing was written.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, INVOICE, snapshot

from paytrace_sl.errors import PaytraceSlError, Transient
from paytrace_sl.plan import InvoiceApplication, PlannedBatch, PlannedPayment, PostingKind
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import LOCK_TIMEOUT_ENV, SLLockTimeout, create_sl_engine, lock_timeout_s
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

BATCH = PlannedBatch(
    PostingKind.PAYMENT,
    CPNY,
    (
        PlannedPayment(
            501,
            CUST,
            Decimal("10.00"),
            DOC_DATE,
            CLEARING,
            (InvoiceApplication(INVOICE, Decimal("10.00")),),
        ),
    ),
)


def _blocked_write(holder: sa.Engine, writer_engine: sa.Engine, hold: str) -> tuple[SLLockTimeout, float]:
    before = snapshot(holder)
    with holder.connect() as conn, conn.begin():
        conn.exec_driver_sql(hold)  # another session holds the lock the writer needs
        writer = SLWriter(writer_engine)
        started = time.monotonic()
        with pytest.raises(SLLockTimeout) as caught:
            writer.write_batch(BATCH)
        waited = time.monotonic() - started
    assert snapshot(holder) == before, "a writer that gave up must leave nothing behind"
    return caught.value, waited


def test_writer_gives_up_on_a_locked_setup_row_postgres(sl_pg_engine: sa.Engine) -> None:
    url = sl_pg_engine.url.render_as_string(hide_password=False)
    writer_engine = create_sl_engine(url, lock_timeout=1)
    try:
        error, waited = _blocked_write(sl_pg_engine, writer_engine, "SELECT * FROM arsetup FOR UPDATE")
    finally:
        writer_engine.dispose()
    assert isinstance(error, Transient) and isinstance(error, PaytraceSlError)
    message = str(error)
    assert "ARSetup" in message and "lock" in message and "retry" in message
    assert "Nothing was written" in message
    assert error.__cause__ is None and error.__suppress_context__  # no SQL parameter dump behind it
    assert 0.9 <= waited < 30
    # once the lock is gone the same batch posts
    assert SLWriter(sl_pg_engine).write_batch(BATCH).posted == 1


def test_writer_gives_up_on_a_locked_database_sqlite(sl_sqlite_engine: sa.Engine) -> None:
    url = sl_sqlite_engine.url.render_as_string(hide_password=False)
    writer_engine = create_sl_engine(url, lock_timeout=0.5)
    try:
        error, waited = _blocked_write(
            sl_sqlite_engine, writer_engine, "UPDATE ARSetup SET LUpd_Prog = LUpd_Prog"
        )
    finally:
        writer_engine.dispose()
    assert isinstance(error, Transient)
    assert waited < 30


def test_every_postgres_connection_carries_both_timeouts(sl_pg_engine: sa.Engine) -> None:
    url = sl_pg_engine.url.render_as_string(hide_password=False)
    engine = create_sl_engine(url, lock_timeout=7, statement_timeout=90)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "7s"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "90s"
    finally:
        engine.dispose()
    assert catalog.ARSetup is not None


def test_timeouts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "2.5")
    assert lock_timeout_s() == 2.5
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "soon")
    with pytest.raises(PaytraceSlError, match=LOCK_TIMEOUT_ENV):
        lock_timeout_s()
