"""load_sl_context against an SL replica built from SL's own DDL (SQLite), with our tables installed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.sl_context import SLContextError, load_sl_context
from paytrace_sl.pipeline.transform import build_plan
from paytrace_sl.sl import catalog, own_tables
from paytrace_sl.sl.rows import complete_row

pytestmark = pytest.mark.integration

NOW = dt.datetime(2025, 4, 10, 12, 0, tzinfo=dt.UTC)


def _ardoc(
    ref: str, cust: str, bal: float, *, rlsed: int = 1, open_doc: int = 1, doc_type: str = "IN"
) -> dict:
    values = {
        "CustId": cust,
        "DocType": doc_type,
        "RefNbr": ref,
        "BatNbr": "000100",
        "CpnyID": "0010",
        "DocBal": bal,
        "CuryDocBal": bal,
        "OrigDocAmt": bal,
        "CuryOrigDocAmt": bal,
        "Rlsed": rlsed,
        "OpenDoc": open_doc,
    }
    return complete_row(catalog.ARDoc, values, include_identity=False)


def _ledger(tid: int, kind: str, status: str, state: str, updated: dt.datetime) -> dict:
    return {
        "ledger_key": f"paytrace:{tid}:{kind}",
        "transaction_id": tid,
        "kind": kind,
        "cpny_id": "0010",
        "module": "AR",
        "bat_nbr": "000101",
        "doc_type": "PA",
        "ref_nbr": "000001",
        "cust_id": "C100",
        "amount": Decimal("100.00"),  # what tx() says: a copy with another amount would be a review item
        "cury_id": "USD",
        "per_post": "202504",
        "paytrace_state": state,
        "content_hash": "x" * 64,
        "status": status,
        "posted_at": updated,
        "updated_at": updated,
    }


def test_context_reads_customers_xref_invoices_orders_and_ledger(sl_sqlite_url: str) -> None:
    engine = sa.create_engine(sl_sqlite_url)
    own_tables.install(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(catalog.Customer),
            [
                complete_row(catalog.Customer, {"CustId": c, "Name": c}, include_identity=False)
                for c in ("C100", "C200", "C300")
            ],
        )
        conn.execute(
            sa.insert(catalog.ARDoc),
            [
                _ardoc("INV-1", "C100", 150.0),
                _ardoc("INV-2", "C200", 75.5),
                _ardoc("INV-3", "C100", 0.0, open_doc=0),  # closed
                _ardoc("INV-4", "C100", 50.0, rlsed=0),  # not released
                _ardoc("INV-5", "C100", 50.0, doc_type="CM"),  # not an invoice
            ],
        )
        conn.execute(
            sa.insert(catalog.SOHeader),
            [
                complete_row(
                    catalog.SOHeader,
                    {"CpnyID": "0010", "OrdNbr": "SO-77", "CustID": "C300"},
                    include_identity=False,
                ),
            ],
        )
        conn.execute(
            sa.insert(own_tables.xPTCustXref),
            [
                {
                    "paytrace_customer_id": "vault-9",
                    "cust_id": "C200",
                    "source": "manual",
                    "active": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                {
                    "paytrace_customer_id": "vault-old",
                    "cust_id": "C300",
                    "source": "manual",
                    "active": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ],
        )
        conn.execute(
            sa.insert(own_tables.xPTLedger),
            [
                _ledger(1, "payment", "posted", "pending", NOW),
                _ledger(1, "void", "posted", "voided", NOW + dt.timedelta(hours=1)),
                _ledger(2, "payment", "posted", "settled", NOW),
                _ledger(99, "payment", "posted", "settled", NOW),  # not asked for
            ],
        )
    with engine.connect() as conn:
        ctx = load_sl_context(
            conn,
            transaction_ids=[1, 2, 3],
            customer_ids=["C100", "vault-9", "vault-old", "nobody", ""],
            invoice_ids=["INV-1", "INV-2", "INV-3", "INV-4", "INV-5", "SO-77", ""],
            cpny_id="0010",
        )
    assert ctx.cpny_id == "0010"
    assert ctx.customers == {"C100", "C200", "C300"}
    assert dict(ctx.xref) == {"vault-9": "C200"}
    assert sorted(ctx.open_invoices) == ["INV-1", "INV-2"]
    assert ctx.open_invoices["INV-2"][0].doc_bal == Decimal("75.50")
    assert ctx.open_invoices["INV-1"][0].cust_id == "C100"
    # any invoice, closed or unreleased too, names its customer (issue 11 §4); a CM is no invoice
    assert {k: set(v) for k, v in ctx.invoice_owners.items()} == {
        "INV-1": {"C100"},
        "INV-2": {"C200"},
        "INV-3": {"C100"},
        "INV-4": {"C100"},
    }
    assert [o.cust_id for o in ctx.orders["SO-77"]] == ["C300"]
    assert set(ctx.ledger) == {1, 2}
    assert dict(ctx.ledger[1].kinds) == {"payment": "posted", "void": "posted"}
    assert ctx.ledger[1].paytrace_state == "voided"  # the latest row's state
    posted = ctx.ledger[2].posted  # the id's one posting, for the changed-copy check
    assert posted is not None and (posted.kind, posted.amount) == ("payment", Decimal("100.00"))
    # and the context drives a transform end to end
    from pipeline_tx_builders import tx

    result = build_plan(
        [tx(2), tx(3, customer_id="vault-9", invoice_id="INV-2", amount="75.50")], ctx, load_mapping()
    )
    assert result.already_posted == (2,)
    item = result.plan.batches[0].items[0]
    assert (item.cust_id, item.applications[0].ref_nbr) == ("C200", "INV-2")  # type: ignore[union-attr]


def test_missing_integration_tables_is_a_clear_error(sl_sqlite_url: str) -> None:
    engine = sa.create_engine(sl_sqlite_url)
    with engine.connect() as conn, pytest.raises(SLContextError, match="xPTLedger is missing"):
        load_sl_context(conn, transaction_ids=[1], customer_ids=[], invoice_ids=[])
