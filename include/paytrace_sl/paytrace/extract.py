"""Extract one window of PayTrace transactions to a JSONL landing file, keeping rejects aside.

The landing file holds one ``Transaction.to_json_dict()`` per line. Records that fail to parse are not
dropped: they go, with the transaction id, field and reason (never the record itself), to a sibling
``<out>.rejects.jsonl`` file and into the summary. Both files are written to a temporary name
and renamed at the end, so a failed run never leaves a half-written landing file behind.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.parse import DECLINED_FILTER, parse_transaction
from paytrace_sl.paytrace.records import Transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParseFailure:
    """A record that could not be normalized; ``transaction_id`` is ``"<unknown>"`` when unreadable."""

    transaction_id: object
    field: str
    reason: str

    def to_json_dict(self) -> dict[str, Any]:
        return {"transaction_id": self.transaction_id, "field": self.field, "reason": self.reason}


@dataclass
class ExtractSummary:
    """What an extract produced: counts and amount totals per type and per state, and every reject."""

    start: dt.date
    end: dt.date  # exclusive
    timezone: str
    out_path: Path
    rejects_path: Path | None = None
    count: int = 0
    count_by_type: dict[str, int] = field(default_factory=dict)
    amount_by_type: dict[str, Decimal] = field(default_factory=dict)
    count_by_status: dict[str, int] = field(default_factory=dict)
    amount_by_status: dict[str, Decimal] = field(default_factory=dict)
    failures: list[ParseFailure] = field(default_factory=list)
    duplicates: int = 0  # exact repeats collapsed (e.g. declines in both exports)
    conflicts: int = 0  # ids returned with different content (one entry each in ``failures``)
    records_read: int = 0  # raw records handed over by the client, every export pass

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-safe (XCom-safe) form: decimals as strings, no record content."""
        return {
            "start": self.start.isoformat(),
            "end_exclusive": self.end.isoformat(),
            "timezone": self.timezone,
            "out_path": str(self.out_path),
            "rejects_path": str(self.rejects_path) if self.rejects_path else None,
            "count": self.count,
            "count_by_type": dict(sorted(self.count_by_type.items())),
            "amount_by_type": {k: str(v) for k, v in sorted(self.amount_by_type.items())},
            "count_by_status": dict(sorted(self.count_by_status.items())),
            "amount_by_status": {k: str(v) for k, v in sorted(self.amount_by_status.items())},
            "rejected": len(self.failures),
            "duplicates_skipped": self.duplicates,
            "conflicting_copies_rejected": self.conflicts,
            "records_read": self.records_read,
            "failures": [f.to_json_dict() for f in self.failures],
        }

    def report_lines(self) -> list[str]:
        """Human summary for the CLI."""
        lines = [
            f"extracted {self.count} transaction(s) for {self.start}..{self.end} "
            f"(end exclusive, {self.timezone} days) -> {self.out_path}"
        ]
        for kind in sorted(self.count_by_type):
            lines.append(
                f"  type   {kind:<14} {self.count_by_type[kind]:>7}  {self.amount_by_type[kind]:>14}"
            )
        for state in sorted(self.count_by_status):
            lines.append(
                f"  status {state:<14} {self.count_by_status[state]:>7}  {self.amount_by_status[state]:>14}"
            )
        if self.failures:
            lines.append(
                f"rejected {len(self.failures)} record(s) that could not be parsed -> {self.rejects_path}"
            )
            lines.extend(f"  {f.transaction_id}: {f.field}: {f.reason}" for f in self.failures[:20])
            if len(self.failures) > 20:
                lines.append(f"  ... and {len(self.failures) - 20} more (see the rejects file)")
        else:
            lines.append("rejected 0 records")
        return lines


def rejects_path_for(out_path: Path) -> Path:
    return out_path.with_name(out_path.name + ".rejects.jsonl")


def write_transactions(
    records: Iterable[tuple[Any, str | None]], tz: ZoneInfo, summary: ExtractSummary
) -> None:
    """Parse ``(raw record, export filter)`` pairs into ``summary.out_path`` (and its rejects file).

    The pipeline's one duplicate-id policy (:mod:`paytrace_sl.pipeline.copies`): an exact repeat of an
    id (a decline in both the regular and the DECLINED export) collapses; an id whose copies differ is
    rejected by id and field names and none of its copies is written. The rejects file names the id,
    the field and the reason — never the raw record. Records are written as they come
    (:class:`~paytrace_sl.pipeline.copies.LandedCopies`), never all held; the file is the same.
    """
    from paytrace_sl.pipeline.copies import LandedCopies
    from paytrace_sl.pipeline.dead_letters import parse_failure_letter

    out_path = summary.out_path
    counts: Counter[str] = Counter()
    amounts: defaultdict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    status_counts: Counter[str] = Counter()
    status_amounts: defaultdict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))

    def count(tx: Transaction) -> None:
        counts[tx.transaction_type] += 1
        amounts[tx.transaction_type] += tx.amount
        status_counts[tx.status.value] += 1
        status_amounts[tx.status.value] += tx.amount

    with LandedCopies(out_path, lambda row: json.dumps(row, separators=(",", ":"))) as copies:
        for raw, export_filter in records:
            summary.records_read += 1
            try:
                tx = parse_transaction(raw, tz, export_filter=export_filter)
            except RecordParseError as exc:
                copies.add_failure(parse_failure_letter(raw, exc, "paytrace-transaction"))
                continue
            if copies.add(tx):
                count(tx)
        landed = copies.finish()
    if landed.removed:  # conflicting ids were taken out of the file: count what it holds now, exactly
        for tally in (counts, amounts, status_counts, status_amounts):
            tally.clear()
        with out_path.open(encoding="utf-8") as fh:
            for line in fh:
                count(Transaction.from_json_dict(json.loads(line)))
    summary.duplicates = landed.repeats
    summary.conflicts = len(landed.conflicts)
    summary.count = landed.written
    for letter in landed.parse_failures:
        detail = letter.reason.split(": ", 1)[-1]  # "could not parse field 'x': <detail>"
        txid: object = letter.transaction_id if letter.transaction_id is not None else "<unknown>"
        summary.failures.append(ParseFailure(txid, str(letter.payload.get("field", "?")), detail))
    for letter in landed.conflicts:
        summary.failures.append(ParseFailure(letter.transaction_id, "transaction_id", letter.reason))
    rejects_final = rejects_path_for(out_path)
    if summary.failures:
        tmp_rejects = _temp_path(rejects_final)
        try:
            with tmp_rejects.open("w", encoding="utf-8") as rejects:
                for failure in summary.failures:
                    log.warning(
                        "rejected record %s: %s: %s", failure.transaction_id, failure.field, failure.reason
                    )
                    rejects.write(json.dumps(failure.to_json_dict(), default=str))
                    rejects.write("\n")
            os.replace(tmp_rejects, rejects_final)
        finally:
            tmp_rejects.unlink(missing_ok=True)
        summary.rejects_path = rejects_final
    else:
        rejects_final.unlink(missing_ok=True)  # a stale rejects file from an earlier run would mislead
    summary.count_by_type = dict(counts)
    summary.amount_by_type = dict(amounts)
    summary.count_by_status = dict(status_counts)
    summary.amount_by_status = dict(status_amounts)


def extract_window(
    client: Any, start: dt.date, end: dt.date, out_path: Path | str, *, include_declined: bool = True
) -> ExtractSummary:
    """Export merchant days ``[start, end)`` from PayTrace into ``out_path`` (JSONL).

    Runs the regular export and, unless ``include_declined`` is False, the ``DECLINED`` export too:
    whether the unfiltered export lists declined attempts is undocumented (reference §2.1), and a
    decline must not go missing. ``client`` is a :class:`~paytrace_sl.paytrace.client.PayTraceClient`
    (anything with ``settings`` and ``export_transactions_raw``). API errors propagate.
    """
    if end <= start:
        raise ValueError(f"empty window: end {end} must be after start {start} (end is exclusive)")
    settings = client.settings
    summary = ExtractSummary(start=start, end=end, timezone=settings.timezone, out_path=Path(out_path))
    filters = (None, DECLINED_FILTER) if include_declined else (None,)
    passes = (
        (raw, export_filter)
        for export_filter in filters
        for raw in client.export_transactions_raw(start, end, transaction_type=export_filter)
    )
    write_transactions(passes, settings.tz, summary)
    log.info(
        "extract %s..%s: %d transaction(s), %d rejected", start, end, summary.count, len(summary.failures)
    )
    return summary


def _temp_path(final: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(name)
