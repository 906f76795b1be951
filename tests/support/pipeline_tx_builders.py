"""Small builders for pipeline unit tests (no I/O)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from paytrace_sl.paytrace.records import Transaction, TransactionState
from paytrace_sl.pipeline.sl_context import LedgerEntry, OpenInvoice, SLContext
from paytrace_sl.plan import (
    Account,
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
    PostingKind,
    PostingPlan,
)

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


# ------------------------------------------------------------ a small window, its SL context and plan
# (shared by the fast-path and plan-lines tests, which had each built the same ones)

WINDOW = (dt.datetime(2025, 4, 10, tzinfo=dt.UTC), dt.datetime(2025, 4, 11, tzinfo=dt.UTC))
CLEARING = Account("1050", "000000")


def sample_context() -> SLContext:
    """Three customers (one by vault xref, one for a blank customer id), two open invoices, and ledger
    entries that make 10 a void, 11 already posted and 12 a refund posted before."""
    return SLContext.build(
        cpny_id="0010",
        customers=["C100", "C200", "C300"],
        xref={"vault-9": "C200", "": "C300"},
        invoices=[
            OpenInvoice("INV-1", "C100", Decimal("150.00")),
            OpenInvoice("INV-2", "C200", Decimal("5.00")),
        ],
        ledger={
            10: LedgerEntry(kinds={"payment": "posted"}, paytrace_state="pending"),
            11: LedgerEntry(kinds={"payment": "posted"}, paytrace_state="settled"),
            12: LedgerEntry(kinds={"refund": "posted"}, paytrace_state="settled"),
        },
    )


def sample_records() -> list[Transaction]:
    """One record for each path of the transform against :func:`sample_context`."""
    return [
        tx(1, invoice_id="INV-1", amount="100.00", billing_name="Ann Lee"),
        tx(2, invoice_id="INV-1", amount="60.00"),  # balance short: the writer splits it
        tx(3, customer_id="vault-9", invoice_id="INV-2", amount="5.00"),
        tx(4, customer_id="", invoice_id="INV-2"),  # owner by invoice
        tx(5, customer_id="nobody", billing_name="Bo Ray", invoice_id="X-9", amount="7.10"),
        tx(6, status=TransactionState.DECLINED),
        tx(7, transaction_type="AUTHORIZATION", status=TransactionState.AUTHORIZED),
        tx(8, transaction_type="REFUND", amount="3.00"),
        tx(9, amount="0.00"),
        tx(10, status=TransactionState.VOIDED),  # posted before: void
        tx(11),  # already posted, state unchanged
        tx(12, transaction_type="REFUND", status=TransactionState.VOIDED),
        tx(13, invoice_id="SO-404"),
        tx(14, customer_id="nobody-else", transaction_type="CAPTURE", status=TransactionState.PENDING),
    ]


def planned_payments(first: int, count: int) -> tuple[PlannedPayment, ...]:
    return tuple(
        PlannedPayment(
            transaction_id=i,
            cust_id=f"C{i:03d}",
            amount=Decimal("12.34"),
            doc_date=dt.date(2025, 3, 9),
            cash_account=CLEARING,
            applications=(InvoiceApplication(f"INV{i}", Decimal("12.34")),) if i % 2 else (),
            description=f"PayTrace sale {i}",
            review_reason="" if i % 3 else "order_not_invoiced: x",
            paytrace_state="settled",
            paytrace_type="SALE",
            customer_digest=f"d{i}",
        )
        for i in range(first, first + count)
    )


def sample_plan() -> PostingPlan:
    """A plan of every batch kind: two payment batches, a refund, a void, an empty batch, a settlement."""
    return PostingPlan(
        batches=(
            PlannedBatch(PostingKind.PAYMENT, "0010", planned_payments(1, 39), description="PT payments #1"),
            PlannedBatch(PostingKind.PAYMENT, "0010", planned_payments(40, 3), description="PT payments #2"),
            PlannedBatch(
                PostingKind.REFUND,
                "0020",
                (
                    PlannedRefund(
                        transaction_id=77,
                        cust_id="C1",
                        amount=Decimal("1.00"),
                        doc_date=dt.date(2025, 3, 9),
                        clearing_account=CLEARING,
                        refund_account=Account("2000", "x"),
                        reverses_invoice="INV1",
                    ),
                ),
                status="B",
                per_post="202503",
            ),
            PlannedBatch(PostingKind.VOID, "0010", (PlannedVoid(5, dt.date(2025, 3, 10), "void 5"),)),
            PlannedBatch(PostingKind.PAYMENT, "0030", ()),  # an empty batch survives the trip too
            PlannedBatch(
                PostingKind.SETTLEMENT,
                "0010",
                (PlannedSettlement(9, dt.date(2025, 3, 9), Decimal("-0.01"), CLEARING, Account("1000", "")),),
            ),
        )
    )
