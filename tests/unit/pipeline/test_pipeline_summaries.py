"""Step summaries: frozen dataclasses, JSON in and out, strict on read; a renamed field fails loudly
(``from_json`` at run time, mypy strict before that) instead of silently becoming zero."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.pipeline import files
from paytrace_sl.pipeline.steps import PAYMENT_STEP_NAMES, SETTLEMENT_STEP_NAMES
from paytrace_sl.pipeline.summaries import (
    STEP_SUMMARIES,
    ExtractSummary,
    ReplaySummary,
    ReportSummary,
    SettleSummarizeSummary,
    SettleTransformSummary,
    SummaryError,
    TransformSummary,
)

INCLUDE = Path(__file__).resolve().parents[3] / "include"

EXTRACT = {
    "window": "2025-04-01 00:00-0700 → 2025-04-02 00:00-0700",
    "fetched": 12,
    "transactions": 10,
    "in_window": 8,
    "lookback_only": 2,
    "outside_range": 0,
    "parse_rejected": 1,
    "duplicate_conflicts": 1,
    "dead_letters_new": 2,
    "declined": 3,
}
SETTLE_SUMMARY = {
    "window": "w",
    "settlement_batches": 2,
    "settlement_entries_posted": 2,
    "sl_batches": 1,
    "reconciled": 2,
    "difference": 0,
    "pending": 0,
    "review": 0,
    "empty_batches": 0,
    "dead_letter": 0,
    "unexplained": 0,
    "needs_person": "",
}


def test_every_step_has_a_summary_class() -> None:
    assert set(STEP_SUMMARIES) == set(PAYMENT_STEP_NAMES) | set(SETTLEMENT_STEP_NAMES)
    for cls in STEP_SUMMARIES.values():
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_round_trip_keeps_keys_order_and_values() -> None:
    summary = ExtractSummary.from_json(EXTRACT)
    assert summary.dead_letters_new == 2
    assert summary.to_json() == EXTRACT
    assert list(summary.to_json()) == list(EXTRACT)  # the JSON key order the step always wrote
    assert ExtractSummary.from_json(json.loads(json.dumps(summary.to_json()))) == summary
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.fetched = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dead_letter_new": 2}, "unknown key(s) ['dead_letter_new']"),  # renamed: unknown + missing
        ({}, "missing key(s) ['dead_letters_new']"),
    ],
)
def test_renamed_or_missing_key_raises(change: dict[str, Any], message: str) -> None:
    data = {k: v for k, v in EXTRACT.items() if k != "dead_letters_new"} | change
    with pytest.raises(SummaryError, match=re.escape(message)) as info:
        ExtractSummary.from_json(data)
    assert isinstance(info.value, PaytraceSlError)


@pytest.mark.parametrize("value", ["2", 2.0, None, True])
def test_wrong_kind_of_value_raises(value: Any) -> None:
    with pytest.raises(SummaryError, match="dead_letters_new"):
        ExtractSummary.from_json(EXTRACT | {"dead_letters_new": value})


def test_containers_round_trip() -> None:
    transform = TransformSummary(
        records=3,
        planned_documents=2,
        planned_batches=1,
        posted=2,
        already_posted=0,
        skipped={"d": 1},
        review=0,
        fraud_held=0,
    )
    assert TransformSummary.from_json(transform.to_json()) == transform
    settle = SettleTransformSummary(
        settlement_batches=2,
        planned_entries=1,
        not_planned=0,
        empty_batches=1,
        empty_batch_numbers=(7,),
        settlement_planned=True,
    )
    assert settle.to_json()["empty_batch_numbers"] == [7]
    assert SettleTransformSummary.from_json(json.loads(json.dumps(settle.to_json()))) == settle
    replayed = ReplaySummary.from_json(
        {
            "transactions": 1,
            "posted": 1,
            "already_posted": 0,
            "skipped": 0,
            "review": 0,
            "dead_letter": 0,
            "windows": 1,
            "dead_letters_closed": 1,
            "reviews_closed": 0,
            "not_replayable": [4],
            "already_closed": [],
        }
    )
    assert replayed.not_replayable == (4,)


def test_report_summary_is_flat_with_or_without_the_settlement_summary() -> None:
    with_settlement = ReportSummary(
        report="/r/report.html", report_tables=3, settlement=SettleSummarizeSummary.from_json(SETTLE_SUMMARY)
    )
    data = with_settlement.to_json()
    assert data == {
        **SETTLE_SUMMARY,
        "report": "/r/report.html",
        "report_tables": 3,
        "reports_brought_up_to_date": [],
    }
    assert ReportSummary.from_json(data) == with_settlement
    alone = ReportSummary(report="/r/report.html", report_tables=3)
    assert alone.to_json() == {
        "report": "/r/report.html",
        "report_tables": 3,
        "reports_brought_up_to_date": [],
    }
    refreshed = ReportSummary(
        report="/r/report.html", report_tables=3, reports_brought_up_to_date=("2025-04-01",)
    )
    assert ReportSummary.from_json(refreshed.to_json()) == refreshed
    assert ReportSummary.from_json(alone.to_json()) == alone
    with pytest.raises(SummaryError):
        ReportSummary.from_json(
            {
                **SETTLE_SUMMARY,
                "reconciled_typo": 1,
                "report": "x",
                "report_tables": 1,
                "reports_brought_up_to_date": [],
            }
        )
    with pytest.raises(SummaryError):  # the list holds report names, not numbers
        ReportSummary.from_json({"report": "x", "report_tables": 1, "reports_brought_up_to_date": [1]})


def test_landing_file_names_are_one_table() -> None:
    assert files.summary_file("extract") == "extract.json"
    assert len(set(files.LANDING_FILES)) == len(files.LANDING_FILES)
    for name in files.LANDING_FILES:
        assert name not in {files.summary_file(step) for step in STEP_SUMMARIES}


def _mypy(tmp_path: Path, attribute: str) -> subprocess.CompletedProcess[str]:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        textwrap.dedent(
            f"""
            from paytrace_sl.pipeline.summaries import ExtractSummary


            def new_letters(data: dict[str, object]) -> int:
                return ExtractSummary.from_json(data).{attribute}
            """
        )
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--ignore-missing-imports",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            str(snippet),
        ],
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(INCLUDE), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        check=False,
        timeout=300,
    )


def test_mypy_strict_catches_a_renamed_field(tmp_path: Path) -> None:
    right = _mypy(tmp_path, "dead_letters_new")
    assert right.returncode == 0, right.stdout + right.stderr
    renamed = _mypy(tmp_path, "dead_letter_new")
    assert renamed.returncode == 1, renamed.stdout + renamed.stderr
    assert '"ExtractSummary" has no attribute "dead_letter_new"' in renamed.stdout
    assert "[attr-defined]" in renamed.stdout
