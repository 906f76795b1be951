"""Payments are built column-wise (``ColumnRows``): the rows that reach SL are exactly the rows the
per-row builders (``_ardoc``, ``_application_line``, ``_ledger_row``, still used by memos and refunds)
give for the same payments — every column, on PostgreSQL through COPY and on SQLite through executemany.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, INVOICE, OTHER_CUST, PER_POST, fetch

from paytrace_sl.plan import InvoiceApplication, PlannedBatch, PlannedPayment, PostingKind
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger
from paytrace_sl.sl.rows import complete_row, money
from paytrace_sl.sl.writer import COPY_THRESHOLD, SLWriter
from paytrace_sl.sl.writer.model import content_hash

pytestmark = pytest.mark.integration

D, T = catalog.ARDoc, catalog.ARTran
AWKWARD = "Visa ****1234 \\ tab\there «ü»"
N = COPY_THRESHOLD + 5  # PostgreSQL takes the COPY path


def _payments() -> tuple[PlannedPayment, ...]:
    pays = [
        PlannedPayment(
            900_000 + i,
            CUST if i % 3 else OTHER_CUST,
            Decimal("1.005") + i,  # rounded half-up to cents at write time
            DOC_DATE,
            CLEARING,
            description=AWKWARD if i % 2 else f"Mastercard ****{i:04d}" + "x" * (i % 40),
            ext_ref_nbr=f"INV{i}" if i % 5 else "",
            paytrace_state="settled",
            paytrace_type="SALE",
            customer_digest=f"d{i}" if i % 4 else "",
        )
        for i in range(N)
    ]
    # 1: applies 100.00 of the 300.00 invoice; 2: wants 250.00, 200.00 left → partial; 3: unknown invoice;
    # 4: a plan review reason; 6: the invoice is CUST's, not OTHER_CUST's.
    pays[1] = PlannedPayment(
        900_001,
        CUST,
        Decimal("100.00"),
        DOC_DATE,
        CLEARING,
        (InvoiceApplication(INVOICE, Decimal("100.00")),),
        "Visa ****0001",
        INVOICE,
    )
    pays[2] = PlannedPayment(
        900_002,
        CUST,
        Decimal("250.00"),
        DOC_DATE,
        CLEARING,
        (InvoiceApplication(INVOICE, Decimal("250.00")),),
        AWKWARD,
        INVOICE,
    )
    pays[3] = PlannedPayment(
        900_003, CUST, Decimal("5.00"), DOC_DATE, CLEARING, (InvoiceApplication("NOPE", Decimal("5.00")),)
    )
    pays[4] = PlannedPayment(900_004, CUST, Decimal("7.00"), DOC_DATE, CLEARING, review_reason="check me")
    pays[6] = PlannedPayment(
        900_006,
        OTHER_CUST,
        Decimal("9.00"),
        DOC_DATE,
        CLEARING,
        (InvoiceApplication(INVOICE, Decimal("9.00")),),
    )
    return tuple(pays)


def _norm(row: dict[str, Any], drop: set[str]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key in drop:
            continue
        if isinstance(value, str):
            value = value.rstrip()
        elif isinstance(value, dt.datetime) and value.tzinfo is None and (value.hour, value.minute) == (0, 0):
            value = value.date()
        out[key] = value
    return out


def test_column_wise_payments_write_the_row_builders_rows(sl_engine: sa.Engine) -> None:
    pays = _payments()
    writer = SLWriter(sl_engine)
    res = writer.write_batch(PlannedBatch(PostingKind.PAYMENT, CPNY, pays))
    assert res.posted == N
    bat = res.bat_nbr
    with sl_engine.connect() as conn:
        setup = writer._setup_for(conn, CPNY)
        invoice = conn.execute(sa.select(D).where(D.c.RefNbr == INVOICE, D.c.DocType == "IN")).one()
    docs = {d["RefNbr"]: d for d in fetch(sl_engine, D, D.c.BatNbr == bat)}
    stamp = next(iter(docs.values()))["Crtd_DateTime"]
    applied = {"900001": Decimal("100.00"), "900002": Decimal("200.00")}
    drop = {"tstamp"}
    for pay in pays:
        ref = str(pay.transaction_id)
        line_cntr = 1 if ref in applied else 0
        expected = complete_row(
            D,
            writer._ardoc(
                cust_id=pay.cust_id,
                doc_type="PA",
                ref_nbr=ref,
                bat_nbr=bat,
                appl_bat_nbr=bat,
                cpny=CPNY,
                day=pay.doc_date,
                amount=money(pay.amount, 2),
                applied=money(applied.get(ref, Decimal(0)), 2),
                bank=pay.cash_account,
                per_post=PER_POST,
                desc=pay.description,
                ext_ref=pay.ext_ref_nbr,
                line_cntr=line_cntr,
                setup=setup,
                now=stamp,
            )
            | {"PerEnt": PER_POST},
            include_identity=False,
        )
        assert _norm(docs[ref], drop) == _norm(expected, drop), ref
    lines = {t["RefNbr"]: t for t in fetch(sl_engine, T, T.c.BatNbr == bat)}
    assert set(lines) == set(applied)
    for pay in pays:
        ref = str(pay.transaction_id)
        if ref not in applied:
            continue
        expected = complete_row(
            T,
            writer._application_line(
                cust_id=pay.cust_id,
                ref_nbr=ref,
                bat_nbr=bat,
                cpny=CPNY,
                line=0,
                doc=invoice,
                doc_type="IN",
                doc_ref=INVOICE,
                amount=money(applied[ref], 2),
                day=pay.doc_date,
                per_post=PER_POST,
                desc=pay.description,
                ext_ref=pay.ext_ref_nbr,
                setup=setup,
                now=stamp,
            )
            | {"PerEnt": PER_POST},
            include_identity=False,
        )
        assert _norm(lines[ref], drop | {"RecordID"}) == _norm(expected, drop | {"RecordID"}), ref
    ledger = {r["ledger_key"]: r for r in fetch(sl_engine, xPTLedger, xPTLedger.c.bat_nbr == bat)}
    assert len(ledger) == N
    notes = {k: r["note"] for k, r in ledger.items() if r["note"]}
    assert set(notes) == {f"paytrace:{t}:payment" for t in (900_002, 900_003, 900_004, 900_006)}
    for pay in pays:
        row = ledger[pay.ledger_key]
        expected = writer._ledger_row(
            pay,
            kind="payment",
            cpny=CPNY,
            module="AR",
            bat_nbr=bat,
            doc_type="PA",
            ref_nbr=str(pay.transaction_id),
            cust_id=pay.cust_id,
            amount=pay.amount,
            setup=setup,
            per_post=PER_POST,
            note=row["note"],
        )
        assert expected["content_hash"] == content_hash(pay)
        skip = {"posted_at", "updated_at", "id"}
        assert {k: v for k, v in row.items() if k not in skip} == {
            k: (v.rstrip() if isinstance(v, str) else v) for k, v in expected.items() if k not in skip
        }, pay.ledger_key
    assert len({r["posted_at"] for r in ledger.values()}) == 1  # one transaction, one posting time
