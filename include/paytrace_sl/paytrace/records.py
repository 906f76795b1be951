"""Typed, immutable PayTrace records: the normalized shape every later stage consumes.

Only the masked card number ever lives here (PCI: no PAN, CSC, token). Amounts are ``Decimal``;
timestamps are zone-aware datetimes in the merchant's time zone. The parsing functions that build
these records from PayTrace's raw JSON live in :mod:`paytrace_sl.paytrace.parse`.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class TransactionState(StrEnum):
    """Settlement state derived from PayTrace's ``status_code``/``status_message`` (reference §3.2)."""

    PENDING = "pending"  # "Y": settles tonight
    SETTLED = "settled"  # "GB<n>" or contains "Settled": batch number appended
    VOIDED = "voided"  # "N" + message mentioning VOID
    DECLINED = "declined"  # "N" + message mentioning DECL (or a DECLINED export record)
    AUTHORIZED = "authorized"  # "N" + "Authorization Only": waits for its capture


def _shared(value: Any) -> str:
    """``str(value)``, one object per distinct text: a window repeats types, states, channels and customers
    thousands of times, and records read back from a landing file would otherwise hold a copy each."""
    return sys.intern(str(value))


@dataclass(frozen=True, slots=True)
class Transaction:
    """One PayTrace transaction, normalized. ``to_json_dict`` is the JSONL line format of ``extract``."""

    transaction_id: int
    # upper-case PayTrace type: SALE, AUTHORIZATION, CAPTURE, REFUND, VOID, FORCE, STR/FWD
    transaction_type: str
    status: TransactionState
    batch_number: int | None
    amount: Decimal
    tax_amount: Decimal
    created_at: dt.datetime  # zone-aware, merchant time zone
    settled_at: dt.datetime | None
    customer_id: str  # PayTrace vault customer id; "" when none
    invoice_id: str  # "" when none
    card_masked: str  # "************1111" or "411111******1111"; never a PAN
    status_code: str = ""
    status_message: str = ""
    description: str = ""
    customer_reference_id: str = ""
    approval_code: str = ""
    created_through: str = ""  # channel, e.g. "API"
    created_by: str = ""
    billing_name: str = ""
    # contract 1.1: what the fraud checks read (docs/fraud.md); PayTrace's texts, "" when absent
    avs_response: str = ""  # e.g. "Full Exact Match", "No Match"
    csc_response: str = ""  # e.g. "Match", "No Match", "" (not checked)
    created_from_ip: str = ""  # created.from_ip

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-safe dict: decimals as strings, datetimes as ISO 8601 with offset."""
        return {
            "transaction_id": self.transaction_id,
            "transaction_type": self.transaction_type,
            "status": self.status.value,
            "batch_number": self.batch_number,
            "amount": str(self.amount),
            "tax_amount": str(self.tax_amount),
            "created_at": self.created_at.isoformat(),
            "settled_at": self.settled_at.isoformat() if self.settled_at else None,
            "customer_id": self.customer_id,
            "invoice_id": self.invoice_id,
            "card_masked": self.card_masked,
            "status_code": self.status_code,
            "status_message": self.status_message,
            "description": self.description,
            "customer_reference_id": self.customer_reference_id,
            "approval_code": self.approval_code,
            "created_through": self.created_through,
            "created_by": self.created_by,
            "billing_name": self.billing_name,
            "avs_response": self.avs_response,
            "csc_response": self.csc_response,
            "created_from_ip": self.created_from_ip,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Transaction:
        """Inverse of :meth:`to_json_dict` (used to read landing files back)."""
        return cls(
            transaction_id=int(data["transaction_id"]),
            transaction_type=_shared(data["transaction_type"]),
            status=TransactionState(data["status"]),
            batch_number=None if data.get("batch_number") is None else int(data["batch_number"]),
            amount=Decimal(str(data["amount"])),
            tax_amount=Decimal(str(data["tax_amount"])),
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            settled_at=dt.datetime.fromisoformat(data["settled_at"]) if data.get("settled_at") else None,
            customer_id=_shared(data.get("customer_id", "")),
            invoice_id=str(data.get("invoice_id", "")),
            card_masked=_shared(data.get("card_masked", "")),
            status_code=_shared(data.get("status_code", "")),
            status_message=_shared(data.get("status_message", "")),
            description=str(data.get("description", "")),
            customer_reference_id=str(data.get("customer_reference_id", "")),
            approval_code=_shared(data.get("approval_code", "")),
            created_through=_shared(data.get("created_through", "")),
            created_by=_shared(data.get("created_by", "")),
            billing_name=str(data.get("billing_name", "")),
            avs_response=_shared(data.get("avs_response", "")),
            csc_response=_shared(data.get("csc_response", "")),
            created_from_ip=_shared(data.get("created_from_ip", "")),
        )


@dataclass(frozen=True, slots=True)
class BrandTotals:
    """Per-card-brand totals of one settled batch (``batches/export_one``)."""

    brand: str  # visa, mastercard, amex, discover, diners, jcb, private
    sales_count: int
    sales_amount: Decimal
    refund_count: int
    refund_amount: Decimal


@dataclass(frozen=True, slots=True)
class SettlementBatch:
    """A PayTrace settlement batch summary (``batches/export``; field names per reference §3.3)."""

    number: int
    created_at: dt.datetime  # zone-aware, merchant time zone
    transaction_count: int
    net_amount: Decimal  # sales_amount - refund_amount
    sales_count: int
    sales_amount: Decimal
    refund_count: int
    refund_amount: Decimal
    brands: tuple[BrandTotals, ...] = field(default_factory=tuple)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "created_at": self.created_at.isoformat(),
            "transaction_count": self.transaction_count,
            "net_amount": str(self.net_amount),
            "sales_count": self.sales_count,
            "sales_amount": str(self.sales_amount),
            "refund_count": self.refund_count,
            "refund_amount": str(self.refund_amount),
            "brands": [
                {
                    "brand": b.brand,
                    "sales_count": b.sales_count,
                    "sales_amount": str(b.sales_amount),
                    "refund_count": b.refund_count,
                    "refund_amount": str(b.refund_amount),
                }
                for b in self.brands
            ],
        }


@dataclass(frozen=True, slots=True)
class VaultCustomer:
    """A PayTrace vault customer (``customer/export``); card data masked only."""

    customer_id: str
    name: str
    email: str
    card_masked: str
    created_at: dt.datetime | None = None
