"""The writer's invoice look-up: the documents its applications name, read and locked, planned by key.

On PostgreSQL the writer reads the invoices a payment batch applies to by their (CustId, DocType, RefNbr)
key (``ARDoc0``), and every document of a number only for an application whose customer has none (to
tell a missing invoice from another customer's). Before, one ``RefNbr = ANY(:refs)`` read every document
of every applied number, which PostgreSQL planned as a pass over all of ``ARDoc`` per batch when the
table has no statistics (issue 17, docs/performance.md). These tests pin the decisions on both backends
(SQLite keeps the ``RefNbr`` path), the locks on PostgreSQL, and the plan.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, INVOICE, OTHER_CUST, fetch

from paytrace_sl.plan import InvoiceApplication, PlannedBatch, PlannedPayment, PostingKind
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTReview
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

D, T = catalog.ARDoc, catalog.ARTran
THIRD_CUST = "C300"


def _payment(txn: int, amount: str, ref: str, doc_type: str = "IN", cust: str = CUST) -> PlannedPayment:
    appl = (InvoiceApplication(ref, Decimal(amount), doc_type),)
    return PlannedPayment(txn, cust, Decimal(amount), DOC_DATE, CLEARING, appl)


def _add_doc(conn: sa.Connection, engine: sa.Engine, **values: Any) -> None:
    """A copy of the seed's invoice with these columns changed."""
    row = {**fetch(engine, D, D.c.RefNbr == INVOICE)[0], "tstamp": None, **values}
    conn.execute(sa.insert(D), [row])


def _codes_and_reasons(engine: sa.Engine) -> dict[str, tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(xPTReview.c.ledger_key, xPTReview.c.reason_code, xPTReview.c.reason))
        return {str(k): (str(c), str(r)) for k, c, r in rows}


def test_decisions_with_shared_numbers_and_duplicates(sl_engine: sa.Engine) -> None:
    """Numbers shared across customers and doc types, and a duplicate key: the same decisions on both
    backends (PostgreSQL by key, SQLite by number), naming every other owner of a number."""
    with sl_engine.begin() as conn:
        _add_doc(conn, sl_engine, CustId=OTHER_CUST)  # another customer's IN with the seed invoice's number
        _add_doc(conn, sl_engine, DocType="DM", CuryDocBal=7.0, DocBal=7.0)  # C100's DM, same number
        _add_doc(conn, sl_engine, RefNbr="000460", CustId=OTHER_CUST)  # owned by two other customers
        _add_doc(conn, sl_engine, RefNbr="000460", CustId=THIRD_CUST)
        # C100's 000470 twice (SL's key does not stop it): unreleased in one batch, released in another
        _add_doc(conn, sl_engine, RefNbr="000470", BatNbr="000090", Rlsed=0, CuryRate=2.0)
        _add_doc(conn, sl_engine, RefNbr="000470", BatNbr="000091", CuryDocBal=40.0, DocBal=40.0)
    res = SLWriter(sl_engine).write_batch(
        PlannedBatch(
            PostingKind.PAYMENT,
            CPNY,
            (
                _payment(3001, "100.00", INVOICE),  # C100's own IN; C200's IN of that number not used
                _payment(3002, "5.00", INVOICE, "DM"),  # C100's DM of the same number
                _payment(3003, "20.00", "000460"),  # C200's and C300's: wrong customer, both named
                _payment(3004, "30.00", "000470"),  # the released one of the two
                _payment(3005, "50.00", "000480"),  # nobody's
                _payment(3006, "60.00", INVOICE, cust=OTHER_CUST),  # C200's own IN of the seed's number
                _payment(3007, "9.00", "000470", "DM"),  # C100 has IN 000470 only: missing as a DM
            ),
        )
    )
    assert res.posted == 7
    reviews = _codes_and_reasons(sl_engine)
    assert {k: c for k, (c, _) in reviews.items()} == {
        "paytrace:3003:payment": "appl_wrong_customer",
        "paytrace:3005:payment": "appl_invoice_missing",
        "paytrace:3007:payment": "appl_invoice_missing",
    }
    assert (
        f"belongs to customer {OTHER_CUST}, {THIRD_CUST}, not {CUST}" in reviews["paytrace:3003:payment"][1]
    )
    lines = fetch(sl_engine, T, T.c.BatNbr == res.bat_nbr)
    assert sorted(
        (t["RefNbr"], t["CustId"], t["CostType"], t["SiteId"], t["TranAmt"], t["UnitPrice"]) for t in lines
    ) == [
        ("3001", CUST, "IN", INVOICE, 100.0, 1.0),
        ("3002", CUST, "DM", INVOICE, 5.0, 1.0),
        ("3004", CUST, "IN", "000470", 30.0, 1.0),  # the released document's rate, not the unreleased one's
        ("3006", OTHER_CUST, "IN", INVOICE, 60.0, 1.0),
    ]


def _locked(url: sa.URL, where: str) -> bool:
    """Whether another session finds these ARDoc rows row-locked (NOWAIT)."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as other:
        try:
            other.execute(f"SELECT 1 FROM ardoc WHERE {where} FOR UPDATE NOWAIT").fetchall()
        except psycopg.errors.LockNotAvailable:
            return True
        return False


def test_postgres_locks_the_applied_invoices_and_the_unmatched_numbers(sl_pg_engine: sa.Engine) -> None:
    """While the batch is written, its applied invoices are locked, and so is every document of a number
    the payment's customer does not have (the wrong-customer decision rests on them)."""
    with sl_pg_engine.begin() as conn:
        _add_doc(conn, sl_pg_engine, RefNbr="000460", CustId=OTHER_CUST)
    seen: dict[str, bool] = {}

    def hook(step: str) -> None:
        if step == "invoices_checked":
            url = sl_pg_engine.url
            seen["applied"] = _locked(url, f"CustId = '{CUST}' AND RefNbr = '{INVOICE}'")
            seen["other customer's, named"] = _locked(url, "RefNbr = '000460'")
            seen["not named"] = _locked(
                url, f"CustId = '{CUST}' AND RefNbr <> '{INVOICE}' AND DocType = 'IN'"
            )

    with sl_pg_engine.begin() as conn:  # an IN of C100's that no payment names
        _add_doc(conn, sl_pg_engine, RefNbr="000490")
    SLWriter(sl_pg_engine, step_hook=hook).write_batch(
        PlannedBatch(
            PostingKind.PAYMENT, CPNY, (_payment(3101, "10.00", INVOICE), _payment(3102, "10.00", "000460"))
        )
    )
    assert seen == {"applied": True, "other customer's, named": True, "not named": False}


def _seq_scans_of_ardoc(plan: Any) -> int:
    node = plan["Plan"] if "Plan" in plan else plan
    own = int(node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == "ardoc")
    return own + sum(_seq_scans_of_ardoc(child) for child in node.get("Plans", []))


def test_postgres_lookup_is_planned_by_key_without_statistics(sl_pg_engine: sa.Engine) -> None:
    """The look-up the writer sends is planned as key probes on a table PostgreSQL has no statistics for
    (as in the benchmarks: autovacuum off), not as a pass over ARDoc (what ``RefNbr = ANY`` became)."""
    with sl_pg_engine.begin() as conn:
        conn.exec_driver_sql(
            "DELETE FROM pg_statistic WHERE starelid = 'ardoc'::regclass"
        )  # whatever an autovacuum may have gathered: the plan must not depend on it
        names = [c.name for c in D.columns]
        picked = ", ".join("lpad(g::text, 10, '0')" if n == "RefNbr" else n for n in names)
        conn.exec_driver_sql(
            f"INSERT INTO ardoc ({', '.join(names)}) SELECT {picked} "
            f"FROM ardoc, generate_series(500000, 505999) g WHERE RefNbr = '{INVOICE}'"
        )
    plans: list[Any] = []

    def explain(conn: Any, cursor: Any, stmt: str, params: Any, context: Any, executemany: bool) -> None:
        if "FROM ARDoc" in stmt and "FOR UPDATE" in stmt:
            with cursor.connection.cursor() as c:
                c.execute("EXPLAIN (FORMAT JSON) " + stmt, params)
                plan = c.fetchone()[0]
                plans.append(plan[0] if isinstance(plan, list) else json.loads(plan)[0])

    refs = [f"{n:010d}" for n in range(500000, 500040)]
    sa.event.listen(sl_pg_engine, "before_cursor_execute", explain)
    try:
        res = SLWriter(sl_pg_engine).write_batch(
            PlannedBatch(
                PostingKind.PAYMENT, CPNY, tuple(_payment(3200 + i, "1.00", r) for i, r in enumerate(refs))
            )
        )
    finally:
        sa.event.remove(sl_pg_engine, "before_cursor_execute", explain)
    assert res.posted == 40 and res.review_items == 0
    assert len(plans) == 1
    assert _seq_scans_of_ardoc(plans[0]) == 0, plans[0]
