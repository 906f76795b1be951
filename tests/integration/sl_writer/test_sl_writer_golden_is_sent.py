"""The golden T-SQL of our own inserts lists the columns the writer really sends (checked on a live DB).

The golden files are compiled for SQL Server without a server; this test runs the writer on the SQLite
replica, captures the INSERT statements it sends for ``xPTLedger`` and ``xPTReview``, and compares their
column lists with the golden files, so a golden file can never again show a statement nobody sends.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, INVOICE

from paytrace_sl.plan import InvoiceApplication, PlannedBatch, PlannedPayment, PostingKind
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
_COLUMNS = re.compile(r"INSERT INTO (xPT\w+) \(([^)]*)\)")


def _columns(sql: str) -> tuple[str, list[str]]:
    match = _COLUMNS.search(sql)
    assert match, sql[:80]
    return match.group(1), [c.strip() for c in match.group(2).split(",")]


def test_own_inserts_send_the_golden_columns(sl_sqlite_engine: sa.Engine) -> None:
    sent: dict[str, list[str]] = {}

    def before(conn: Any, cursor: Any, stmt: str, params: Any, context: Any, executemany: bool) -> None:
        if stmt.startswith("INSERT INTO xPT"):
            table, cols = _columns(stmt)
            sent[table] = cols

    # one payment applied to the invoice, one to an unknown invoice (a review item): both inserts run
    batch = PlannedBatch(
        PostingKind.PAYMENT,
        CPNY,
        (
            PlannedPayment(
                701,
                CUST,
                Decimal("5.00"),
                DOC_DATE,
                CLEARING,
                (InvoiceApplication(INVOICE, Decimal("5.00")),),
            ),
            PlannedPayment(
                702, CUST, Decimal("6.00"), DOC_DATE, CLEARING, (InvoiceApplication("NOPE", Decimal("1.00")),)
            ),
        ),
    )
    sa.event.listen(sl_sqlite_engine, "before_cursor_execute", before)
    try:
        SLWriter(sl_sqlite_engine).write_batch(batch)
    finally:
        sa.event.remove(sl_sqlite_engine, "before_cursor_execute", before)
    for table, golden in (("xPTLedger", "ledger_insert"), ("xPTReview", "review_insert")):
        assert table in sent, f"the writer sent no {table} insert"
        for suffix in ("", "_one_row"):
            assert _columns((GOLDEN / f"sl_writer_{golden}{suffix}.sql").read_text()) == (table, sent[table])
