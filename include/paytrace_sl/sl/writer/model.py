"""What the SL writer returns and raises, its constants, and one batch's rows before the inserts.

No I/O here: :mod:`paytrace_sl.sl.writer.ledger` fills these while it writes a batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.plan import Account, PlannedPayment, PlannedRefund, PlannedSettlement, PlannedVoid
from paytrace_sl.sl import catalog
from paytrace_sl.sl.preflight import Finding

SCREEN_INVOICE_MEMO = "08010"
SCREEN_PAYMENT = "08030"
SCREEN_GL_JOURNAL = "01010"
COPY_THRESHOLD = 200  # rows; below it a plain executemany is as fast and simpler
COPY_CHUNK_LINES = 2000  # COPY lines sent per write (bounded memory, few calls)
CENT = Decimal("0.01")
FIRST_LINE_NBR = -32767  # SL's grid numbering starts at -32767 (reference §2.4)

Item = PlannedPayment | PlannedRefund | PlannedVoid | PlannedSettlement
StepHook = Callable[[str], None]


class WriterError(PaytraceSlError, RuntimeError):
    """The plan cannot be written as given; the message names the batch/item and the field."""


class PreflightFailed(WriterError):
    """SL's release checks failed on the batch we were about to commit; it was rolled back."""

    def __init__(self, module: str, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        lines = "\n".join(f"  {f}" for f in self.findings)
        super().__init__(f"{module} batch failed the release preflight and was rolled back:\n{lines}")


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What happened to one planned item (keyed by its ledger key)."""

    ledger_key: str
    outcome: str  # posted | already_posted | removed | review | nothing_to_do | refused
    doc_type: str = ""
    ref_nbr: str = ""
    message: str = ""


@dataclass
class BatchResult:
    """One planned batch's outcome. ``bat_nbr`` is the SL batch written (for voids: the one batch changed,
    or "" when none or several — see ``touched``); counts and per-item outcomes keyed by ledger key."""

    kind: str
    cpny_id: str
    module: str = ""
    bat_nbr: str = ""
    posted: int = 0
    already_posted: int = 0
    removed: int = 0
    review_items: int = 0
    conflicts: int = 0  # not posted: the id's one posting exists under another kind (review item raised)
    outcomes: dict[str, ItemOutcome] = field(default_factory=dict)
    attempts: int = 1
    touched: list[str] = field(default_factory=list)  # voids: the existing AR batches they changed
    refused: int = 0  # items not written: their period is closed/past and late_items is refuse
    refused_new: int = 0  # of which review items opened now (the rest were already open)
    late_from: str = ""  # the items' own period when the batch was moved to SL's current period

    def add(self, outcome: ItemOutcome) -> None:
        self.outcomes[outcome.ledger_key] = outcome


@dataclass
class WriteResult:
    batches: list[BatchResult] = field(default_factory=list)

    @property
    def posted(self) -> int:
        return sum(b.posted for b in self.batches)

    @property
    def already_posted(self) -> int:
        return sum(b.already_posted for b in self.batches)

    @property
    def removed(self) -> int:
        return sum(b.removed for b in self.batches)

    @property
    def review_items(self) -> int:
        return sum(b.review_items for b in self.batches)

    @property
    def conflicts(self) -> int:
        return sum(b.conflicts for b in self.batches)

    @property
    def batch_numbers(self) -> list[tuple[str, str]]:
        return [(b.module, b.bat_nbr) for b in self.batches if b.bat_nbr]


@dataclass
class _Review:
    transaction_id: int | None
    ledger_key: str
    reason_code: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Work:
    """Rows for one batch, accumulated before the inserts."""

    ardoc: list[dict[str, object]] = field(default_factory=list)
    artran: list[dict[str, object]] = field(default_factory=list)
    gltran: list[dict[str, object]] = field(default_factory=list)
    refnbr: list[dict[str, object]] = field(default_factory=list)
    ledger: list[dict[str, object]] = field(default_factory=list)
    reviews: list[_Review] = field(default_factory=list)
    total: Decimal = Decimal(0)
    deposit: Decimal = Decimal(0)
    bank: Account | None = None
    mixed_bank: bool = False


def _stamp_per_ent(work: _Work, per_ent: str) -> None:
    """``PerEnt`` of every row of the batch: the period current at entry, not ``PerPost`` (§6.3)."""
    for rows in (work.ardoc, work.artran, work.gltran):
        for row in rows:
            row["PerEnt"] = per_ent


def fit_text(table: sa.Table, column: str, text: str) -> str:
    """Free text (descriptions) cut to SL's ``char(n)`` width, as SL's own screens do on entry.

    Only descriptions are cut: keys and numbers that do not fit still fail loudly in ``complete_row``.
    The full text is not lost: the ledger row and ``ExtRefNbr`` keep the transaction's identity.
    """
    width = catalog.char_length(table.c[column])
    return text[:width] if width and len(text) > width else text


def content_hash(item: object) -> str:
    """SHA-256 of what the plan asked us to post (so a later change to the same transaction is detectable).

    The frozen dataclass ``repr`` lists every field (Decimals and dates exactly), in declaration order.
    """
    return hashlib.sha256(repr(item).encode()).hexdigest()
