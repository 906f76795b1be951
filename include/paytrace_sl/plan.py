"""The SL posting plan: what the transformation decides and the writer materialises.

The transform (pipeline) decides *what* to post: document kind, customer, accounts, amounts,
applications, and how documents are grouped into SL batches. The writer (:mod:`paytrace_sl.sl.writer`)
decides *how*: batch/ref numbering, every SL column and its blank, fiscal period, totals, locking,
the ledger rows and exactly-once. Money is ``Decimal`` here; the writer rounds to the currency's
decimals when it writes SL's float columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class PostingKind(StrEnum):
    PAYMENT = "payment"  # PayTrace SALE / CAPTURE → AR 08030 batch, ARDoc PA
    REFUND = "refund"  # PayTrace REFUND → AR 08010 batch: CM + DM, or DM only (docs/accounting.md §3)
    VOID = "void"  # PayTrace void of a sale already posted: remove it from an unreleased batch
    SETTLEMENT = "settlement"  # settled PayTrace batch → GL 01010 batch, clearing → bank


@dataclass(frozen=True, slots=True)
class Account:
    """An SL account/subaccount pair (``Acct`` char(10), ``Sub`` char(24))."""

    acct: str
    sub: str


@dataclass(frozen=True, slots=True)
class InvoiceApplication:
    """One ``DrCr='U'`` application line: pay ``amount`` of SL invoice ``ref_nbr``.

    The writer puts the invoice's RefNbr in ``SiteId`` and its DocType in ``CostType``.
    """

    ref_nbr: str
    amount: Decimal
    doc_type: str = "IN"


@dataclass(frozen=True, slots=True)
class PlannedPayment:
    """A customer payment (sale or capture). ``ledger_key`` makes it exactly-once."""

    transaction_id: int
    cust_id: str
    amount: Decimal
    doc_date: dt.date
    cash_account: Account  # card-clearing account: ARDoc.BankAcct/BankSub
    applications: tuple[InvoiceApplication, ...] = ()
    description: str = ""
    ext_ref_nbr: str = ""  # e.g. PayTrace invoice_id, for the SL user
    ar_account: Account | None = None  # None → customer's / ARSetup default
    review_reason: str = ""  # non-empty: posted unapplied, and a review item records why
    # PayTrace state when planned (pending/settled…), kept in the ledger so a later window can tell
    # whether the state changed. Not part of repr/eq: it does not change what is posted.
    paytrace_state: str = field(default="", repr=False, compare=False)
    # What PayTrace said (type, digest of its customer id), kept in the ledger so a later copy of the
    # id that differs is a review item (pipeline.posted_copies). Not part of what is posted.
    paytrace_type: str = field(default="", repr=False, compare=False)
    customer_digest: str = field(default="", repr=False, compare=False)

    @property
    def ledger_key(self) -> str:
        return f"paytrace:{self.transaction_id}:payment"


@dataclass(frozen=True, slots=True)
class PlannedRefund:
    """A refund given back to a card (docs/accounting.md §3).

    ``reverses_invoice`` set (the refund quotes an SL invoice of its customer: the sale paid it): the
    goods went back, so CM (Dr refunds account, Cr A/R) + DM (Dr A/R, Cr clearing). Blank (the sale was
    posted on account: no invoice, a sales order, the unidentified customer): only the DM (Dr A/R, Cr
    clearing), which the customer's unapplied payment pays; no revenue account is touched.
    """

    transaction_id: int
    cust_id: str
    amount: Decimal  # positive
    doc_date: dt.date
    clearing_account: Account
    refund_account: Account
    description: str = ""
    ext_ref_nbr: str = ""
    ar_account: Account | None = None
    reverses_invoice: str = ""  # SL invoice RefNbr the refunded sale paid; "" → refund of money on account
    review_reason: str = ""  # non-empty: posted, and a review item records why (e.g. unidentified payer)
    paytrace_state: str = field(default="", repr=False, compare=False)
    paytrace_type: str = field(default="", repr=False, compare=False)
    customer_digest: str = field(default="", repr=False, compare=False)

    @property
    def ledger_key(self) -> str:
        return f"paytrace:{self.transaction_id}:refund"


@dataclass(frozen=True, slots=True)
class PlannedVoid:
    """PayTrace voided a sale we already posted: remove its payment if SL has not released it."""

    transaction_id: int  # the voided sale's id (its payment's ledger key is looked up)
    doc_date: dt.date
    description: str = ""

    @property
    def ledger_key(self) -> str:
        return f"paytrace:{self.transaction_id}:void"


@dataclass(frozen=True, slots=True)
class PlannedSettlement:
    """A settled PayTrace batch: one balanced GL batch moving ``net_amount`` from clearing to bank."""

    batch_number: int
    settled_date: dt.date
    net_amount: Decimal
    clearing_account: Account
    bank_account: Account
    description: str = ""
    # Set when one PayTrace batch settles from several clearing accounts (e.g. Amex separately): one
    # item per account, each exactly-once under its own ledger key. "" keeps the one-item key.
    clearing_part: str = ""

    @property
    def ledger_key(self) -> str:
        suffix = f":{self.clearing_part}" if self.clearing_part else ""
        return f"paytrace-batch:{self.batch_number}:settlement{suffix}"


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """One SL batch to write in one database transaction; items share kind, company and period."""

    kind: PostingKind
    cpny_id: str
    items: tuple[PlannedPayment | PlannedRefund | PlannedVoid | PlannedSettlement, ...]
    status: str = "H"  # H (Hold) by default, B (Balanced) by configuration; never released
    description: str = ""
    per_post: str | None = None  # None → from SL's fiscal calendar for the items' date


@dataclass(frozen=True, slots=True)
class PostingPlan:
    batches: tuple[PlannedBatch, ...] = field(default_factory=tuple)

    # the PlanSource view (what the landing's plan writer reads)
    @property
    def batch_count(self) -> int:
        return len(self.batches)

    @property
    def item_count(self) -> int:
        return sum(len(b.items) for b in self.batches)

    @property
    def cpny_ids(self) -> tuple[str, ...]:
        return tuple(sorted({b.cpny_id for b in self.batches}))

    def iter_batches(self) -> Iterator[PlannedBatch]:
        return iter(self.batches)


class PlanSource(Protocol):
    """A plan whose counts and companies are known up front and whose batches may be built one at a time
    as they are consumed (:class:`PostingPlan`, or the transform's ``PlanBatches``)."""

    @property
    def batch_count(self) -> int: ...

    @property
    def item_count(self) -> int: ...

    @property
    def cpny_ids(self) -> tuple[str, ...]: ...

    def iter_batches(self) -> Iterator[PlannedBatch]: ...


def application_refs(batches: Iterable[PlannedBatch]) -> set[str]:
    """The invoice numbers the payments of ``batches`` apply to (what the writer's pending cache keeps)."""
    return {
        appl.ref_nbr
        for batch in batches
        for item in batch.items
        if isinstance(item, PlannedPayment)
        for appl in item.applications
    }
