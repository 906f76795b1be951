"""Review workbench pieces without I/O: the resolve override in the transform, queue order, ages and
the merging of suggestions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest
import sqlalchemy as sa
from mapping_examples import TWO_CLEARING_MAPPING
from pipeline_tx_builders import tx

from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.sl_context import OpenInvoice, SLContext
from paytrace_sl.pipeline.transform import build_plan
from paytrace_sl.plan import PlannedPayment
from paytrace_sl.review.store import ReviewError, ReviewItem, dismiss, parse_age, queue_order
from paytrace_sl.review.suggest import merge
from paytrace_sl.sl.own_tables import install, xPTReview
from paytrace_sl.suggestion import Suggestion

MAPPING = load_mapping(TWO_CLEARING_MAPPING)


def _ctx(**overrides: tuple[str, str]) -> SLContext:
    base = SLContext.build(
        cpny_id="0010",
        customers={"C100", "C200"},
        invoices=[OpenInvoice("INV9", "C200", Decimal("500.00"))],
    )
    return dataclasses.replace(
        base, overrides=MappingProxyType({int(k[1:]): v for k, v in overrides.items()})
    )


def _items(result):  # type: ignore[no-untyped-def]
    return {i.transaction_id: i for b in result.plan.batches for i in b.items}


def test_override_posts_an_unknown_payer_for_the_chosen_customer_and_invoice() -> None:
    txs = [tx(1, customer_id="STRANGER"), tx(2, customer_id="STRANGER")]
    plain = build_plan(txs, _ctx(), MAPPING)
    assert set(plain.review) == {1, 2} and plain.review[1].code == "unknown_customer"

    chosen = build_plan(txs, _ctx(t1=("C200", "INV9")), MAPPING)
    item = _items(chosen)[1]
    assert isinstance(item, PlannedPayment) and item.cust_id == "C200"
    assert [a.ref_nbr for a in item.applications] == ["INV9"] and item.ext_ref_nbr == "INV9"
    assert set(chosen.review) == {2}  # only the chosen transaction: the other one still waits


def test_override_to_a_customer_sl_does_not_know_changes_nothing() -> None:
    result = build_plan([tx(1, customer_id="STRANGER")], _ctx(t1=("NOPE", "")), MAPPING)
    assert set(result.review) == {1}


def test_override_wins_over_a_strategy_match() -> None:
    item = _items(build_plan([tx(1, customer_id="C100")], _ctx(t1=("C200", "")), MAPPING))[1]
    assert item.cust_id == "C200" and item.applications == ()


def _item(item_id: int, minute: int, amount: str | None) -> ReviewItem:
    return ReviewItem(
        id=item_id,
        transaction_id=item_id,
        ledger_key=None,
        reason_code="unknown_customer",
        reason="",
        details={} if amount is None else {"amount": amount},
        run_id=None,
        created_at=dt.datetime(2025, 4, 2, 10, minute, 5, tzinfo=dt.UTC),
    )


def test_queue_is_oldest_first_then_larger_amount() -> None:
    items = [_item(1, 5, "10.00"), _item(2, 1, "5.00"), _item(3, 5, "99.00"), _item(4, 5, None)]
    assert [i.id for i in queue_order(items)] == [2, 3, 1, 4]


def test_parse_age() -> None:
    assert parse_age("3d") == dt.timedelta(days=3)
    assert parse_age("12h") == dt.timedelta(hours=12)
    assert parse_age("90m") == dt.timedelta(minutes=90)
    assert parse_age("2") == dt.timedelta(days=2)
    with pytest.raises(ReviewError):
        parse_age("soon")


def test_merge_keeps_one_suggestion_per_customer_best_first() -> None:
    merged = merge(
        [
            Suggestion("C2", 0.4, ("invoice",), False, "invoice"),
            Suggestion("C1", 0.9, ("invoice",), True, "invoice"),
            Suggestion("C1", 1.0, ("customer_id",), True, "xref"),
        ]
    )
    assert [(s.cust_id, s.source) for s in merged] == [("C1", "xref"), ("C2", "invoice")]
    assert merged[0].agreed == ("invoice", "customer_id") and merged[0].score == 1.0


def test_item_payer_facts_never_carry_card_data() -> None:
    item = dataclasses.replace(
        _item(1, 0, "12.00"),
        details={"customer_id": "P1", "invoice_id": "INV9", "billing_name": "Ann", "card_masked": "4111"},
    )
    payer = item.payer()
    assert (payer.paytrace_customer_id, payer.invoice, payer.name) == ("P1", "INV9", "Ann")
    assert "4111" not in repr(payer)


def test_a_card_number_typed_as_a_reason_is_masked(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'own.db'}")
    install(engine, require_sl=False)
    with engine.begin() as conn:
        item_id = conn.execute(
            sa.insert(xPTReview)
            .values(transaction_id=1, reason_code="x", reason="x", created_at=dt.datetime.now(dt.UTC))
            .returning(xPTReview.c.id)
        ).scalar_one()
    closed = dismiss(engine, item_id, who="cli:eve", why="refunded to 4111 1111 1111 1111 by phone")
    assert closed.closed_why is not None and "4111 1111 1111 1111" not in closed.closed_why
    assert closed.closed_why.endswith("1111 by phone")
