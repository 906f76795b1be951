"""Every INSERT the writer sends into an SL table names every column of that table.

SL has no NULLs and many of its tables (ARDoc, ARTran, GLTran, RefNbr) have no DEFAULTs; where the
customer's database has defaults they may differ from ours. So the writer never relies on them: each
INSERT lists all columns (but ``tstamp``, and the identity ``RecordID`` where the database fills it).
The expected columns come from the live database built from SL's replica script — not from our catalog,
so a stale catalog (e.g. the 8-column RefNbr) fails here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from slw_support import BANK, CLEARING, CPNY, CUST, DOC_DATE, INVOICE, REFUNDS

from paytrace_sl.plan import (
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.sl.schema_check import WRITTEN_TABLES
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

_INSERT = re.compile(r"^\s*INSERT INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)


def _capture(engine: sa.Engine) -> dict[str, list[set[str]]]:
    """Column lists (lower-cased) of every INSERT sent through ``engine``, by table (lower-cased)."""
    seen: dict[str, list[set[str]]] = defaultdict(list)

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        match = _INSERT.match(statement)
        if match:
            cols = {c.strip().strip('"').lower() for c in match.group(2).split(",")}
            seen[match.group(1).strip('"').lower()].append(cols)

    sa.event.listen(engine, "before_cursor_execute", listen)
    return seen


def _plan() -> PostingPlan:
    applied = PlannedPayment(
        70001, CUST, Decimal("300.00"), DOC_DATE, CLEARING, (InvoiceApplication(INVOICE, Decimal("300.00")),)
    )
    unapplied = PlannedPayment(70002, CUST, Decimal("12.34"), DOC_DATE, CLEARING)
    refund = PlannedRefund(70003, CUST, Decimal("5.00"), DOC_DATE, CLEARING, REFUNDS)
    settle = PlannedSettlement(9001, DOC_DATE, Decimal("307.34"), CLEARING, BANK)
    return PostingPlan(
        (
            PlannedBatch(PostingKind.PAYMENT, CPNY, (applied, unapplied)),
            PlannedBatch(PostingKind.REFUND, CPNY, (refund,)),
            PlannedBatch(PostingKind.SETTLEMENT, CPNY, (settle,)),
        )
    )


def test_every_insert_into_an_sl_table_names_every_column(sl_engine: sa.Engine) -> None:
    live: dict[str, set[str]] = {}
    with sl_engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name in inspector.get_table_names():
            live[name.lower()] = {str(c["name"]).lower() for c in inspector.get_columns(name)}
    inserts = _capture(sl_engine)

    result = SLWriter(sl_engine, run_id="full-rows").write_plan(_plan())

    assert result.posted == 4
    sl_tables = {t: cols for t, cols in inserts.items() if not t.startswith("xpt")}
    # Not vacuous: the plan reaches every SL table the writer ever inserts into.
    assert set(sl_tables) == {t.lower() for t in WRITTEN_TABLES}
    filled_by_db = {"tstamp"} | ({"recordid"} if sl_engine.dialect.name == "postgresql" else set())
    for tbl, statements in sl_tables.items():
        for cols in statements:
            missing = live[tbl] - cols - filled_by_db
            assert not missing, f"INSERT INTO {tbl} leaves out {sorted(missing)}"
            assert cols <= live[tbl], f"INSERT INTO {tbl} names unknown {sorted(cols - live[tbl])}"
    assert len(live["refnbr"]) == 29  # SL's real RefNbr (ADG_Create_AR_RefNbr), not an 8-column subset


def test_bulk_copy_path_writes_full_rows_too(sl_pg_engine: sa.Engine) -> None:
    """Large batches go through PostgreSQL COPY (not an INSERT the listener sees). The replica's ARDoc,
    ARTran and RefNbr have no DEFAULTs, so a column COPY left out would fail the load; and no stored
    value may be NULL."""
    inserts = _capture(sl_pg_engine)
    refunds = tuple(
        # reversing an invoice the sale paid: CM + DM per refund, 240 rows per table (above COPY's threshold)
        PlannedRefund(71000 + i, CUST, Decimal("1.00"), DOC_DATE, CLEARING, REFUNDS, reverses_invoice=INVOICE)
        for i in range(120)
    )
    result = SLWriter(sl_pg_engine).write_batch(PlannedBatch(PostingKind.REFUND, CPNY, refunds))
    assert result.posted == 120
    assert not {"ardoc", "artran", "refnbr"} & set(inserts)  # 240 rows each: the COPY path, not INSERT
    with sl_pg_engine.connect() as conn:
        for tbl in ("ARDoc", "ARTran", "RefNbr"):
            cols = [c["name"] for c in sa.inspect(conn).get_columns(tbl.lower()) if c["name"] != "tstamp"]
            nulls = " OR ".join(f"{c} IS NULL" for c in cols)
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {tbl} WHERE {nulls}").scalar_one() == 0
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {tbl}").scalar_one() >= 240
