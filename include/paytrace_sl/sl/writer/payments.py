"""Customer payments (docs/accounting.md §2): an AR 08.030 batch, one ``PA`` per PayTrace sale or
capture, applied to the invoice it quotes as far as its open balance allows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.plan import PlannedBatch, PlannedPayment
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.rows import SLValueError, money
from paytrace_sl.sl.setup import SLSetup
from paytrace_sl.sl.writer.model import CENT, BatchResult, ItemOutcome, WriterError, _Review, _Work
from paytrace_sl.sl.writer.row_builders import RowBuilders


class PaymentDocuments(RowBuilders):
    """Sales and captures: one ``PA`` per payment, application lines checked inside the transaction."""

    def _build_payments(
        self,
        conn: sa.Connection,
        pays: Sequence[PlannedPayment],
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
        result: BatchResult,
    ) -> None:
        dec = setup.cury_dec_pl
        refs = {a.ref_nbr for p in pays for a in p.applications}
        docs: dict[tuple[str, str], list[sa.Row[Any]]] = defaultdict(list)
        pending: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        if refs:
            pg_array = conn.dialect.name == "postgresql"  # one array parameter instead of 1,000-item INs
            chunk_size = len(refs) if pg_array else 1000
            ordered = sorted(refs)
            for start in range(0, len(ordered), chunk_size):
                chunk = ordered[start : start + chunk_size]
                for row in conn.execute(q.adjusted_docs_stmt(chunk, pg_array=pg_array)).all():
                    docs[(str(row.DocType).strip(), str(row.RefNbr).strip())].append(row)
                for cust, dtype, ref, amt in conn.execute(
                    q.pending_applications_stmt(chunk, pg_array=pg_array)
                ).all():
                    pending[(str(cust).strip(), str(dtype).strip(), str(ref).strip())] += Decimal(
                        str(amt or 0)
                    )
            self._step("invoices_checked")
        chosen: dict[tuple[str, str, str], sa.Row[Any] | None] = {}

        def find(doc_type: str, ref: str, cust_id: str) -> sa.Row[Any] | None:
            key = (doc_type, ref, cust_id)
            if key not in chosen:
                chosen[key] = self._find_doc(docs, doc_type, ref, cust_id)
            return chosen[key]

        for pay in pays:
            ref_nbr = str(pay.transaction_id)
            if len(ref_nbr) > 10:
                raise SLValueError("ARDoc", "RefNbr", ref_nbr, "PayTrace transaction id longer than char(10)")
            if pay.amount <= 0:
                raise WriterError(f"payment {pay.ledger_key}: amount {pay.amount} must be positive")
            amount = money(pay.amount, dec)
            lines: list[dict[str, object]] = []
            applied_total = Decimal(0)
            reviews: list[_Review] = []
            if pay.review_reason:
                reviews.append(
                    _Review(
                        pay.transaction_id,
                        pay.ledger_key,
                        "plan_review",
                        pay.review_reason,
                        {"bat_nbr": bat_nbr, "ref_nbr": ref_nbr},
                    )
                )
            for appl in pay.applications:
                problem = self._check_application(
                    pay, appl.ref_nbr, appl.doc_type, appl.amount, applied_total, docs, pending, find
                )
                part = self._partial_application(pay, appl.ref_nbr, appl.doc_type, appl.amount, pending, find)
                if problem and part is not None and problem[0] == "appl_short_balance":
                    problem, appl_amount = part
                else:
                    appl_amount = appl.amount
                if problem:
                    code, reason = problem
                    reviews.append(
                        _Review(
                            pay.transaction_id,
                            pay.ledger_key,
                            code,
                            reason,
                            {
                                "bat_nbr": bat_nbr,
                                "ref_nbr": ref_nbr,
                                "invoice": appl.ref_nbr,
                                "doc_type": appl.doc_type,
                                "amount": str(appl.amount),
                            },
                        )
                    )
                    if appl_amount == appl.amount:
                        continue  # nothing of it can be applied: the payment stays unapplied (on account)
                inv = find(appl.doc_type, appl.ref_nbr, pay.cust_id)
                assert inv is not None
                pending[(pay.cust_id, appl.doc_type, appl.ref_nbr)] += appl_amount
                applied_total += appl_amount
                applied = money(appl_amount, dec)
                lines.append(
                    self._application_line(
                        cust_id=pay.cust_id,
                        ref_nbr=ref_nbr,
                        bat_nbr=bat_nbr,
                        cpny=batch.cpny_id,
                        line=len(lines),
                        doc=inv,
                        doc_type=appl.doc_type,
                        doc_ref=appl.ref_nbr,
                        amount=applied,
                        day=pay.doc_date,
                        per_post=per_post,
                        desc=pay.description,
                        ext_ref=pay.ext_ref_nbr,
                        setup=setup,
                        now=now,
                    )
                )
            if applied_total > pay.amount:
                raise WriterError(
                    f"payment {pay.ledger_key}: applications {applied_total} exceed amount {pay.amount}"
                )
            work.ardoc.append(
                self._ardoc(
                    cust_id=pay.cust_id,
                    doc_type="PA",
                    ref_nbr=ref_nbr,
                    bat_nbr=bat_nbr,
                    appl_bat_nbr=bat_nbr,
                    cpny=batch.cpny_id,
                    day=pay.doc_date,
                    amount=amount,
                    applied=money(applied_total, dec),
                    bank=pay.cash_account,
                    per_post=per_post,
                    desc=pay.description,
                    ext_ref=pay.ext_ref_nbr,
                    line_cntr=len(lines),
                    setup=setup,
                    now=now,
                )
            )
            work.artran.extend(lines)
            rounded = Decimal(str(amount))
            work.total += rounded
            work.deposit += rounded
            if work.bank is None:
                work.bank = pay.cash_account
            elif work.bank != pay.cash_account:
                work.mixed_bank = True
            note = "; ".join(r.reason for r in reviews) or None
            work.ledger.append(
                self._ledger_row(
                    pay,
                    kind="payment",
                    cpny=batch.cpny_id,
                    module="AR",
                    bat_nbr=bat_nbr,
                    doc_type="PA",
                    ref_nbr=ref_nbr,
                    cust_id=pay.cust_id,
                    amount=pay.amount,
                    setup=setup,
                    per_post=per_post,
                    note=note[:255] if note else None,
                )
            )
            work.reviews.extend(reviews)
            result.posted += 1
            result.review_items += len(reviews)
            result.add(
                ItemOutcome(pay.ledger_key, "review" if reviews else "posted", "PA", ref_nbr, note or "")
            )

    @staticmethod
    def _find_doc(
        docs: dict[tuple[str, str], list[sa.Row[Any]]], doc_type: str, ref: str, cust_id: str
    ) -> sa.Row[Any] | None:
        rows = [r for r in docs.get((doc_type, ref), []) if str(r.CustId).strip() == cust_id]
        released = [r for r in rows if int(r.Rlsed) == 1]
        chosen = released or rows
        return chosen[0] if chosen else None

    def _check_application(
        self,
        pay: PlannedPayment,
        ref: str,
        doc_type: str,
        amount: Decimal,
        applied_so_far: Decimal,
        docs: dict[tuple[str, str], list[sa.Row[Any]]],
        pending: dict[tuple[str, str, str], Decimal],
        find: Callable[[str, str, str], sa.Row[Any] | None],
    ) -> tuple[str, str] | None:
        """Why this application cannot be written now (reason code, text), or None when it can."""
        if amount <= 0:
            return "appl_bad_amount", f"application of {amount} to {doc_type} {ref} is not positive"
        if applied_so_far + amount > pay.amount:
            return "appl_exceeds_payment", (
                f"applications to {doc_type} {ref} would exceed the payment amount "
                f"{pay.amount}; posted unapplied"
            )
        candidates = docs.get((doc_type, ref), [])
        if not candidates:
            return "appl_invoice_missing", f"{doc_type} {ref} does not exist in SL; payment posted unapplied"
        doc = find(doc_type, ref, pay.cust_id)
        if doc is None:
            owners = sorted({str(r.CustId).strip() for r in candidates})
            return "appl_wrong_customer", (
                f"{doc_type} {ref} belongs to customer {', '.join(owners)}, not "
                f"{pay.cust_id}; payment posted unapplied"
            )
        if int(doc.Rlsed) != 1:
            return (
                "appl_invoice_unreleased",
                f"{doc_type} {ref} is not released in SL yet; payment posted unapplied",
            )
        balance = Decimal(str(doc.CuryDocBal))
        if int(doc.OpenDoc) != 1 or balance <= 0:
            return (
                "appl_invoice_closed",
                f"{doc_type} {ref} is already paid (closed); payment posted unapplied",
            )
        already = pending[(pay.cust_id, doc_type, ref)]
        if already + amount > balance:
            return "appl_short_balance", (
                f"{doc_type} {ref} open balance {balance:.2f} (minus {already:.2f} "
                f"awaiting release) is less than {amount}; payment posted unapplied"
            )
        return None

    @staticmethod
    def _partial_application(
        pay: PlannedPayment,
        ref: str,
        doc_type: str,
        amount: Decimal,
        pending: dict[tuple[str, str, str], Decimal],
        find: Callable[[str, str, str], sa.Row[Any] | None],
    ) -> tuple[tuple[str, str], Decimal] | None:
        """A payment larger than the invoice's open balance is split (docs/accounting.md §2).

        Applied: min(amount, open balance − applications waiting in unreleased batches); the rest stays
        unapplied on the customer's account. The same split whatever SL released in between: a released
        application lowered ``DocBal`` by exactly what an unreleased one counts in ``pending``. None when
        nothing of the invoice is left to apply (the whole payment stays unapplied).
        """
        doc = find(doc_type, ref, pay.cust_id)
        if doc is None or int(doc.Rlsed) != 1 or int(doc.OpenDoc) != 1:
            return None
        balance = Decimal(str(doc.CuryDocBal)).quantize(CENT)
        already = pending[(pay.cust_id, doc_type, ref)]
        available = balance - already
        if available <= 0 or available >= amount:
            return None
        return (
            "appl_partial",
            f"{doc_type} {ref} open balance {balance:.2f} (minus {already:.2f} awaiting release) covers "
            f"{available:.2f} of {amount:.2f}: applied {available:.2f}, {amount - available:.2f} posted "
            "unapplied (on account); apply or refund it in SL",
        ), available
