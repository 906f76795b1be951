"""Importing one chargeback file: parse, match each case to SL, write each stage exactly once.

Used by ``paytrace-sl chargebacks import FILE`` and the file-arrival DAG ``paytrace_chargebacks_to_sl``.
Each row's outcome is one of: posted (its SL documents written), already posted (the ledger has its case
and stage: a re-import), review (written, with an item for a person), a duplicate of an earlier row of
the same file, or a dead letter (xPTDeadLetter, source ``chargeback-file``, naming the row and field).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from paytrace_sl.chargebacks.parse import CaseRow, ChargebackFileError, RowProblem, parse_file
from paytrace_sl.pan_detector import contains_pan, mask_pans
from paytrace_sl.pipeline.mapping import Mapping
from paytrace_sl.plan import Account
from paytrace_sl.sl.own_tables import utcnow, xPTChargeback, xPTDeadLetter, xPTLedger
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl.sl.writer.chargebacks import PlannedChargeback

SOURCE = "chargeback-file"
_STAGE_ORDER = {"retrieval": 0, "chargeback": 1, "won": 2, "lost": 2}


@dataclass
class ImportSummary:
    """What one import did, row by row (PCI-safe: ids, case numbers, amounts only)."""

    file: str
    data_rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # posted | already_posted | review | recorded …
    dead_letters: int = 0  # rows set aside (this run; a repeat of an open one is not counted twice)
    duplicates: int = 0
    batches: list[tuple[str, str]] = field(default_factory=list)  # (module, BatNbr) written
    problems: list[str] = field(default_factory=list)  # "file row N field F: reason"

    @property
    def accounted(self) -> bool:
        """Every data row is in exactly one bucket (posted, already, review, duplicate, dead letter)."""
        return sum(self.outcomes.values()) + len(self.problems) + self.duplicates == self.data_rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "data_rows": self.data_rows,
            "outcomes": dict(sorted(self.outcomes.items())),
            "dead_letters": len(self.problems),
            "dead_letters_new": self.dead_letters,
            "duplicates": self.duplicates,
            "batches": [f"{m} {b}" for m, b in self.batches],
            "problems": self.problems,
        }


def _clearing(mapping: Mapping) -> Account:
    configured = mapping.chargebacks.debited_account
    if configured is not None:
        return configured
    return next(r.clearing for r in mapping.gl_rules if r.is_catch_all)


def import_chargeback_file(
    engine: sa.Engine,
    path: Path,
    mapping: Mapping,
    *,
    run_id: str,
    writer: SLWriter | None = None,
) -> ImportSummary:
    """Import ``path`` into SL (raises ChargebackFileError when the file as a whole is unreadable)."""
    parsed = parse_file(path, mapping.chargebacks)
    summary = ImportSummary(file=path.name, data_rows=parsed.data_rows, duplicates=parsed.duplicates)
    problems: list[RowProblem] = list(parsed.problems)
    writer = writer or SLWriter(
        engine, run_id=run_id, time_zone=mapping.timezone, late_items=mapping.late_items
    )
    rows = sorted(parsed.rows, key=lambda r: (_STAGE_ORDER[r.stage], r.file_row))
    cfg = mapping.chargebacks
    debited = _clearing(mapping)
    bank = cfg.fee_bank_account or mapping.bank_account or debited
    for row in rows:
        planned = _plan(engine, row, mapping, debited, bank, path.name)
        if isinstance(planned, RowProblem):
            problems.append(planned)
            continue
        result = writer.write_chargeback(planned)
        outcome = result.outcomes[planned.ledger_key].outcome
        if outcome == "posted" and planned.stage == "retrieval":
            outcome = "recorded"
        summary.outcomes[outcome] += 1
        summary.batches.extend(
            (m, b) for m, b in zip(("AR", "GL"), _batches(result.touched, planned), strict=False) if b
        )
    problems.sort(key=lambda p: p.file_row)
    summary.problems = [p.text(path.name) for p in problems]
    summary.dead_letters = _record_problems(engine, run_id, path.name, problems)
    return summary


def _batches(touched: list[str], case: PlannedChargeback) -> list[str]:
    """``touched`` is [AR, GL] for a chargeback with a fee, [AR] or [] otherwise."""
    return touched if case.stage == "chargeback" or not touched else touched[:1]


def _plan(
    engine: sa.Engine, row: CaseRow, mapping: Mapping, debited: Account, bank: Account, file_name: str
) -> PlannedChargeback | RowProblem:
    values = {"case_number": row.case_number, "transaction_id": str(row.transaction_id), "stage": row.stage}

    def problem(fld: str, reason: str) -> RowProblem:
        return RowProblem(row.file_row, fld, reason, values, row.transaction_id)

    led, cb = xPTLedger, xPTChargeback
    with engine.connect() as conn:
        posting = conn.execute(
            sa.select(led.c.kind, led.c.cpny_id, led.c.cust_id, led.c.amount, led.c.status).where(
                led.c.posted_txn_id == row.transaction_id
            )
        ).first()
        stages = {
            str(s.stage): s
            for s in conn.execute(
                sa.select(cb.c.stage, cb.c.ref_nbr, cb.c.amount, cb.c.cust_id).where(
                    cb.c.case_number == row.case_number, cb.c.transaction_id == row.transaction_id
                )
            )
        }
        other_case = conn.execute(
            sa.select(cb.c.case_number).where(
                cb.c.transaction_id == row.transaction_id,
                cb.c.stage == "chargeback",
                cb.c.case_number != row.case_number,
            )
        ).first()
    reimport = row.stage in stages  # the writer reports it as already posted
    if posting is None:
        why = (
            ""
            if reimport
            else " (unknown, or not imported yet); replay this row after the payments DAG has posted it"
        )
        return problem(
            "transaction_id", f"PayTrace transaction {row.transaction_id} is not posted to SL{why}"
        )
    if not reimport and (str(posting.kind) != "payment" or str(posting.status) != "posted"):
        return problem(
            "transaction_id",
            f"PayTrace transaction {row.transaction_id} is a {posting.kind} ({posting.status}) in SL, not a "
            "posted payment: a chargeback disputes a sale",
        )
    if row.amount > posting.amount:
        return problem("amount", f"{row.amount} is more than the disputed payment ({posting.amount})")
    dm_ref = ""
    if row.stage == "chargeback" and other_case is not None and not reimport:
        return problem(
            "case_number",
            f"transaction {row.transaction_id} already has chargeback case {other_case.case_number}",
        )
    if row.stage in ("won", "lost"):
        charged = stages.get("chargeback")
        if charged is None:
            return problem("stage", f"case {row.case_number} has no chargeback stage in SL to {row.stage}")
        other = "lost" if row.stage == "won" else "won"
        if other in stages:
            return problem("stage", f"case {row.case_number} is already {other}")
        if row.amount > charged.amount:
            return problem("amount", f"{row.amount} is more than the chargeback ({charged.amount})")
        dm_ref = str(charged.ref_nbr)
    return PlannedChargeback(
        case_number=row.case_number,
        transaction_id=row.transaction_id,
        stage=row.stage,
        case_date=row.case_date,
        amount=row.amount,
        fee=row.fee if row.stage == "chargeback" else Decimal(0),
        reason_code=row.reason_code,
        cpny_id=str(posting.cpny_id),
        cust_id=str(posting.cust_id),
        debited_account=debited,
        fee_account=mapping.chargebacks.fee_account,
        bank_account=bank,
        dm_ref_nbr=dm_ref,
        status=mapping.batch_status,
        source_file=file_name,
        file_row=row.file_row,
    )


def _record_problems(engine: sa.Engine, run_id: str, file_name: str, problems: list[RowProblem]) -> int:
    """Dead letters, one per problem row (a repeat of a still-open one is not added again)."""
    t = xPTDeadLetter
    inserted = 0
    with engine.begin() as conn:
        for p in problems:
            payload = json.dumps(
                {"file": file_name, "row": p.file_row, "field": p.field, "values": p.values}, sort_keys=True
            )
            reason = p.text(file_name)[:500]
            # the same bad row seen again (a re-sent or renamed file) is the same letter: no file name or row
            identity = json.dumps({"field": p.field, "reason": p.reason, "values": p.values}, sort_keys=True)
            digest = hashlib.sha256(identity.encode()).hexdigest()
            if conn.execute(
                sa.select(t.c.id).where(t.c.payload_hash == digest, t.c.replayed_at.is_(None))
            ).first():
                continue
            conn.execute(
                sa.insert(t).values(
                    transaction_id=p.transaction_id,
                    source=SOURCE,
                    payload=payload,
                    payload_hash=digest,
                    reason=reason,
                    failed_checks=json.dumps([p.field]),
                    run_id=run_id,
                    created_at=utcnow(),
                )
            )
            inserted += 1
    return inserted


INBOX_PATTERN = "*.csv"


def inbox_files(folder: Path) -> list[Path]:
    """The files waiting in ``<folder>/inbox`` (``.part`` files still being written are not listed)."""
    return sorted(p for p in (folder / "inbox").glob(INBOX_PATTERN) if p.is_file())


def import_inbox(engine: sa.Engine, folder: Path, mapping: Mapping, *, run_id: str) -> dict[str, Any]:
    """Import every file of ``<folder>/inbox`` in name order; each moves to ``done/`` (imported, even
    with dead-lettered rows) or ``failed/`` (unreadable as a whole, with a ``.reason`` file beside it).
    Returns a PCI-safe summary per file (the DAG's XCom)."""

    def keep(path: Path, target: Path) -> None:
        """Move ``path`` to ``target``, card numbers masked (a processor file may hold one: never kept)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        if contains_pan(text, json=False):
            target.write_text(mask_pans(text), encoding="utf-8")
            path.unlink()
        else:
            path.replace(target)

    files: list[dict[str, Any]] = []
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    for path in inbox_files(folder):
        try:
            summary = import_chargeback_file(engine, path, mapping, run_id=run_id)
        except ChargebackFileError as exc:
            target = folder / "failed" / f"{stamp}-{path.name}"
            keep(path, target)
            target.with_name(target.name + ".reason").write_text(f"{exc}\n")
            files.append({"file": path.name, "failed": str(exc)})
            continue
        keep(path, folder / "done" / f"{stamp}-{path.name}")
        files.append(summary.as_dict())
    return {"run_id": run_id, "files": files}
