"""Reading a processor's chargeback/retrieval report (CSV) into typed case rows.

Default layout (docs/accounting.md §9; other layouts: ``chargebacks.columns`` in mapping.yaml), a header
row then one row per case event::

    case_number,transaction_id,stage,case_date,amount,fee,reason_code,card
    CB-1001,81234567,chargeback,2025-05-10,50.00,15.00,10.4,************1111

A row that cannot be read becomes a :class:`RowProblem` naming the row and the field — never dropped,
never with a card number: every raw line goes through the PAN detector first, and a line holding one is
set aside with the PAN masked (only the masked ``card`` column is ever read).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.pan_detector import contains_pan, is_masked_card, mask_pans
from paytrace_sl.pipeline.mapping import CHARGEBACK_STAGES, ChargebackMapping

CASE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,39}")
MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case event of the file (not yet matched to SL)."""

    case_number: str
    transaction_id: int
    stage: str  # retrieval | chargeback | won | lost
    case_date: dt.date
    amount: Decimal
    fee: Decimal
    reason_code: str
    masked_card: str
    file_row: int  # 1 = the header; data rows start at 2 (what a spreadsheet shows)

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.case_number, self.transaction_id, self.stage)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row set aside: its row number, the field, why, and its PCI-safe values."""

    file_row: int
    field: str
    reason: str
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    transaction_id: int | None = None

    def text(self, file_name: str) -> str:
        return f"{file_name} row {self.file_row} field {self.field}: {self.reason}"


@dataclass
class ParsedFile:
    rows: list[CaseRow] = dataclasses.field(default_factory=list)
    problems: list[RowProblem] = dataclasses.field(default_factory=list)
    duplicates: int = 0  # exact repeats of a row earlier in the same file (counted, not posted twice)
    data_rows: int = 0


class ChargebackFileError(PaytraceSlError, ValueError):
    """The file as a whole cannot be read (no header, a required column missing, not text)."""


def _safe(values: dict[str, str]) -> dict[str, str]:
    return {k: mask_pans(v)[:120] for k, v in values.items()}


def parse_file(path: Path, cfg: ChargebackMapping) -> ParsedFile:
    """Read ``path`` with the layout of ``cfg``; a row problem per bad row, the good rows typed."""
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise ChargebackFileError(f"{path.name}: larger than {MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ChargebackFileError(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    return parse_text(text, cfg, path.name)


def parse_text(text: str, cfg: ChargebackMapping, name: str = "file") -> ParsedFile:
    """Parse CSV ``text``: one typed row or one problem per record, named by its first file line.

    Records are read by the ``csv`` module over the whole text, so a quoted cell holding a line break (a
    processor's case note) stays one record; a row's number is the file line where the record starts.
    """
    out = ParsedFile()
    records = _records(text, cfg.delimiter, name)
    first = next(records, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise ChargebackFileError(f"{name}: empty file or no header row")
    header = [h.strip() for h in first[1]]
    index: dict[str, int] = {}
    for fld, column in cfg.columns.items():
        if not column:
            continue
        if column in header:
            index[fld] = header.index(column)
        elif fld in ("case_number", "transaction_id", "stage", "case_date", "amount"):
            raise ChargebackFileError(
                f"{name}: header has no column {column!r} (field {fld}; mapping.yaml chargebacks.columns)"
            )
    seen: dict[tuple[str, int, str], CaseRow] = {}
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        out.data_rows += 1
        holders = [
            header[i] if i < len(header) else f"column {i + 1}"
            for i, c in enumerate(cells)
            if contains_pan(c, json=False)
        ]
        if holders or contains_pan(cfg.delimiter.join(cells), json=False):
            out.problems.append(
                RowProblem(
                    number,
                    ",".join(holders) or "row",
                    "holds a full card number (masked here); ask the processor for masked files",
                    {"row": mask_pans(cfg.delimiter.join(cells))[:200]},
                )
            )
            continue
        values = {fld: (cells[i].strip() if i < len(cells) else "") for fld, i in index.items()}
        row_or_problem = _row(number, values, cfg)
        if isinstance(row_or_problem, RowProblem):
            out.problems.append(row_or_problem)
            continue
        earlier = seen.get(row_or_problem.key)
        if earlier is not None:
            if _same(earlier, row_or_problem):
                out.duplicates += 1
            else:
                out.problems.append(
                    RowProblem(
                        number,
                        "case_number",
                        f"case {row_or_problem.case_number} stage {row_or_problem.stage} of transaction "
                        f"{row_or_problem.transaction_id} repeats row {earlier.file_row} with other values",
                        _safe(values),
                        row_or_problem.transaction_id,
                    )
                )
            continue
        seen[row_or_problem.key] = row_or_problem
        out.rows.append(row_or_problem)
    return out


def _records(text: str, delimiter: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """``(first file line, cells)`` per CSV record; a malformed record is a file error naming its line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ChargebackFileError(f"{name}: line {start}: not a CSV record ({exc})") from None
        yield start, cells
        start = reader.line_num + 1


def _same(a: CaseRow, b: CaseRow) -> bool:
    return (a.case_date, a.amount, a.fee, a.reason_code) == (b.case_date, b.amount, b.fee, b.reason_code)


def _row(number: int, values: dict[str, str], cfg: ChargebackMapping) -> CaseRow | RowProblem:
    safe = _safe(values)

    def problem(fld: str, reason: str, txid: int | None = None) -> RowProblem:
        return RowProblem(number, fld, reason, safe, txid)

    case = values.get("case_number", "")
    if not CASE_NUMBER.fullmatch(case):
        return problem(
            "case_number",
            f"{safe.get('case_number', '')!r} is not a case number (1-40 letters, digits, . _ / -)",
        )
    raw_txid = values.get("transaction_id", "")
    if not raw_txid.isascii() or not raw_txid.isdigit() or len(raw_txid) > 18:
        return problem(
            "transaction_id", f"{safe.get('transaction_id', '')!r} is not a PayTrace transaction id"
        )
    txid = int(raw_txid)
    stage = cfg.stages.get(values.get("stage", "").strip().lower(), "")
    if stage not in CHARGEBACK_STAGES:
        return problem(
            "stage", f"unknown stage {safe.get('stage', '')!r} (mapping.yaml chargebacks.stages)", txid
        )
    try:
        day = dt.datetime.strptime(values.get("case_date", ""), cfg.date_format).date()
    except ValueError:
        return problem("case_date", f"{safe.get('case_date', '')!r} does not match {cfg.date_format!r}", txid)
    amounts: dict[str, Decimal] = {}
    for fld in ("amount", "fee"):
        raw = values.get(fld, "").replace("$", "").replace(",", "").strip()
        if fld == "fee" and raw == "":
            amounts[fld] = Decimal(0)
            continue
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return problem(fld, f"{safe.get(fld, '')!r} is not an amount", txid)
        if not value.is_finite() or value.as_tuple().exponent < -2 or abs(value) >= Decimal("1e12"):  # type: ignore[operator]
            return problem(fld, f"{safe.get(fld, '')!r} is not an amount in cents", txid)
        amounts[fld] = abs(value)  # processors print chargebacks as negative amounts
    if amounts["amount"] == 0:
        return problem("amount", "is zero", txid)
    card = values.get("card", "")
    if card and not is_masked_card(card):
        return problem("card", "is not a masked card number", txid)
    reason = values.get("reason_code", "")[:40]
    return CaseRow(case, txid, stage, day, amounts["amount"], amounts["fee"], reason, card, number)
