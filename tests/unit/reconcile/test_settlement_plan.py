"""plan_settlements: one GL batch per settled PayTrace batch, split over clearing accounts when needed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from mapping_examples import TWO_CLEARING_MAPPING

from paytrace_sl.paytrace.records import BrandTotals, SettlementBatch, Transaction, TransactionState
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.settlement import SettlementPlanError, is_empty_batch, plan_settlements
from paytrace_sl.plan import Account, PostingKind
from paytrace_sl.reconcile.charts import bar_chart
from paytrace_sl.reconcile.model import Totals, cents
from paytrace_sl.reconcile.settled_batch import totals_of

TZ = ZoneInfo("America/Los_Angeles")
MAPPING = load_mapping(TWO_CLEARING_MAPPING)  # two clearing rules (Amex apart)
AMEX, CARDS, BANK = Account("1015", "000000"), Account("1010", "000000"), Account("1000", "000000")


def _batch(number: int, brands: tuple[BrandTotals, ...] = (), net: str | None = None) -> SettlementBatch:
    sales = sum((b.sales_amount for b in brands), Decimal("0.00"))
    refunds = sum((b.refund_amount for b in brands), Decimal("0.00"))
    return SettlementBatch(
        number=number,
        created_at=dt.datetime(2025, 4, 1, 23, 30, tzinfo=TZ),
        transaction_count=0,
        net_amount=Decimal(net) if net is not None else sales - refunds,
        sales_count=0,
        sales_amount=sales,
        refund_count=0,
        refund_amount=refunds,
        brands=brands,
    )


def _brand(name: str, sales: str, refunds: str = "0.00") -> BrandTotals:
    return BrandTotals(name, 1, Decimal(sales), 1 if refunds != "0.00" else 0, Decimal(refunds))


def _mapping_file(tmp_path: Path, replace: tuple[str, str]) -> Path:
    text = TWO_CLEARING_MAPPING.read_text().replace(*replace)
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return path


def test_brands_split_over_clearing_accounts() -> None:
    mapping = MAPPING
    batch = _batch(
        571, (_brand("visa", "900.00", "20.00"), _brand("amex", "400.00"), _brand("mastercard", "50.00"))
    )
    plan = plan_settlements([batch], mapping, "PTDEMO")
    (gl,) = plan.batches
    assert gl.kind == PostingKind.SETTLEMENT and gl.cpny_id == "PTDEMO" and gl.status == "H"
    by_account = {i.clearing_account: i for i in gl.items}
    assert by_account[CARDS].net_amount == Decimal("930.00") and by_account[AMEX].net_amount == Decimal(
        "400.00"
    )
    assert all(i.bank_account == BANK and i.settled_date == dt.date(2025, 4, 1) for i in gl.items)
    assert sum(i.net_amount for i in gl.items) == batch.net_amount
    keys = sorted(i.ledger_key for i in gl.items)
    assert keys == ["paytrace-batch:571:settlement:1010-000000", "paytrace-batch:571:settlement:1015-000000"]


def test_single_account_keeps_plain_key() -> None:
    plan = plan_settlements([_batch(9, (_brand("visa", "10.00"),))], MAPPING, "PTDEMO")
    (item,) = plan.batches[0].items
    assert item.ledger_key == "paytrace-batch:9:settlement" and item.clearing_account == CARDS


def test_transactions_decide_when_given() -> None:
    def t(txid: int, amount: str, masked: str, kind: str = "SALE") -> Transaction:
        return Transaction(
            txid,
            kind,
            TransactionState.SETTLED,
            7,
            Decimal(amount),
            Decimal(0),
            dt.datetime(2025, 4, 1, 9, tzinfo=TZ),
            None,
            "",
            "",
            masked,
        )

    txs = [
        t(1, "100.00", "378282******0005"),
        t(2, "50.00", "411111******1111"),
        t(3, "5.00", "411111******1111", "REFUND"),
    ]
    batch = _batch(7, net="145.00")
    plan = plan_settlements([batch], MAPPING, "C1", transactions_by_batch={7: txs})
    nets = {i.clearing_account: i.net_amount for i in plan.batches[0].items}
    assert nets == {AMEX: Decimal("100.00"), CARDS: Decimal("45.00")}
    with pytest.raises(SettlementPlanError, match=r"listed transactions sum to 145\.00"):
        plan_settlements(
            [_batch(7, net="150.00")],
            MAPPING,
            "C1",
            transactions_by_batch={7: txs},
        )


def test_refuses_what_it_cannot_split() -> None:
    with pytest.raises(SettlementPlanError, match="no brand totals or transactions"):
        plan_settlements([_batch(1, net="10.00")], MAPPING, "C1")
    inconsistent = _batch(2, (_brand("visa", "10.00"),), net="11.00")
    with pytest.raises(SettlementPlanError, match=r"brand totals sum to 10\.00"):
        plan_settlements([inconsistent], MAPPING, "C1")


def test_no_bank_account_no_plan(tmp_path: Path) -> None:
    same = load_mapping(
        _mapping_file(tmp_path, ('bank_account: {acct: "1000"', 'bank_account: {acct: "1010"'))
    )
    assert plan_settlements([_batch(1, (_brand("visa", "10.00"),))], same, "C1").batches == ()


def test_totals_and_cents() -> None:
    assert Totals(2, Decimal("150.00"), 1, Decimal("20.00")).net == Decimal("130.00")
    assert cents(Decimal("-0.05")) == -5 and cents(Decimal("75.00")) == 7500
    voided = Transaction(
        1,
        "SALE",
        TransactionState.VOIDED,
        None,
        Decimal("9.00"),
        Decimal(0),
        dt.datetime(2025, 4, 1, tzinfo=TZ),
        None,
        "",
        "",
        "",
    )
    assert totals_of([voided]).count == 0


def test_chart_is_deterministic_svg() -> None:
    a = bar_chart("t", ["2025-04-01", "2025-04-02"], [("n", [Decimal("1.50"), Decimal("3.00")])])
    assert a == bar_chart("t", ["2025-04-01", "2025-04-02"], [("n", [Decimal("1.50"), Decimal("3.00")])])
    assert a.startswith("<svg") and a.count("<rect") == 3 and "2025-04-02 n: 3.00" in a


def test_settled_authorization_counts_and_its_capture_skip_explains_nothing() -> None:
    from paytrace_sl.pipeline.settlement import classify
    from paytrace_sl.reconcile.settled_batch import explains
    from paytrace_sl.reconcile.sl_state import WhyNotPosted

    def auth(state: TransactionState) -> Transaction:
        return Transaction(
            5,
            "AUTHORIZATION",
            state,
            502 if state == TransactionState.SETTLED else None,
            Decimal("104.73"),
            Decimal(0),
            dt.datetime(2025, 4, 2, 9, tzinfo=TZ),
            None,
            "",
            "",
            "",
        )

    skip = WhyNotPosted("skipped", "skipped (awaiting_capture): authorization only")
    assert classify(auth(TransactionState.SETTLED), MAPPING) == "sale"
    assert classify(auth(TransactionState.AUTHORIZED), MAPPING) is None
    assert not explains(auth(TransactionState.SETTLED), skip)
    assert explains(auth(TransactionState.AUTHORIZED), skip)
    assert explains(auth(TransactionState.SETTLED), WhyNotPosted("review", "waiting in the review queue"))


def test_empty_batch_is_not_planned_and_does_not_hide_the_next() -> None:
    """Net 0, no transactions: nothing to deposit, no GL batch without lines; the next batch is planned."""
    empty, real = _batch(570), _batch(571, (_brand("visa", "90.00"),))
    assert is_empty_batch(empty, []) and is_empty_batch(empty, None)
    assert not is_empty_batch(real, None)
    plan = plan_settlements([empty, real], MAPPING, "PTDEMO", transactions_by_batch={570: []})
    assert [{i.batch_number for i in b.items} for b in plan.batches] == [{571}]
