"""What the SL writer returns and raises, its constants, and one batch's rows before the inserts.

No I/O here: :mod:`paytrace_sl.sl.writer.ledger` fills these while it writes a batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.plan import (
    Account,
    InvoiceApplication,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
)
from paytrace_sl.sl import catalog
from paytrace_sl.sl.preflight import Finding
from paytrace_sl.sl.rows import ColumnRows

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
    """Rows for one batch, accumulated before the inserts: one dict per row, except for payments, whose
    ``ARDoc``, ``ARTran`` and ledger rows are built column-wise into ``columns`` (see :meth:`table`)."""

    ardoc: list[dict[str, object]] = field(default_factory=list)
    artran: list[dict[str, object]] = field(default_factory=list)
    gltran: list[dict[str, object]] = field(default_factory=list)
    refnbr: list[dict[str, object]] = field(default_factory=list)
    ledger: list[dict[str, object]] = field(default_factory=list)
    columns: dict[str, ColumnRows] = field(default_factory=dict)  # "ardoc" / "artran" / "ledger"
    reviews: list[_Review] = field(default_factory=list)
    total: Decimal = Decimal(0)
    deposit: Decimal = Decimal(0)
    bank: Account | None = None
    mixed_bank: bool = False

    def table(self, name: str) -> list[dict[str, object]] | ColumnRows:
        """The rows of ``name`` (``ardoc``, ``artran``, ``ledger``…), whichever way they were built."""
        rows: list[dict[str, object]] = getattr(self, name)
        held = self.columns.get(name)
        if held is None:
            return rows
        if rows:
            raise WriterError(f"{name} rows built both row-wise and column-wise in one batch")
        return held


def _stamp_per_ent(work: _Work, per_ent: str) -> None:
    """``PerEnt`` of every row of the batch: the period current at entry, not ``PerPost`` (§6.3)."""
    for rows in (work.table("ardoc"), work.table("artran"), work.gltran):
        if isinstance(rows, ColumnRows):
            rows.set_constant("PerEnt", per_ent)
            continue
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


# The dataclass ``repr`` of a payment, written out: content_hash of a payment is the same SHA-256 as
# before, at a fraction of the cost (the generated ``__repr__`` goes through a recursion guard for the
# payment, each application and the account: ~15 µs of a payment's ~50). Used only while the fields
# are exactly the ones written out here; any change to the dataclasses falls back to ``repr``.
def _repr_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.repr)


_FAST_REPR = (
    _repr_fields(PlannedPayment)
    == (
        "transaction_id",
        "cust_id",
        "amount",
        "doc_date",
        "cash_account",
        "applications",
        "description",
        "ext_ref_nbr",
        "ar_account",
        "review_reason",
    )
    and _repr_fields(InvoiceApplication) == ("ref_nbr", "amount", "doc_type")
    and _repr_fields(Account) == ("acct", "sub")
)
_account_reprs: dict[tuple[object, object], str] = {}  # (acct, sub) → repr: a day has a handful


def _account_repr(account: Account | None) -> str:
    if account is None:
        return "None"
    key = (account.acct, account.sub)
    text = _account_reprs.get(key)
    if text is None:
        if len(_account_reprs) > 4096:
            _account_reprs.clear()
        text = _account_reprs[key] = repr(account)
    return text


def _applications_repr(apps: tuple[InvoiceApplication, ...]) -> str | None:
    parts = []
    for a in apps:
        if type(a) is not InvoiceApplication:
            return None
        parts.append(
            f"InvoiceApplication(ref_nbr={a.ref_nbr!r}, amount={a.amount!r}, doc_type={a.doc_type!r})"
        )
    if len(parts) == 1:
        return f"({parts[0]},)"
    return f"({', '.join(parts)})"


def payment_content_hash(pay: PlannedPayment) -> str:
    """:func:`content_hash` of a payment (the same digest), without the generated ``__repr__``."""
    if not _FAST_REPR or type(pay) is not PlannedPayment or type(pay.cash_account) is not Account:
        return content_hash(pay)
    apps = _applications_repr(pay.applications) if pay.applications else "()"
    if apps is None or not (pay.ar_account is None or type(pay.ar_account) is Account):
        return content_hash(pay)
    text = (
        f"PlannedPayment(transaction_id={pay.transaction_id!r}, cust_id={pay.cust_id!r}, "
        f"amount={pay.amount!r}, doc_date={pay.doc_date!r}, cash_account={_account_repr(pay.cash_account)}, "
        f"applications={apps}, description={pay.description!r}, ext_ref_nbr={pay.ext_ref_nbr!r}, "
        f"ar_account={_account_repr(pay.ar_account)}, review_reason={pay.review_reason!r})"
    )
    return hashlib.sha256(text.encode()).hexdigest()
