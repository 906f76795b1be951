"""Transform rules on small inputs with an in-memory SL context (every rule of docs/mapping.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from mapping_examples import TWO_CLEARING_MAPPING
from pipeline_tx_builders import LA, tx

from paytrace_sl.paytrace.records import TransactionState as S
from paytrace_sl.pipeline.mapping import CustomerMatching, load_mapping
from paytrace_sl.pipeline.sl_context import LedgerEntry, OpenInvoice, SalesOrder, SLContext
from paytrace_sl.pipeline.transform import TransformError, build_plan, plan_rows
from paytrace_sl.plan import Account, PlannedPayment, PlannedRefund, PlannedVoid, PostingKind

MAPPING = load_mapping(TWO_CLEARING_MAPPING)  # two clearing rules (Amex apart)


def ctx(**kw: object) -> SLContext:
    base: dict[str, object] = {"cpny_id": "0010", "customers": {"C100", "C200", "UNIDENT"}}
    base.update(kw)
    return SLContext.build(**base)  # type: ignore[arg-type]


def only_item(result):  # type: ignore[no-untyped-def]
    items = [i for b in result.plan.batches for i in b.items]
    assert len(items) == 1, items
    return items[0]


def test_sale_becomes_unapplied_payment_with_clearing_account_and_local_doc_date() -> None:
    # 2025-04-10 23:30 in Los Angeles is already 04-11 in UTC: the SL date is the merchant's local date
    late = dt.datetime(2025, 4, 10, 23, 30, tzinfo=LA)
    result = build_plan([tx(1, created_at=late)], ctx(), MAPPING)
    item = only_item(result)
    assert isinstance(item, PlannedPayment)
    assert item.doc_date == dt.date(2025, 4, 10)
    assert item.cust_id == "C100"
    assert item.amount == Decimal("100.00")
    assert item.cash_account == Account("1010", "000000")
    assert item.applications == ()
    batch = result.plan.batches[0]
    assert (batch.kind, batch.cpny_id, batch.status) == (PostingKind.PAYMENT, "0010", "H")


def test_capture_and_force_are_payments_authorization_waits() -> None:
    result = build_plan(
        [
            tx(1, transaction_type="CAPTURE"),
            tx(2, transaction_type="FORCE"),
            tx(3, transaction_type="AUTHORIZATION", status=S.AUTHORIZED),
        ],
        ctx(),
        MAPPING,
    )
    assert {i.transaction_id for b in result.plan.batches for i in b.items} == {1, 2}
    assert result.skipped[3].code == "awaiting_capture"


def test_authorization_captured_in_place_is_a_payment() -> None:
    # PayTrace captures in place: the AUTHORIZATION record moves on to pending/settled with the
    # captured amount, and that is the money the merchant receives.
    result = build_plan(
        [
            tx(1, transaction_type="AUTHORIZATION", status=S.PENDING, amount="80.00"),
            tx(2, transaction_type="AUTHORIZATION", status=S.SETTLED),
            tx(3, transaction_type="AUTHORIZATION", status=S.AUTHORIZED),
            tx(4, transaction_type="AUTHORIZATION", status=S.VOIDED),
        ],
        ctx(),
        MAPPING,
    )
    items = {i.transaction_id: i for b in result.plan.batches for i in b.items}
    assert set(items) == {1, 2}
    assert isinstance(items[1], PlannedPayment) and items[1].amount == Decimal("80.00")
    assert result.skipped[3].code == "awaiting_capture"
    assert result.skipped[4].code == "voided_before_posting"


def test_declined_skipped_never_posted() -> None:
    result = build_plan([tx(1, status=S.DECLINED)], ctx(), MAPPING)
    assert result.plan.batches == ()
    assert result.skipped[1].code == "declined"


def test_zero_amount_skipped() -> None:
    result = build_plan([tx(1, amount="0.00")], ctx(), MAPPING)
    assert result.skipped[1].code == "zero_amount"


def test_amex_brand_rule_picks_its_clearing_account() -> None:
    result = build_plan([tx(1, card_masked="378282*****0005"), tx(2)], ctx(), MAPPING)
    accounts = {i.transaction_id: i.cash_account for b in result.plan.batches for i in b.items}
    assert accounts[1] == Account("1015", "000000")
    assert accounts[2] == Account("1010", "000000")
    assert list(result.outcomes.sort_values("transaction_id")["gl_rule"]) == [
        "amex-clearing",
        "card-clearing",
    ]


def test_invoice_pattern_and_channel_rules_in_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (MAPPING.source.read_text()).replace(  # type: ignore[union-attr]
        "  - name: amex-clearing\n",
        "  - name: parts\n    when:\n      invoice_pattern: '^PRT-'\n      channel: [API]\n"
        '    clearing: {acct: "1020", sub: "PARTS"}\n  - name: amex-clearing\n',
    )
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    mapping = load_mapping(path)
    result = build_plan(
        [
            tx(1, invoice_id="PRT-9", card_masked="378282*****0005"),  # first rule wins over amex
            tx(2, invoice_id="PRT-9", created_through="VT"),  # channel does not match
        ],
        ctx(orders=[SalesOrder("PRT-9", "C100")]),
        mapping,
    )
    accounts = {i.transaction_id: i.cash_account for b in result.plan.batches for i in b.items}
    assert accounts == {1: Account("1020", "PARTS"), 2: Account("1010", "000000")}


def test_refund_becomes_planned_refund_with_refund_account() -> None:
    result = build_plan([tx(7, transaction_type="REFUND", amount="25.50")], ctx(), MAPPING)
    item = only_item(result)
    assert isinstance(item, PlannedRefund)
    assert item.amount == Decimal("25.50")
    assert item.refund_account == Account("4910", "000000")
    assert item.clearing_account == Account("1010", "000000")
    assert result.plan.batches[0].kind == PostingKind.REFUND
    assert item.reverses_invoice == ""  # no invoice: money paid on account goes back, a DM alone
    assert plan_rows(result.plan, MAPPING)["doc_type"].tolist() == ["DM"]


def test_refund_quoting_its_customers_invoice_reverses_it() -> None:
    """Issue 11 §1: a CM against sales returns only when the refund reverses an invoice the sale paid;
    the invoice may be closed (paid) by now."""
    context = ctx(invoice_owners=[("INV-1", "C100"), ("INV-2", "C200")])
    result = build_plan(
        [
            tx(7, transaction_type="REFUND", invoice_id="INV-1"),
            tx(8, transaction_type="REFUND", invoice_id="INV-2"),  # another customer's: on account
            tx(9, transaction_type="REFUND", invoice_id="SO-5"),  # a sales order: on account
        ],
        context,
        MAPPING,
    )
    refunds = {i.transaction_id: i for b in result.plan.batches for i in b.items}
    assert {t: r.reverses_invoice for t, r in refunds.items()} == {7: "INV-1", 8: "", 9: ""}  # type: ignore[union-attr]
    assert plan_rows(result.plan, MAPPING)["doc_type"].tolist() == ["CM", "DM", "DM"]


def test_customer_matching_exact_then_xref_then_invoice() -> None:
    context = ctx(
        xref={"vault-9": "C200"},
        invoices=[OpenInvoice("INV-1", "C200", Decimal("500.00"))],
    )
    result = build_plan(
        [
            tx(1, customer_id="C100"),
            tx(2, customer_id="vault-9"),
            tx(3, customer_id="", invoice_id="INV-1"),
            tx(4, customer_id="nobody"),
        ],
        context,
        MAPPING,
    )
    custs = {i.transaction_id: i.cust_id for b in result.plan.batches for i in b.items}
    assert custs == {1: "C100", 2: "C200", 3: "C200"}
    assert result.review[4].code == "unknown_customer"
    assert "'nobody'" in result.review[4].text


def test_xref_to_a_customer_missing_in_sl_is_not_a_match() -> None:
    result = build_plan([tx(1, customer_id="vault-9")], ctx(xref={"vault-9": "GONE"}), MAPPING)
    assert result.review[1].code == "unknown_customer"


def test_unmatched_customer_to_unidentified_receipts_by_configuration() -> None:
    mapping = dataclasses.replace(
        MAPPING, customers=CustomerMatching(unmatched="unidentified", unidentified_customer_id="UNIDENT")
    )
    result = build_plan(
        [tx(1, customer_id="nobody"), tx(2, customer_id="nobody", transaction_type="REFUND")], ctx(), mapping
    )
    items = {i.transaction_id: i for b in result.plan.batches for i in b.items}
    assert isinstance(items[1], PlannedPayment) and isinstance(items[2], PlannedRefund)
    assert items[1].cust_id == items[2].cust_id == "UNIDENT"
    assert items[1].review_reason.startswith("unidentified_customer")
    # the refund of an unidentified receipt: a DM of the unidentified customer, never a credit
    assert items[2].review_reason.startswith("unidentified_customer") and items[2].reverses_invoice == ""
    assert result.review == {}


def test_unidentified_walk_ins_only_a_known_paytrace_customer_waits_in_review() -> None:
    mapping = dataclasses.replace(
        MAPPING,
        customers=CustomerMatching(unmatched="unidentified_walk_ins", unidentified_customer_id="UNIDENT"),
    )
    result = build_plan([tx(1, customer_id=""), tx(2, customer_id="PT-NEW")], ctx(), mapping)
    items = {i.transaction_id: i for b in result.plan.batches for i in b.items}
    assert set(items) == {1} and isinstance(items[1], PlannedPayment) and items[1].cust_id == "UNIDENT"
    assert items[1].review_reason.startswith("unidentified_customer")
    assert set(result.review) == {2} and result.review[2].code == "unknown_customer"


def test_payments_to_own_invoice_are_always_posted_and_applied_by_the_writer() -> None:
    """The paying customer is known: both receipts are posted, each applying to the invoice; the writer
    splits what the open balance cannot cover (docs/accounting.md §2), so no review here."""
    context = ctx(invoices=[OpenInvoice("INV-1", "C100", Decimal("150.00"))])
    early = dt.datetime(2025, 4, 10, 9, 0, tzinfo=LA)
    later = dt.datetime(2025, 4, 10, 10, 0, tzinfo=LA)
    result = build_plan(
        [tx(2, invoice_id="INV-1", created_at=later), tx(1, invoice_id="INV-1", created_at=early)],
        context,
        MAPPING,
    )
    items = [i for b in result.plan.batches for i in b.items]
    assert [i.transaction_id for i in items] == [1, 2]  # in time order: the writer consumes the balance
    assert all(isinstance(i, PlannedPayment) for i in items)
    assert [i.applications[0].ref_nbr for i in items if isinstance(i, PlannedPayment)] == ["INV-1", "INV-1"]
    assert [i.ext_ref_nbr for i in items if isinstance(i, PlannedPayment)] == ["INV-1", "INV-1"]
    assert result.review == {}


def test_closed_invoice_identifies_its_customer_and_is_applied_by_the_writer() -> None:
    """Issue 11 §4: a paid (closed) invoice still names its customer; the writer finds it closed."""
    context = ctx(invoice_owners=[("INV-9", "C200")])
    result = build_plan([tx(1, customer_id="", invoice_id="INV-9")], context, MAPPING)
    item = only_item(result)
    assert isinstance(item, PlannedPayment)
    assert (item.cust_id, item.applications[0].ref_nbr) == ("C200", "INV-9")


def test_invoice_of_another_customer_posts_unapplied_for_the_payer() -> None:
    context = ctx(invoices=[OpenInvoice("INV-1", "C200", Decimal("500.00"))])
    result = build_plan([tx(1, customer_id="C100", invoice_id="INV-1")], context, MAPPING)
    item = only_item(result)
    assert isinstance(item, PlannedPayment)
    assert (item.cust_id, item.applications) == ("C100", ())
    assert item.review_reason.startswith("invoice_other_customer: invoice 'INV-1' belongs to C200, not C100")
    assert result.review == {}


def test_sales_order_reference_posts_unapplied_with_review_note() -> None:
    result = build_plan([tx(1, invoice_id="SO-77")], ctx(orders=[SalesOrder("SO-77", "C100")]), MAPPING)
    item = only_item(result)
    assert item.applications == ()
    assert item.ext_ref_nbr == "SO-77"
    assert item.review_reason.startswith("order_not_invoiced")


def test_unknown_invoice_id_posts_unapplied_with_review_note() -> None:
    result = build_plan([tx(1, invoice_id="NOPE-1")], ctx(), MAPPING)
    item = only_item(result)
    assert isinstance(item, PlannedPayment)
    assert item.applications == ()
    assert item.review_reason.startswith("invoice_not_found: invoice id 'NOPE-1'")
    assert result.review == {}


def test_unidentified_customer_posts_even_when_an_unknown_invoice_is_quoted() -> None:
    mapping = dataclasses.replace(
        MAPPING, customers=CustomerMatching(unmatched="unidentified", unidentified_customer_id="UNIDENT")
    )
    result = build_plan([tx(1, customer_id="nobody", invoice_id="NOPE-1")], ctx(), mapping)
    item = only_item(result)
    assert isinstance(item, PlannedPayment) and item.cust_id == "UNIDENT"
    assert item.review_reason.startswith("unidentified_customer")
    assert "invoice_not_found" in item.review_reason
    assert result.review == {}


def test_void_of_posted_sale_plans_a_void_once() -> None:
    ledger = {1: LedgerEntry(kinds={"payment": "posted"}, paytrace_state="pending")}
    end = dt.datetime(2025, 4, 12, 1, 0, tzinfo=LA)
    result = build_plan(
        [tx(1, status=S.VOIDED)], ctx(ledger=ledger), MAPPING, window=(end - dt.timedelta(hours=1), end)
    )
    item = only_item(result)
    assert isinstance(item, PlannedVoid)
    assert item.doc_date == dt.date(2025, 4, 12)
    assert result.plan.batches[0].kind == PostingKind.VOID
    # the next window sees the void in the ledger: nothing more
    ledger2 = {1: LedgerEntry(kinds={"payment": "removed", "void": "posted"}, paytrace_state="voided")}
    again = build_plan([tx(1, status=S.VOIDED)], ctx(ledger=ledger2), MAPPING)
    assert again.plan.batches == ()
    assert again.already_posted == (1,)


def test_capture_is_dated_no_earlier_than_the_window_it_is_first_seen_captured_in() -> None:
    """Issue 11 §6: PayTrace keeps the authorization's created.at on a capture."""
    auth_day = dt.datetime(2025, 4, 3, 10, 0, tzinfo=LA)
    start = dt.datetime(2025, 4, 10, 0, 0, tzinfo=LA)
    window = (start, start + dt.timedelta(days=1))
    records = [
        tx(1, transaction_type="AUTHORIZATION", status=S.SETTLED, created_at=auth_day),
        tx(2, created_at=auth_day),  # a sale keeps its own date
        tx(3, transaction_type="AUTHORIZATION", status=S.PENDING, created_at=start + dt.timedelta(hours=5)),
    ]
    result = build_plan(records, ctx(), MAPPING, window=window)
    dates = {i.transaction_id: i.doc_date for b in result.plan.batches for i in b.items}
    assert dates == {1: dt.date(2025, 4, 10), 2: dt.date(2025, 4, 3), 3: dt.date(2025, 4, 10)}


def test_void_of_sale_never_posted_is_skipped() -> None:
    result = build_plan([tx(1, status=S.VOIDED)], ctx(), MAPPING)
    assert result.skipped[1].code == "voided_before_posting"


def test_void_record_itself_is_skipped() -> None:
    result = build_plan([tx(1, transaction_type="VOID", status=S.VOIDED)], ctx(), MAPPING)
    assert result.skipped[1].code == "void_record"


def test_lookback_same_state_changes_nothing_state_change_no_document() -> None:
    ledger = {
        1: LedgerEntry(kinds={"payment": "posted"}, paytrace_state="settled"),
        2: LedgerEntry(kinds={"payment": "posted"}, paytrace_state="pending"),
        3: LedgerEntry(kinds={"refund": "posted"}, paytrace_state="settled"),
    }
    result = build_plan(
        [tx(1), tx(2), tx(3, transaction_type="REFUND")],
        ctx(ledger=ledger),
        MAPPING,
    )
    assert result.plan.batches == ()
    assert sorted(result.already_posted) == [1, 2, 3]
    codes = dict(zip(result.outcomes["transaction_id"], result.outcomes["reason_code"], strict=True))
    assert codes == {1: "state_unchanged", 2: "state_changed_no_action", 3: "state_unchanged"}


def test_refund_voided_after_posting_plans_a_void_once() -> None:
    """Issue 11 §5: a voided refund's memos are removed like a voided sale's payment."""
    ledger = {5: LedgerEntry(kinds={"refund": "posted"}, paytrace_state="pending")}
    result = build_plan([tx(5, transaction_type="REFUND", status=S.VOIDED)], ctx(ledger=ledger), MAPPING)
    item = only_item(result)
    assert isinstance(item, PlannedVoid) and item.transaction_id == 5
    assert result.review == {}
    done = {5: LedgerEntry(kinds={"refund": "posted", "void": "posted"}, paytrace_state="voided")}
    again = build_plan([tx(5, transaction_type="REFUND", status=S.VOIDED)], ctx(ledger=done), MAPPING)
    assert again.plan.batches == () and again.already_posted == (5,)


def test_batches_grouped_per_kind_company_and_local_date() -> None:
    d1 = dt.datetime(2025, 4, 10, 12, 0, tzinfo=LA)
    d2 = dt.datetime(2025, 4, 11, 12, 0, tzinfo=LA)
    rows = [
        tx(1, created_at=d1),
        tx(2, created_at=d2),
        tx(3, created_at=d1),
        tx(4, transaction_type="REFUND"),
    ]
    result = build_plan(rows, ctx(), MAPPING)
    shape = [(b.kind.value, [i.transaction_id for i in b.items]) for b in result.plan.batches]
    assert shape == [("payment", [1, 3]), ("payment", [2]), ("refund", [4])]
    monthly = build_plan(rows, ctx(), dataclasses.replace(MAPPING, batch_grouping="window"))
    assert [(b.kind.value, len(b.items)) for b in monthly.plan.batches] == [("payment", 3), ("refund", 1)]


def test_company_from_mapping_overrides_sl_setup_and_missing_company_fails() -> None:
    result = build_plan([tx(1)], ctx(), dataclasses.replace(MAPPING, company="0020"))
    assert result.plan.batches[0].cpny_id == "0020"
    with pytest.raises(TransformError, match="no SL company"):
        build_plan([tx(1)], ctx(cpny_id=""), MAPPING)


def test_dataframe_input_and_bad_amount_scale_named() -> None:
    frame = pd.DataFrame([tx(1).to_json_dict(), tx(2).to_json_dict()])
    assert build_plan(frame, ctx(), MAPPING).posted == 2
    frame.loc[1, "amount"] = "10.005"
    with pytest.raises(TransformError, match=r"transaction 2: amount .10\.005."):
        build_plan(frame, ctx(), MAPPING)


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(TransformError, match="duplicate transaction ids"):
        build_plan([tx(1), tx(1)], ctx(), MAPPING)


def test_every_row_accounted_and_plan_rows_match_contract_shape() -> None:
    rows = [
        tx(1),
        tx(2, status=S.DECLINED),
        tx(3, transaction_type="AUTHORIZATION", status=S.AUTHORIZED),
        tx(4, customer_id="nobody"),
        tx(5, transaction_type="REFUND"),
        tx(6, amount="0.00"),
    ]
    ledger = {7: LedgerEntry(kinds={"payment": "posted"}, paytrace_state="settled")}
    result = build_plan([*rows, tx(7)], ctx(ledger=ledger), MAPPING)
    account = result.row_account(extracted=9, dead_lettered=2).check()
    assert account.as_dict()["skipped_by_reason"] == {"awaiting_capture": 1, "declined": 1, "zero_amount": 1}
    assert (account.posted, account.already_posted, account.review) == (2, 1, 1)
    flat = plan_rows(result.plan, MAPPING)
    assert flat["ledger_key"].tolist() == ["paytrace:1:payment", "paytrace:5:refund"]
    assert set(result.outcomes["outcome"]) == {"posted", "already_posted", "skipped", "review"}


def test_empty_input() -> None:
    result = build_plan([], ctx(), MAPPING)
    assert result.plan.batches == () and result.posted == 0


def test_batch_cap_splits_a_large_day_by_transaction_id_whatever_the_listing_order() -> None:
    day = dt.datetime(2025, 4, 10, 9, 0, tzinfo=LA)
    # listed out of id order, created in reverse id order: the parts are cut by id, not by either order
    rows = [tx(t, created_at=day + dt.timedelta(minutes=10 - t)) for t in (7, 3, 1, 6, 2, 5, 4)]
    capped = dataclasses.replace(MAPPING, batch_max_documents=3)
    result = build_plan(rows, ctx(), capped)
    parts = [sorted(i.transaction_id for i in b.items) for b in result.plan.batches]
    assert parts == [[1, 2, 3], [4, 5, 6], [7]]
    # inside a part the plan's order stays: created_at, then id
    assert [i.transaction_id for i in result.plan.batches[0].items] == [3, 2, 1]
    assert [b.description for b in result.plan.batches] == [
        "PT payments 2025-04-10 #1",
        "PT payments 2025-04-10 #2",
        "PT payments 2025-04-10 #3",
    ]
    assert all(len(b.description) <= 30 for b in result.plan.batches)  # SL's Batch.Descr char(30)
    assert result.outcomes.set_index("transaction_id")["batch_index"].to_dict() == {
        1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 1, 7: 2
    }  # fmt: skip
    # the same input in another order plans the same parts
    again = build_plan(list(reversed(rows)), ctx(), capped)
    assert [b.items for b in again.plan.batches] == [b.items for b in result.plan.batches]


def test_batch_cap_leaves_a_group_within_the_cap_as_it_was() -> None:
    rows = [tx(t) for t in (1, 2, 3)]
    exact = build_plan(rows, ctx(), dataclasses.replace(MAPPING, batch_max_documents=3))
    uncapped = build_plan(rows, ctx(), dataclasses.replace(MAPPING, batch_max_documents=0))
    assert exact.plan == uncapped.plan
    assert [b.description for b in exact.plan.batches] == ["PayTrace payments 2025-04-10"]
