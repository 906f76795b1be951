"""The one duplicate-id policy, for transactions and settlement batches alike."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from pipeline_tx_builders import tx

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.records import SettlementBatch
from paytrace_sl.pipeline.copies import SETTLEMENT_BATCH, Copies, resolve_copies
from paytrace_sl.pipeline.dead_letters import parse_failure_letter

LA = ZoneInfo("America/Los_Angeles")


def _batch(number: int, net: str) -> SettlementBatch:
    return SettlementBatch(
        number=number,
        created_at=dt.datetime(2025, 4, 1, 20, tzinfo=LA),
        transaction_count=2,
        net_amount=Decimal(net),
        sales_count=2,
        sales_amount=Decimal(net),
        refund_count=0,
        refund_amount=Decimal("0.00"),
    )


def test_transactions_repeats_collapse_differing_copies_set_aside_by_name() -> None:
    copies = Copies()
    for record in (tx(1), tx(1), tx(2), dataclasses.replace(tx(2), amount=Decimal("7.77")), tx(3)):
        copies.add(record)
    copies.add_failure(parse_failure_letter({}, RecordParseError(3, "amount", "not a number"), "x"))
    resolved = resolve_copies(copies)
    assert [t.transaction_id for t in resolved.records] == [1] and resolved.repeats == 1
    two, three = resolved.conflicts
    assert two.transaction_id == 2 and two.payload["differing_fields"] == ["amount"]
    assert "transaction 2 2 times with different content" in two.reason and "7.77" not in two.reason
    assert three.payload["differing_fields"] == ["unparseable:amount"]


def test_settlement_batches_follow_the_same_policy_and_wording() -> None:
    """An unparseable copy of a batch number now conflicts too (it used to be ignored for batches)."""
    copies = Copies(kind=SETTLEMENT_BATCH)
    copies.add(_batch(571, "100.00"))
    copies.add(_batch(571, "100.00"))
    copies.add(_batch(572, "10.00"))
    copies.add(_batch(572, "11.00"))
    copies.add(_batch(573, "5.00"))
    letter = parse_failure_letter({"number": 573}, RecordParseError("batch 573", "net_amount", "bad"), "x")
    copies.add_failure(letter, key=573)
    resolved = resolve_copies(copies)
    assert [b.number for b in resolved.records] == [571]
    by_number = {c.payload["batch_number"]: c for c in resolved.conflicts}
    assert set(by_number) == {572, 573}
    assert by_number[572].transaction_id is None and by_number[572].source == "paytrace-batch"
    assert "settlement batch 572 2 times with different content (differing fields: " in by_number[572].reason
    assert "none of the copies was processed" in by_number[573].reason
