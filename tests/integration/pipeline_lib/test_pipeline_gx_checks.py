"""validate_window against a real Great Expectations File context with a Data Docs site."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from paytrace_sl.paytrace.records import Transaction, TransactionState
from paytrace_sl.pipeline.checks import TableCheckError, validate_window
from paytrace_sl.pipeline.contracts import load_contract
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.sl_context import SLContext
from paytrace_sl.pipeline.transform import build_plan, plan_rows

pytestmark = pytest.mark.integration

LA = ZoneInfo("America/Los_Angeles")
WINDOW = (dt.datetime(2025, 4, 10, 16, tzinfo=LA), dt.datetime(2025, 4, 10, 17, tzinfo=LA))
CONTRACT = load_contract("paytrace_transaction")
PAN = "4111111111111111"


def records(n: int) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        t = Transaction(
            transaction_id=80_000_000 + i,
            transaction_type="SALE",
            status=TransactionState.SETTLED,
            batch_number=571,
            amount=Decimal("110.00") + i,
            tax_amount=Decimal("8.10"),
            created_at=dt.datetime(2025, 4, 10, 16, 6, 30, tzinfo=LA),
            settled_at=dt.datetime(2025, 4, 10, 20, 13, 45, tzinfo=LA),
            customer_id="C100",
            invoice_id=f"INV-{i}",
            card_masked="411111******1111",
            status_code="GB571",
        )
        out.append(t.to_json_dict())
    return out


def test_bad_rows_dead_lettered_rest_proceeds_with_data_docs(gx_root: Path) -> None:
    rows = records(12)
    rows[2]["amount"] = "-5.00"
    rows[4]["transaction_type"] = "BOGUS"
    rows[6]["card_masked"] = PAN  # would be a PCI leak if shown anywhere
    rows[8]["description"] = f"paid with {PAN}"
    rows[10]["amount"] = "1.005"  # scale 3
    result = validate_window(
        pd.DataFrame(rows), contract=CONTRACT, run_id="run-bad-rows", gx_root=gx_root, window=WINDOW
    )
    failed = {d.row: d for d in result.dead_letters}
    assert sorted(failed) == [2, 4, 6, 8, 10]
    assert len(result.valid) == 7 and 2 not in result.valid.index
    assert failed[2].record_key == "80000002"
    assert ("expect_column_values_to_be_between", "amount") in {
        (f.expectation, f.field) for f in failed[2].failures
    }
    assert failed[4].failures[0].expectation == "expect_column_values_to_be_in_set"
    assert "'BOGUS'" in failed[4].reason
    assert failed[6].failures[0].field == "card_masked"
    assert failed[8].failures[0].field == "description"
    assert {f.expectation for f in failed[10].failures} == {"expect_column_values_to_match_regex"}
    assert "5 dead-lettered" in result.summary and "12 rows" in result.summary
    assert result.data_docs_index is not None and result.data_docs_index.name == "index.html"
    assert result.data_docs_index.exists()
    # PCI: the PAN appears nowhere GX wrote (validation results, Data Docs) nor in our messages
    for path in gx_root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".yml", ".yaml"):
            assert PAN not in path.read_text(errors="replace"), path
    assert PAN not in result.summary and all(PAN not in d.reason for d in result.dead_letters)


def test_duplicate_ids_stop_the_window(gx_root: Path) -> None:
    rows = records(5)
    rows[3]["transaction_id"] = rows[1]["transaction_id"]
    with pytest.raises(TableCheckError, match=r"duplicate transaction_id values .*80000001") as info:
        validate_window(
            pd.DataFrame(rows), contract=CONTRACT, run_id="run-dupes", gx_root=gx_root, window=WINDOW
        )
    assert info.value.data_docs_index is not None and info.value.data_docs_index.exists()


def test_schema_drift_names_missing_and_extra_columns(gx_root: Path) -> None:
    frame = pd.DataFrame(records(3)).drop(columns=["invoice_id"]).assign(pan_hint="x")
    with pytest.raises(
        TableCheckError, match=r"missing columns \['invoice_id'\].*unexpected columns \['pan_hint'\]"
    ):
        validate_window(frame, contract=CONTRACT, run_id="run-drift", gx_root=gx_root, window=WINDOW)


def test_row_count_anomaly_and_totals(gx_root: Path) -> None:
    frame = pd.DataFrame(records(40))
    total = sum(Decimal(r) for r in frame["amount"])
    with pytest.raises(TableCheckError) as info:
        validate_window(
            frame,
            contract=CONTRACT,
            run_id="run-spike",
            gx_root=gx_root,
            window=WINDOW,
            recent_counts=[4, 5, 6, 5, 4],
            expected_count=41,
            expected_amount_total=total + Decimal("0.01"),
        )
    message = str(info.value)
    assert "row count 40 is outside the recent pattern (0, 26)" in message
    assert "row count 40 != 41 announced by the extract summary" in message
    assert f"sum of amount {total} != {total + Decimal('0.01')}" in message
    ok = validate_window(
        frame,
        contract=CONTRACT,
        run_id="run-normal",
        gx_root=gx_root,
        window=WINDOW,
        recent_counts=[38, 41, 40, 39, 42],
        expected_count=40,
        expected_amount_total=total,
    )
    assert ok.dead_lettered == 0


def test_posting_plan_rows_satisfy_their_contract(gx_root: Path) -> None:
    mapping = load_mapping()
    txs = [Transaction.from_json_dict(r) for r in records(4)]
    result = build_plan(txs, SLContext.build(cpny_id="0010", customers={"C100"}), mapping)
    flat = plan_rows(result.plan, mapping)
    checked = validate_window(
        flat, contract=load_contract("sl_posting_plan"), run_id="run-plan", gx_root=gx_root, window="plan"
    )
    assert checked.dead_lettered == 0, checked.summary


def test_empty_window_passes(gx_root: Path) -> None:
    frame = pd.DataFrame(columns=list(CONTRACT.field_names))
    result = validate_window(
        frame,
        contract=CONTRACT,
        run_id="run-empty",
        gx_root=gx_root,
        window=WINDOW,
        recent_counts=[30, 31, 29, 30, 30],
    )
    assert (result.total_rows, result.dead_lettered, len(result.valid)) == (0, 0, 0)
