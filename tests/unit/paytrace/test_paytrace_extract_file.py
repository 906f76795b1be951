"""`paytrace-sl extract` file writer: the pipeline's one duplicate-id policy (pipeline.copies) — repeats
collapse, an id whose copies differ is rejected by id and field names and none of its copies is written,
and no raw record lands on disk."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from test_paytrace_parse import LA, doc_record

from paytrace_sl.paytrace.extract import ExtractSummary, rejects_path_for, write_transactions


def _summary(tmp_path: Path) -> ExtractSummary:
    return ExtractSummary(
        dt.date(2025, 4, 10), dt.date(2025, 4, 11), "America/Los_Angeles", tmp_path / "tx.jsonl"
    )


def test_exact_repeat_is_skipped_silently(tmp_path: Path) -> None:
    summary = _summary(tmp_path)
    write_transactions([(doc_record(), None), (doc_record(), None)], LA, summary)
    assert summary.count == 1 and summary.duplicates == 1 and summary.conflicts == 0
    assert not summary.failures
    assert len(summary.out_path.read_text().splitlines()) == 1


def test_differing_copy_is_rejected_naming_id_and_fields(tmp_path: Path) -> None:
    changed = doc_record()
    changed["amount"] = 120
    changed["settled"] = ""
    summary = _summary(tmp_path)
    write_transactions([(doc_record(), None), (changed, None)], LA, summary)
    assert summary.count == 0 and summary.conflicts == 1 and summary.duplicates == 0  # neither copy kept
    assert summary.out_path.read_text() == ""
    (failure,) = summary.failures
    assert failure.transaction_id == 81234567 and failure.field == "transaction_id"
    assert "different content" in failure.reason and "amount" in failure.reason
    assert "120" not in failure.reason  # field names, never values
    text = rejects_path_for(summary.out_path).read_text()
    rejects = [json.loads(line) for line in text.splitlines()]
    assert [r["transaction_id"] for r in rejects] == [81234567]
    assert "record" not in rejects[0] and "120" not in text  # no raw record on disk
    assert summary.to_json_dict()["conflicting_copies_rejected"] == 1


def test_unreadable_copy_of_a_written_id_is_rejected(tmp_path: Path) -> None:
    broken = doc_record()
    broken["amount"] = "twelve"
    summary = _summary(tmp_path)
    write_transactions([(doc_record(), None), (broken, None)], LA, summary)
    assert summary.count == 0 and summary.conflicts == 1
    assert "unparseable:amount" in summary.failures[0].reason
    assert "twelve" not in rejects_path_for(summary.out_path).read_text()
