"""The sandbox's processor: chargeback and retrieval reports (CSV, the default layout) for its own
transactions, so the whole chargeback path runs in tests and in ``make demo``.

PayTrace has no dispute endpoint: merchants get these files from their processor. :func:`chargeback_cases`
picks cases for transactions the sandbox made (by export, so only masked card numbers are ever seen);
:func:`write_chargeback_file` writes them, optionally with the rows a real file can hold that must not
post: a malformed row, an unknown transaction id, an exact duplicate, a row carrying a full card number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from paytrace_sl.pipeline.mapping import CHARGEBACK_FIELDS

TEST_PAN = "4111111111111111"  # the well-known Visa test number (the sandbox's own test card)


@dataclass(frozen=True, slots=True)
class SandboxCase:
    case_number: str
    transaction_id: int
    stage: str
    case_date: dt.date
    amount: Decimal
    fee: Decimal = Decimal(0)
    reason_code: str = "10.4"
    card: str = ""

    def row(self) -> list[str]:
        return [
            self.case_number,
            str(self.transaction_id),
            self.stage,
            self.case_date.isoformat(),
            f"{self.amount:.2f}",
            f"{self.fee:.2f}",
            self.reason_code,
            self.card,
        ]


def chargeback_cases(
    transactions: Sequence[dict[str, Any]],
    day: dt.date,
    *,
    fee: Decimal = Decimal("15.00"),
    won: int = 1,
    lost: int = 1,
    retrievals: int = 1,
    prefix: str = "CB",
) -> list[SandboxCase]:
    """Cases for exported PayTrace transactions (dicts with transaction_id, amount, credit_card):
    the first ``won`` get a chargeback then a won representment, the next ``lost`` a chargeback then a
    lost one, then ``retrievals`` a retrieval request, the rest a chargeback only."""
    cases: list[SandboxCase] = []
    for n, tx in enumerate(transactions):
        tid = int(tx["transaction_id"])
        amount = Decimal(str(tx["amount"]))
        card = str((tx.get("credit_card") or {}).get("masked_number", ""))
        case = f"{prefix}{day:%y%m%d}{n + 1:03d}"
        if won + lost <= n < won + lost + retrievals:
            cases.append(SandboxCase(case, tid, "retrieval", day, amount, card=card))
            continue
        cases.append(SandboxCase(case, tid, "chargeback", day, amount, fee, card=card))
        later = day + dt.timedelta(days=20)
        if n < won:
            cases.append(SandboxCase(case, tid, "won", later, amount, card=card))
        elif n < won + lost:
            cases.append(SandboxCase(case, tid, "lost", later, amount, card=card))
    return cases


def render(
    cases: Iterable[SandboxCase],
    *,
    malformed: bool = False,
    unknown_id: int | None = None,
    duplicate: bool = False,
    with_pan: bool = False,
) -> str:
    """The CSV text: header, the cases, and the requested bad rows (after the good ones)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CHARGEBACK_FIELDS)
    rows = [c.row() for c in cases]
    out.writerows(rows)
    if duplicate and rows:
        out.writerow(rows[0])
    if malformed:
        out.writerow(["CB-BAD-1", "81x00", "chargeback", "2025-13-45", "ten dollars", "", "", ""])
    if unknown_id is not None:
        out.writerow(
            ["CB-UNKNOWN-1", str(unknown_id), "chargeback", "2025-05-10", "12.00", "15.00", "13.1", ""]
        )
    if with_pan:
        out.writerow(["CB-PAN-1", "1", "chargeback", "2025-05-10", "12.00", "15.00", "13.1", TEST_PAN])
    return buf.getvalue()


def write_chargeback_file(path: Path, cases: Iterable[SandboxCase], **bad_rows: Any) -> Path:
    """Write the file atomically (``.part`` then rename: a watcher never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(render(cases, **bad_rows), encoding="utf-8")
    part.replace(path)
    return path
