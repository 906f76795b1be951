"""Landing files: atomic, PAN-free, and the posting plan survives the task hop exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from paytrace_sl.pipeline.landing import Landing, LandingError, decode_plan, encode_plan, safe_run_name
from paytrace_sl.plan import (
    Account,
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedSettlement,
    PostingKind,
    PostingPlan,
)


def test_run_names_are_safe() -> None:
    assert safe_run_name("scheduled__2025-03-09T00:00:00+00:00") == "scheduled__2025-03-09T00_00_00_00_00"
    assert "/" not in safe_run_name("../../etc/passwd")
    with pytest.raises(ValueError):
        safe_run_name("///")


def test_jsonl_round_trip_and_pan_refused(tmp_path: Path) -> None:
    landing = Landing(tmp_path, "manual__1")
    rows = [{"transaction_id": 1, "amount": Decimal("1.10"), "card_masked": "************1111"}]
    assert landing.write_jsonl("transactions.jsonl", rows) == 1
    assert list(landing.read_jsonl("transactions.jsonl")) == [
        {"transaction_id": 1, "amount": "1.10", "card_masked": "************1111"}
    ]
    with pytest.raises(LandingError, match="unmasked card number"):
        landing.write_jsonl("bad.jsonl", [{"note": "card 4111111111111111"}])
    assert not landing.exists("bad.jsonl")
    assert [p.name for p in landing.dir.iterdir()] == ["transactions.jsonl"]  # no temp files left
    with pytest.raises(LandingError, match="run the step"):
        list(landing.read_jsonl("validated.jsonl"))


def test_plan_codec_round_trip(tmp_path: Path) -> None:
    clearing = Account("1050", "000000")
    plan = PostingPlan(
        batches=(
            PlannedBatch(
                kind=PostingKind.PAYMENT,
                cpny_id="0010",
                items=(
                    PlannedPayment(
                        transaction_id=5,
                        cust_id="C001",
                        amount=Decimal("12.34"),
                        doc_date=dt.date(2025, 3, 9),
                        cash_account=clearing,
                        applications=(InvoiceApplication("INV1", Decimal("12.34")),),
                    ),
                ),
            ),
            PlannedBatch(
                kind=PostingKind.SETTLEMENT,
                cpny_id="0010",
                items=(
                    PlannedSettlement(
                        9, dt.date(2025, 3, 9), Decimal("-0.01"), clearing, Account("1000", "")
                    ),
                ),
            ),
        )
    )
    landing = Landing(tmp_path, "r")
    landing.write_json("plan.json", encode_plan(plan))
    assert decode_plan(landing.read_json("plan.json")) == plan
