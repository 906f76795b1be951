"""A new process reuses the stored GX suite and checkpoint when they match the contract; else regenerates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from test_pipeline_gx_checks import records

from paytrace_sl.pipeline import checks
from paytrace_sl.pipeline.checks import validate_window
from paytrace_sl.pipeline.contracts import load_contract

pytestmark = pytest.mark.integration

LA = ZoneInfo("America/Los_Angeles")
WINDOW = (dt.datetime(2025, 4, 10, 16, tzinfo=LA), dt.datetime(2025, 4, 10, 17, tzinfo=LA))
CONTRACT = load_contract("paytrace_transaction")


def _new_process() -> None:
    """Forget the per-process GX caches, as a new Airflow task process starts without them."""
    checks._contexts.clear()
    checks._checkpoints.clear()


@pytest.fixture
def fresh_root(tmp_path: Path) -> Iterator[Path]:
    _new_process()
    yield tmp_path / "gx"
    _new_process()


def _stored(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root / "gx")): p.read_text()
        for sub in ("expectations", "checkpoints", "validation_definitions")
        for p in (root / "gx" / sub).rglob("*.json")
    }


def test_a_new_process_reuses_the_stored_suite_and_checkpoint(fresh_root: Path) -> None:
    rows = records(6)
    validate_window(pd.DataFrame(rows), contract=CONTRACT, run_id="r1", gx_root=fresh_root, window=WINDOW)
    before = _stored(fresh_root)
    assert any(k.startswith("expectations") for k in before) and any(
        k.startswith("checkpoints") for k in before
    )
    _new_process()
    rows[3]["transaction_type"] = "BOGUS"
    result = validate_window(
        pd.DataFrame(rows), contract=CONTRACT, run_id="r2", gx_root=fresh_root, window=WINDOW
    )
    assert _stored(fresh_root) == before  # nothing rewritten
    assert [d.row for d in result.dead_letters] == [3]
    assert len(result.valid) == 5


def test_a_stored_suite_that_differs_from_the_contract_is_regenerated(fresh_root: Path) -> None:
    rows = records(6)
    first = validate_window(
        pd.DataFrame(rows), contract=CONTRACT, run_id="r1", gx_root=fresh_root, window=WINDOW
    )
    expected = first.statistics["evaluated_expectations"]
    # someone (or an older release) changed the stored suite: drop the transaction-type check
    context = checks._context(fresh_root)
    suite = context.suites.get(CONTRACT.suite_name)
    for expectation in list(suite.expectations):
        if expectation.expectation_type == "expect_column_values_to_be_in_set" and (
            expectation.column == "transaction_type"
        ):
            suite.delete_expectation(expectation)
    suite.save()
    assert len(context.suites.get(CONTRACT.suite_name).expectations) == expected - 1
    _new_process()
    rows[3]["transaction_type"] = "BOGUS"
    result = validate_window(
        pd.DataFrame(rows), contract=CONTRACT, run_id="r2", gx_root=fresh_root, window=WINDOW
    )
    assert result.statistics["evaluated_expectations"] == expected
    assert [d.row for d in result.dead_letters] == [3]
    assert "expect_column_values_to_be_in_set" in result.dead_letters[0].reason
