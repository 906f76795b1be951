"""A bad value anywhere in a large window — the last row included — is caught and named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_pipeline_gx_checks import PAN, records

from paytrace_sl.pipeline.checks import validate_window
from paytrace_sl.pipeline.contracts import load_contract
from paytrace_sl.pipeline.flows import payments
from paytrace_sl.pipeline.landing import Landing

pytestmark = pytest.mark.integration

LA = ZoneInfo("America/Los_Angeles")
WINDOW = (dt.datetime(2025, 4, 10, 16, tzinfo=LA), dt.datetime(2025, 4, 10, 17, tzinfo=LA))
CONTRACT = load_contract("paytrace_transaction")
ROWS = 3_000


def test_bad_values_anywhere_are_caught_and_named(gx_root: Path, tmp_path: Path) -> None:
    rows = records(ROWS)
    for row in rows:
        row["status_message"] = "Approved"  # repeated text: one object for all rows
    rows[0]["status"] = "lost"
    rows[1_500]["card_masked"] = "41111111"  # in no masked form: could be part of a card number
    rows[-2]["tax_amount"] = "8.1O"
    rows[-1]["status_message"] = "x" * 201
    rows[-1]["description"] = "card 5555-5555-5555-4444 on file"
    landing = Landing(tmp_path / "landing", "run-large")
    landing.write_jsonl(
        "tx.jsonl", (dict(r, description="") if i == ROWS - 1 else r for i, r in enumerate(rows))
    )
    frame = payments._frame_from_jsonl(landing, "tx.jsonl")
    frame.loc[ROWS - 1, "description"] = rows[-1]["description"]  # a PAN is refused by landing, not by us
    result = validate_window(frame, contract=CONTRACT, run_id="run-large", gx_root=gx_root, window=WINDOW)

    failed = {d.row: d for d in result.dead_letters}
    assert sorted(failed) == [0, 1_500, ROWS - 2, ROWS - 1]
    assert len(result.valid) == ROWS - 4
    assert {(f.expectation, f.field) for f in failed[0].failures} == {
        ("expect_column_values_to_be_in_set", "status")
    }
    assert failed[1_500].failures[0].field == "card_masked" and "41111111" not in failed[1_500].reason
    assert {(f.expectation, f.field) for f in failed[ROWS - 2].failures} == {
        ("expect_column_values_to_match_regex", "tax_amount")
    }
    assert "'8.1O'" in failed[ROWS - 2].reason
    assert {(f.expectation, f.field) for f in failed[ROWS - 1].failures} == {
        ("expect_column_value_lengths_to_be_between", "status_message"),
        ("expect_column_values_to_not_match_regex", "description"),
    }
    assert failed[ROWS - 1].record_key == str(80_000_000 + ROWS - 1)
    assert "5555" not in failed[ROWS - 1].reason
    assert result.data_docs_index is not None and result.data_docs_index.exists()
    for path in gx_root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html"):
            text = path.read_text(errors="replace")
            assert "5555-5555-5555-4444" not in text and PAN not in text, path
