"""Small builders for pipeline unit tests (no I/O)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from paytrace_sl.paytrace.records import Transaction, TransactionState

LA = ZoneInfo("America/Los_Angeles")


def tx(
    transaction_id: int,
    *,
    transaction_type: str = "SALE",
    status: TransactionState = TransactionState.SETTLED,
    amount: str = "100.00",
    customer_id: str = "C100",
    invoice_id: str = "",
    card_masked: str = "411111******1111",
    created_at: dt.datetime | None = None,
    created_through: str = "API",
    **extra: Any,
) -> Transaction:
    return Transaction(
        transaction_id=transaction_id,
        transaction_type=transaction_type,
        status=status,
        batch_number=571 if status == TransactionState.SETTLED else None,
        amount=Decimal(amount),
        tax_amount=Decimal("0.00"),
        created_at=created_at or dt.datetime(2025, 4, 10, 16, 6, 30, tzinfo=LA),
        settled_at=None,
        customer_id=customer_id,
        invoice_id=invoice_id,
        card_masked=card_masked,
        created_through=created_through,
        **extra,
    )
