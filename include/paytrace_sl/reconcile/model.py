"""Reconciliation records: what PayTrace says, what SL holds, and every difference with its reason.

Plain frozen dataclasses with ``to_json_dict`` (decimals as strings, cents as integers) so the same
record feeds ``xPTRecon.explanation``, the CLI's ``--json`` output and the auditor report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paytrace_sl.paytrace.records import Transaction
    from paytrace_sl.reconcile.chargebacks import CaseCheck

CENT = Decimal("0.01")


def cents(amount: Decimal) -> int:
    """Whole cents of a money amount (exact: amounts are already 2-decimal)."""
    return int((amount / CENT).to_integral_value())


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts and amounts of sales and refunds; ``net`` = sales − refunds (PayTrace's NETAMOUNT)."""

    sales_count: int = 0
    sales_amount: Decimal = Decimal("0.00")
    refund_count: int = 0
    refund_amount: Decimal = Decimal("0.00")

    @property
    def net(self) -> Decimal:
        return (self.sales_amount - self.refund_amount).quantize(CENT)

    @property
    def count(self) -> int:
        return self.sales_count + self.refund_count

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "sales_count": self.sales_count,
            "sales_amount": str(self.sales_amount.quantize(CENT)),
            "refund_count": self.refund_count,
            "refund_amount": str(self.refund_amount.quantize(CENT)),
            "net": str(self.net),
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Totals:
        return cls(
            sales_count=int(data["sales_count"]),
            sales_amount=Decimal(str(data["sales_amount"])),
            refund_count=int(data["refund_count"]),
            refund_amount=Decimal(str(data["refund_amount"])),
        )


@dataclass(frozen=True, slots=True)
class ReconItem:
    """One transaction that explains (part of) a batch difference. ``impact_cents`` = PayTrace − SL."""

    transaction_id: int | None
    reason_code: str
    reason: str
    impact_cents: int
    explained: bool  # our own tables say why (review, dead-letter, skip, void handling)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "impact_cents": self.impact_cents,
            "explained": self.explained,
        }


MATCHED = "matched"
DIFFERENCE = "difference"
PENDING = "pending"


@dataclass(frozen=True, slots=True)
class ReconRecord:
    """Reconciliation of one PayTrace settlement batch against its transactions and what SL holds.

    Three comparisons: PayTrace's batch totals vs the sum of the transactions PayTrace lists in the batch
    (``listed_difference_cents``); batch totals vs the SL documents we posted for those transactions
    (``difference_cents``, stored in ``xPTRecon``); batch net vs the settlement GL entry
    (``settlement_difference_cents``, only when a settlement entry exists).
    """

    batch_number: int
    settled_date: dt.date
    cpny_id: str
    status: str  # matched | difference | pending
    paytrace: Totals
    listed: Totals
    posted: Totals
    settlement_posted: Decimal | None  # net of the settlement GL entry, None when none was written
    settlement_bat_nbr: str
    difference_cents: int
    listed_difference_cents: int
    settlement_difference_cents: int
    items: tuple[ReconItem, ...] = field(default_factory=tuple)
    note: str = ""  # e.g. an empty settlement batch: nothing to deposit, skipped

    @property
    def explained(self) -> bool:
        """Matched, or every difference is accounted for by items our tables explain."""
        if self.status == MATCHED:
            return True
        if self.listed_difference_cents or self.settlement_difference_cents:
            return False
        return sum(i.impact_cents for i in self.items) == self.difference_cents and all(
            i.explained for i in self.items
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "batch_number": self.batch_number,
            "settled_date": self.settled_date.isoformat(),
            "cpny_id": self.cpny_id,
            "status": self.status,
            "explained": self.explained,
            "paytrace": self.paytrace.to_json_dict(),
            "listed": self.listed.to_json_dict(),
            "posted": self.posted.to_json_dict(),
            "settlement_posted": None if self.settlement_posted is None else str(self.settlement_posted),
            "settlement_bat_nbr": self.settlement_bat_nbr,
            "difference_cents": self.difference_cents,
            "listed_difference_cents": self.listed_difference_cents,
            "settlement_difference_cents": self.settlement_difference_cents,
            "items": [i.to_json_dict() for i in self.items],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class ReconException:
    """Something a person has to look at; ``action`` says what to do about it."""

    kind: str
    reason: str
    action: str
    explained: bool
    transaction_id: int | None = None
    batch_number: int | None = None
    ledger_key: str = ""
    sl_ref: str = ""  # "AR 000123 PA 81234567"
    amount: Decimal | None = None
    day: dt.date | None = None

    @property
    def sort_key(self) -> tuple[str, str, int, int, str]:
        return (
            self.day.isoformat() if self.day else "",
            self.kind,
            self.batch_number or 0,
            self.transaction_id or 0,
            self.ledger_key,
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "explained": self.explained,
            "day": self.day.isoformat() if self.day else "",
            "transaction_id": self.transaction_id,
            "batch_number": self.batch_number,
            "ledger_key": self.ledger_key,
            "sl_ref": self.sl_ref,
            "amount": "" if self.amount is None else str(self.amount),
            "reason": self.reason,
            "action": self.action,
        }


@dataclass(frozen=True, slots=True)
class ReconReport:
    """The result of :func:`paytrace_sl.reconcile.reconcile` over a date range (``end`` inclusive)."""

    start: dt.date
    end: dt.date
    source: str  # "paytrace-api" | "landing"
    batches: tuple[ReconRecord, ...]
    exceptions: tuple[ReconException, ...]
    transactions_checked: int
    notes: tuple[str, ...] = ()
    # the range's chargeback case stages as checked against SL (the report's chargebacks table)
    chargeback_cases: tuple[CaseCheck, ...] = ()
    # PayTrace's transactions of the range that were reconciled (the report's per-transaction tables)
    transactions: tuple[Transaction, ...] = ()

    @property
    def unexplained(self) -> tuple[ReconException, ...]:
        return tuple(e for e in self.exceptions if not e.explained)

    @property
    def ok(self) -> bool:
        return not self.unexplained

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "source": self.source,
            "ok": self.ok,
            "transactions_checked": self.transactions_checked,
            "batches": [b.to_json_dict() for b in self.batches],
            "exceptions": [e.to_json_dict() for e in self.exceptions],
            "counts": {
                "batches": len(self.batches),
                "batches_matched": sum(1 for b in self.batches if b.status == MATCHED),
                "exceptions": len(self.exceptions),
                "explained": sum(1 for e in self.exceptions if e.explained),
                "unexplained": len(self.unexplained),
            },
            "notes": list(self.notes),
        }
