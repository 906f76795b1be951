"""load_sl_context on a large window: the same context on PostgreSQL (arrays) and SQLite (IN chunks)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.pipeline.sl_context import SLContext, load_sl_context
from paytrace_sl.sl import catalog, own_tables
from paytrace_sl.sl.rows import complete_row

pytestmark = pytest.mark.integration

NOW = dt.datetime(2025, 4, 10, 12, 0, tzinfo=dt.UTC)
N = 1_300  # more than two 500-key chunks


def _seed(engine: sa.Engine) -> None:
    own_tables.install(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(catalog.Customer),
            [
                complete_row(catalog.Customer, {"CustId": f"C{i:05d}", "Name": "x"}, include_identity=False)
                for i in range(0, N, 2)
            ],
        )
        conn.execute(
            sa.insert(catalog.ARDoc),
            [
                complete_row(
                    catalog.ARDoc,
                    {
                        "CustId": f"C{i:05d}",
                        "DocType": "IN",
                        "RefNbr": f"INV{i:05d}",
                        "BatNbr": "000100",
                        "CpnyID": "0010",
                        "DocBal": 10.5 + i,
                        "CuryDocBal": 10.5 + i,
                        "Rlsed": 1,
                        "OpenDoc": 1 if i % 5 else 0,
                    },
                    include_identity=False,
                )
                for i in range(0, N, 3)
            ],
        )
        conn.execute(
            sa.insert(catalog.SOHeader),
            [
                complete_row(
                    catalog.SOHeader,
                    {"CpnyID": "0010", "OrdNbr": f"SO{i:05d}", "CustID": f"C{i:05d}", "Cancelled": i % 2},
                    include_identity=False,
                )
                for i in range(0, N, 7)
            ],
        )
        conn.execute(
            sa.insert(own_tables.xPTCustXref),
            [
                {
                    "paytrace_customer_id": f"vault-{i}",
                    "cust_id": f"C{i:05d}",
                    "source": "manual",
                    "active": 1 if i % 4 else 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(0, N, 11)
            ],
        )
        conn.execute(
            sa.insert(own_tables.xPTLedger),
            [
                {
                    "ledger_key": f"paytrace:{tid}:{kind}",
                    "transaction_id": tid,
                    "kind": kind,
                    "cpny_id": "0010",
                    "module": "AR",
                    "bat_nbr": "000101",
                    "doc_type": "PA",
                    "ref_nbr": f"{tid:06d}",
                    "cust_id": "C00000",
                    "amount": Decimal("10.00"),
                    "cury_id": "USD",
                    "per_post": "202504",
                    "paytrace_state": state,
                    "content_hash": "x" * 64,
                    "status": "posted",
                    "posted_at": NOW,
                    "updated_at": NOW + dt.timedelta(minutes=minutes),
                }
                for tid in range(1, N * 2, 3)
                for kind, state, minutes in (("payment", "pending", 0), ("void", "voided", 5))[: 1 + tid % 2]
            ],
        )


def _load(engine: sa.Engine) -> tuple[SLContext, list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.connect() as conn:
            ctx = load_sl_context(
                conn,
                transaction_ids=range(1, N * 2),
                customer_ids=[f"C{i:05d}" for i in range(N)] + [f"vault-{i}" for i in range(N)] + ["", " "],
                invoice_ids=[f"INV{i:05d}" for i in range(N)] + [f"SO{i:05d}" for i in range(N)] + [""],
                cpny_id="0010",
            )
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return ctx, statements


def _expected_ledger_ids() -> set[int]:
    return set(range(1, N * 2, 3))


def test_large_window_context_is_the_same_on_postgresql_and_sqlite(
    sl_pg_url: str, sl_sqlite_url: str
) -> None:
    pg = sa.create_engine(sl_pg_url)
    lite = sa.create_engine(sl_sqlite_url)
    try:
        _seed(pg)
        _seed(lite)
        pg_ctx, pg_statements = _load(pg)
        lite_ctx, lite_statements = _load(lite)
    finally:
        pg.dispose()
        lite.dispose()
    assert pg_ctx == lite_ctx
    assert pg_ctx.customers == {f"C{i:05d}" for i in range(0, N, 2)}
    assert dict(pg_ctx.xref) == {f"vault-{i}": f"C{i:05d}" for i in range(0, N, 11) if i % 4}
    assert sorted(pg_ctx.open_invoices) == [f"INV{i:05d}" for i in range(0, N, 3) if i % 5]
    assert pg_ctx.open_invoices["INV00003"][0].doc_bal == Decimal("13.50")
    assert sorted(pg_ctx.orders) == [f"SO{i:05d}" for i in range(0, N, 7) if i % 2 == 0]
    assert set(pg_ctx.ledger) == _expected_ledger_ids()
    assert dict(pg_ctx.ledger[4].kinds) == {"payment": "posted"}  # tid 4: one row
    assert dict(pg_ctx.ledger[1].kinds) == {"payment": "posted", "void": "posted"}
    assert pg_ctx.ledger[1].paytrace_state == "voided"  # the latest row's state
    # PostgreSQL: one statement per table whatever the window size; SQLite: one per 500 keys
    reads = [s for s in pg_statements if re.search(r"= ANY \(", s) and "pg_catalog" not in s]
    assert len(reads) == 5, pg_statements
    assert len(lite_statements) > len(pg_statements) + 5
