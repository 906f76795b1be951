"""The fraud rules, one pattern at a time: each fires on its pattern (with a reason a person reads) and
stays quiet on the look-alike that is not fraud. Frames are built from real ``Transaction`` records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from paytrace_sl.fraud.config import RULE_PATTERNS, FraudConfig
from paytrace_sl.fraud.features import (
    Context,
    Profile,
    build_frame,
    build_frame_from_rows,
    burst_counts,
    mismatch,
)
from paytrace_sl.fraud.rules import Evaluation, evaluate
from paytrace_sl.paytrace.records import Transaction, TransactionState

LA = ZoneInfo("America/Los_Angeles")
NOON = dt.datetime(2025, 4, 10, 12, 0, tzinfo=LA)
CFG = FraudConfig()
_ids = iter(range(90_000_000, 99_999_999))


def tx(
    *,
    minutes: float = 0,
    amount: str = "50.00",
    ttype: str = "SALE",
    status: TransactionState = TransactionState.PENDING,
    card: str = "************1111",
    customer: str = "",
    invoice: str = "",
    ip: str = "",
    by: str = "apiuser",
    avs: str = "Full Exact Match",
    csc: str = "Match",
    name: str = "Pat Example",
    at: dt.datetime = NOON,
) -> Transaction:
    return Transaction(
        transaction_id=next(_ids),
        transaction_type=ttype,
        status=status,
        batch_number=None,
        amount=Decimal(amount),
        tax_amount=Decimal("0"),
        created_at=at + dt.timedelta(minutes=minutes),
        settled_at=None,
        customer_id=customer,
        invoice_id=invoice,
        card_masked=card,
        created_by=by,
        billing_name=name,
        avs_response=avs,
        csc_response=csc,
        created_from_ip=ip,
    )


def background(n: int = 60) -> list[Transaction]:
    """Ordinary sales spread over the day, each on its own card."""
    return [
        tx(
            minutes=-300 + 10 * i,
            amount=f"{20 + i}.00",
            card=f"************{2000 + i:04d}",
            ip=f"203.0.113.{i + 1}",
        )
        for i in range(n)
    ]


def run(
    transactions: list[Transaction], ctx: Context | None = None, cfg: FraudConfig = CFG
) -> tuple[pd.DataFrame, Evaluation]:
    frame = build_frame(transactions)
    return frame, evaluate(frame, ctx or Context(), cfg)


def fired(frame: pd.DataFrame, ev: Evaluation, pattern: str) -> set[int]:
    return set(frame.loc[ev.hits[pattern].to_numpy(), "tid"].tolist())


def test_burst_counts_counts_same_code_within_the_half_width() -> None:
    codes = np.array([0, 0, 0, 1, 0])
    ts = np.array([0, 100, 700, 50, 2000])
    assert burst_counts(codes, ts, 600).tolist() == [2, 3, 2, 1, 1]


@pytest.mark.parametrize("key", ["card", "ip", "customer"])
def test_card_testing_burst_on_one_key_fires_and_names_it(key: str) -> None:
    burst = []
    for i in range(7):
        kwargs = {
            "card": ("************9999" if key == "card" else f"************{3000 + i}"),
            "ip": ("198.51.100.7" if key == "ip" else f"203.0.113.{100 + i}"),
            "customer": ("CUST00042" if key == "customer" else ""),
        }
        burst.append(tx(minutes=i * 0.5, amount="1.00", status=TransactionState.DECLINED, **kwargs))
    frame, ev = run(background() + burst)
    assert fired(frame, ev, "card_testing") == {t.transaction_id for t in burst}
    row = int(np.flatnonzero(ev.hits["card_testing"].to_numpy())[0])
    reason = ev.reasons["card_testing"][row]
    assert "7 small declines/authorizations" in reason and "within 10 minutes" in reason
    assert {"card": "ending 9999", "ip": "198.51.100.7", "customer": "CUST00042"}[key] in reason


def test_card_testing_needs_a_burst_not_a_spread() -> None:
    # the same seven small declines on one card, but an hour apart: no burst
    spread = [
        tx(minutes=60 * i, amount="1.00", status=TransactionState.DECLINED, card="************9999")
        for i in range(7)
    ]
    # and four within a minute: fewer than burst_count
    few = [
        tx(minutes=i * 0.2, amount="1.00", status=TransactionState.DECLINED, card="************8888")
        for i in range(4)
    ]
    _frame, ev = run(background() + spread + few)
    assert not ev.hits["card_testing"].any()


def test_refund_larger_than_its_sale_and_refund_to_another_card() -> None:
    sale = tx(minutes=-120, amount="40.00", invoice="INV-1", card="************4242")
    bigger = tx(ttype="REFUND", amount="95.00", invoice="INV-1", card="************4242")
    sale2 = tx(minutes=-100, amount="80.00", invoice="INV-2", card="************5151")
    other = tx(ttype="REFUND", amount="80.00", invoice="INV-2", card="************7777")
    fine = tx(ttype="REFUND", amount="40.00", invoice="INV-3", card="************6161")
    sale3 = tx(minutes=-90, amount="40.00", invoice="INV-3", card="************6161")
    frame, ev = run([*background(), sale, bigger, sale2, other, sale3, fine])
    assert fired(frame, ev, "refund_exceeds_sale") == {bigger.transaction_id}
    assert fired(frame, ev, "refund_other_card") == {other.transaction_id}
    row = int(frame.index[frame["tid"] == bigger.transaction_id][0])
    assert ev.reasons["refund_exceeds_sale"][row] == "refund 95.00 exceeds the sale it refunds (40.00)"
    row = int(frame.index[frame["tid"] == other.transaction_id][0])
    assert (
        "ending 7777" in ev.reasons["refund_other_card"][row]
        and "ending 5151" in ev.reasons["refund_other_card"][row]
    )


def test_refund_with_no_sale_needs_a_long_enough_history() -> None:
    lone = tx(ttype="REFUND", amount="60.00", card="************1234", name="Someone Else")
    matched_sale = tx(minutes=-30, amount="60.00", card="************5678", name="Kim Lee")
    matched = tx(ttype="REFUND", amount="60.00", card="************5678", name="Kim Lee")
    young = Context(history_start=NOON - dt.timedelta(days=2))
    frame, ev = run([*background(), lone, matched_sale, matched], young)
    assert not ev.hits["refund_no_sale"].any()  # two days of history: cannot know
    old = Context(history_start=NOON - dt.timedelta(days=30))
    frame, ev = run([*background(), lone, matched_sale, matched], old)
    assert fired(frame, ev, "refund_no_sale") == {lone.transaction_id}
    # a sale in the stored history (not in the frame) matches by card, customer and card holder
    history = pd.DataFrame(
        {
            "card": ["************1234"],
            "customer": [""],
            "holder": ["someone else"],
            "max_cents": [9000],
            "first_ts": [int((NOON - dt.timedelta(days=3)).timestamp())],
        }
    )
    frame, ev = run(
        [*background(), lone], Context(history_start=NOON - dt.timedelta(days=30), sales_by_card=history)
    )
    assert not ev.hits["refund_no_sale"].any()


def test_refunds_concentrated_on_one_user() -> None:
    sales = [tx(minutes=-200 + i, amount="30.00", card=f"************{4100 + i}") for i in range(4)]
    refunds = [
        tx(minutes=i, ttype="REFUND", amount="30.00", card=f"************{4100 + i}", by="clerk7")
        for i in range(4)
    ]
    few = [tx(minutes=5, ttype="REFUND", amount="30.00", card="************4100", by="frontdesk")]
    frame, ev = run(background() + sales + refunds + few)
    assert fired(frame, ev, "refund_clerk") == {t.transaction_id for t in refunds}
    row = int(np.flatnonzero(ev.hits["refund_clerk"].to_numpy())[0])
    assert ev.reasons["refund_clerk"][row] == "user clerk7 made 4 refunds out of 4 transactions"


def test_velocity_many_cards_per_customer_and_one_card_many_customers() -> None:
    own = [tx(minutes=-100 + i, customer="CUST00001", card="************0001") for i in range(3)]
    new_cards = [tx(minutes=i, customer="CUST00001", card=f"************{7000 + i}") for i in range(3)]
    shared = [tx(minutes=i, customer=f"CUST0010{i}", card="************5555") for i in range(4)]
    two = [tx(minutes=i, customer=f"CUST0020{i}", card="************6666") for i in range(3)]
    frame, ev = run(background() + own + new_cards + shared + two)
    assert fired(frame, ev, "velocity_cards") == {t.transaction_id for t in new_cards}
    assert fired(frame, ev, "velocity_customers") == {t.transaction_id for t in shared}


def test_csc_mismatch_on_an_approved_sale_only() -> None:
    approved = tx(avs="No Match", csc="No Match")
    declined = tx(avs="No Match", csc="No Match", status=TransactionState.DECLINED)
    avs_only = tx(avs="No Match", csc="")
    frame, ev = run([*background(), approved, declined, avs_only])
    assert fired(frame, ev, "avs_csc_mismatch") == {approved.transaction_id}
    assert mismatch(pd.Series(["No Match", "Not Matched", "CSC mismatch", "Match", ""])).tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_amount_outlier_against_the_customer_and_the_merchant() -> None:
    logs = np.log(np.full(40, 50.0))
    customer = Profile(40, float(logs.sum() + 0.5), float((logs**2).sum() + 20))
    merchant = Profile(1000, 1000 * 4.0, 1000 * (16.0 + 1.0))  # log-mean 4 ($55), sd 1
    ctx = Context(customers={"CUST00009": customer}, merchant=merchant)
    usual = tx(customer="CUST00009", amount="60.00")
    huge = tx(customer="CUST00009", amount="9000.00")
    walk_in_huge = tx(amount="12000.00", card="************3131")
    walk_in_big = tx(amount="900.00", card="************3232")  # z 2.8: large, not extreme
    frame, ev = run([*background(), usual, huge, walk_in_huge, walk_in_big], ctx)
    assert fired(frame, ev, "amount_outlier") == {huge.transaction_id, walk_in_huge.transaction_id}
    row = int(frame.index[frame["tid"] == huge.transaction_id][0])
    assert ev.reasons["amount_outlier"][row].startswith("amount 9000.00 vs a typical")


def test_unusual_hour_needs_a_rare_hour_and_a_large_amount() -> None:
    hours = [50] * 24
    for h in range(0, 6):
        hours[h] = 1  # the merchant almost never sells at night
    merchant = Profile(1000, 4000.0, 17000.0)
    ctx = Context(merchant=merchant, hours=tuple(hours))
    night = NOON.replace(hour=3)
    big_night = tx(amount="2500.00", at=night, card="************8181")
    small_night = tx(amount="40.00", at=night, card="************8282")
    big_noon = tx(amount="2500.00", card="************8383")
    frame, ev = run([*background(), big_night, small_night, big_noon], ctx)
    assert fired(frame, ev, "unusual_hour") == {big_night.transaction_id}


def test_clean_background_fires_nothing_and_features_are_finite() -> None:
    frame, ev = run(background(200))
    assert not ev.hits.to_numpy().any()
    assert set(ev.hits.columns) == set(RULE_PATTERNS)
    assert np.isfinite(ev.features.to_numpy()).all()
    assert len(ev.features) == len(frame)


def test_frame_from_landed_rows_equals_frame_from_records() -> None:
    records = [
        *background(30),
        tx(
            ttype="REFUND",
            amount="12.30",
            customer="CUST00001",
            invoice="INV-9",
            ip="198.51.100.1",
            name=" Kim LEE ",
        ),
        tx(amount="7", status=TransactionState.DECLINED, at=NOON.replace(hour=23, minute=59, second=59)),
    ]
    from_records = build_frame(records)
    from_rows = build_frame_from_rows(t.to_json_dict() for t in records)
    pd.testing.assert_frame_equal(from_rows, from_records)
    assert from_rows.loc[from_rows["cents"] == 1230, "holder"].tolist() == ["kim lee"]
    assert 23 in from_rows["hour"].tolist()  # merchant-local hour, not UTC
    assert len(build_frame_from_rows([])) == 0
    with pytest.raises(ValueError, match="more than two decimals"):
        build_frame_from_rows([dict(records[0].to_json_dict(), amount="1.234")])
