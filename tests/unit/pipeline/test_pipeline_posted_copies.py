"""One PayTrace id is posted once whatever its type: a later copy that differs is a review item."""

from __future__ import annotations

from decimal import Decimal

from mapping_examples import TWO_CLEARING_MAPPING
from pipeline_tx_builders import tx

from paytrace_sl.paytrace.records import TransactionState as S
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.posted_copies import PostedFacts, customer_digest
from paytrace_sl.pipeline.sl_context import LedgerEntry, SLContext
from paytrace_sl.pipeline.transform import build_plan
from paytrace_sl.plan import PlannedPayment, PlannedRefund

MAPPING = load_mapping(TWO_CLEARING_MAPPING)


def _ctx(ledger: dict[int, LedgerEntry]) -> SLContext:
    return SLContext.build(cpny_id="0010", customers={"C100", "C200"}, ledger=ledger)


def _posted_sale(kind: str = "payment", ttype: str = "SALE", amount: str = "100.00") -> LedgerEntry:
    facts = PostedFacts(kind, Decimal(amount), ttype, customer_digest("C100"))
    return LedgerEntry(kinds={kind: "posted"}, paytrace_state="settled", posted=facts)


def test_posted_sale_returned_as_refund_is_a_review_item_not_a_second_posting() -> None:
    result = build_plan([tx(7, transaction_type="REFUND")], _ctx({7: _posted_sale()}), MAPPING)
    assert result.plan.batches == ()
    reason = result.review[7]
    assert reason.code == "posted_copy_changed"
    assert "type SALE → REFUND" in reason.text and "amount" not in reason.text
    assert 7 not in result.already_posted


def test_amount_or_customer_change_after_posting_is_review_never_already_posted_and_names_no_value() -> None:
    ledger = {1: _posted_sale(), 2: _posted_sale()}
    result = build_plan([tx(1, amount="150.00"), tx(2, customer_id="C200")], _ctx(ledger), MAPPING)
    assert result.plan.batches == () and result.already_posted == ()
    assert "different amount" in result.review[1].text and "150" not in result.review[1].text
    assert "different customer" in result.review[2].text and "C200" not in result.review[2].text


def test_unchanged_copies_and_legitimate_events_keep_working() -> None:
    ledger = {
        1: _posted_sale(),  # same copy again: already posted
        2: _posted_sale(),  # voided after posting: the void is planned (a second event, same id)
        3: _posted_sale("refund", "REFUND", "40.00"),  # a refund's CM + DM: one posting
    }
    rows = [tx(1), tx(2, status=S.VOIDED), tx(3, transaction_type="REFUND", amount="40.00")]
    result = build_plan(rows, _ctx(ledger), MAPPING)
    assert sorted(result.already_posted) == [1, 3]
    assert result.review == {}
    (void,) = [i for b in result.plan.batches for i in b.items]
    assert void.ledger_key == "paytrace:2:void"


def test_pre_v3_ledger_rows_compare_kind_and_amount() -> None:
    old = LedgerEntry(
        kinds={"payment": "posted"}, paytrace_state="settled", posted=PostedFacts("payment", Decimal(100))
    )
    result = build_plan(
        [tx(1, transaction_type="REFUND"), tx(2, customer_id="C200"), tx(3, amount="1.00")],
        _ctx({1: old, 2: old, 3: old}),
        MAPPING,
    )
    assert set(result.review) == {1, 3}  # the customer is unknown for a pre-v3 row: not compared
    assert result.already_posted == (2,)


def test_planned_items_carry_type_and_customer_digest_for_the_ledger() -> None:
    result = build_plan([tx(1), tx(2, transaction_type="REFUND")], _ctx({}), MAPPING)
    items = {i.transaction_id: i for b in result.plan.batches for i in b.items}  # type: ignore[union-attr]
    pay, refund = items[1], items[2]
    assert isinstance(pay, PlannedPayment) and isinstance(refund, PlannedRefund)
    assert (pay.paytrace_type, refund.paytrace_type) == ("SALE", "REFUND")
    assert pay.customer_digest == customer_digest("C100") and "C100" not in pay.customer_digest
