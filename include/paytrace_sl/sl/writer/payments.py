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
from paytrace_sl.sl import catalog
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.own_tables import utcnow
from paytrace_sl.sl.rows import ColumnRows, SLValueError, fiscal_year, money, money_decimal
from paytrace_sl.sl.setup import SLSetup
from paytrace_sl.sl.writer.model import (
    CENT,
    FIRST_LINE_NBR,
    BatchResult,
    ItemOutcome,
    WriterError,
    _Review,
    _Work,
    fit_text,
    payment_content_hash,
)
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
            # The load step's cache (sl/pending.py): refreshed from the Batch table after the invoices
            # are locked, instead of a pass over ARTran per batch; else read per batch as before.
            cache = self._pending if self._pending is not None and self._pending.covers(refs) else None
            for start in range(0, len(ordered), chunk_size):
                chunk = ordered[start : start + chunk_size]
                # PostgreSQL (one chunk): by the applications' keys, planned by ARDoc0 with or without
                # statistics; elsewhere every document of each number (SQL Server: UPDLOCK, ROWLOCK).
                found = (
                    _lock_applied_docs_pg(conn, pays)
                    if pg_array
                    else conn.execute(q.adjusted_docs_stmt(chunk, pg_array=pg_array)).all()
                )
                for row in found:
                    docs[(str(row.DocType).strip(), str(row.RefNbr).strip())].append(row)
                if cache is not None:
                    continue
                for cust, dtype, ref, amt in conn.execute(
                    q.pending_applications_stmt(chunk, pg_array=pg_array)
                ).all():
                    pending[(str(cust).strip(), str(dtype).strip(), str(ref).strip())] += Decimal(
                        str(amt or 0)
                    )
            if cache is not None:
                cache.refresh(conn)
                wanted = {(p.cust_id, a.doc_type, a.ref_nbr) for p in pays for a in p.applications}
                pending.update(cache.totals(wanted))
            self._step("invoices_checked")
        chosen: dict[tuple[str, str, str], sa.Row[Any] | None] = {}

        def find(doc_type: str, ref: str, cust_id: str) -> sa.Row[Any] | None:
            key = (doc_type, ref, cust_id)
            if key not in chosen:
                chosen[key] = self._find_doc(docs, doc_type, ref, cust_id)
            return chosen[key]

        # Column-wise: one list per varying column, the batch's constants once; no dict per payment.
        count = len(pays)
        ref_nbrs = [str(p.transaction_id) for p in pays]
        plan_amounts = [p.amount for p in pays]
        if count and (max(map(len, ref_nbrs)) > 10 or min(plan_amounts) <= 0):
            for pay, ref_nbr in zip(pays, ref_nbrs, strict=True):  # the first bad payment, as one by one
                if len(ref_nbr) > 10:
                    raise SLValueError(
                        "ARDoc", "RefNbr", ref_nbr, "PayTrace transaction id longer than char(10)"
                    )
                if pay.amount <= 0:
                    raise WriterError(f"payment {pay.ledger_key}: amount {pay.amount} must be positive")
        rounded_amounts = [money_decimal(a, dec) for a in plan_amounts]
        amounts = [float(a) for a in rounded_amounts]  # SL's float columns
        applied = [0.0] * count
        line_cntr = [0] * count
        notes: list[str | None] = [None] * count
        keys = [p.ledger_key for p in pays]
        desc_width = catalog.char_length(catalog.ARDoc.c.DocDesc)
        descriptions = [p.description for p in pays]
        if desc_width is not None and max(map(len, descriptions), default=0) > desc_width:
            descriptions = [fit_text(catalog.ARDoc, "DocDesc", d) for d in descriptions]
        lines = _ApplicationLines()
        reviewed: set[int] = set()
        for index, pay in enumerate(pays):
            if not pay.applications and not pay.review_reason:
                continue  # the bulk of a day: unapplied, nothing to check
            reviews, applied_total, n_lines = self._apply(
                pay, ref_nbrs[index], batch, setup, bat_nbr, per_post, dec, docs, pending, find, lines
            )
            applied[index] = money(applied_total, dec)
            line_cntr[index] = n_lines
            if reviews:
                note = "; ".join(r.reason for r in reviews)
                notes[index] = note[:255]
                work.reviews.extend(reviews)
                result.review_items += len(reviews)
                reviewed.add(index)
                result.add(ItemOutcome(keys[index], "review", "PA", ref_nbrs[index], note))
        days = [p.doc_date for p in pays]
        banks = [p.cash_account for p in pays]
        audit = self._audit(now)
        cury = {"CuryId": setup.base_cury_id, "CuryMultDiv": "M", "CuryRate": 1.0}
        work.columns["ardoc"] = ColumnRows(
            count,
            {
                "CustId": [p.cust_id for p in pays],
                "RefNbr": ref_nbrs,
                "DocDate": days,
                "DueDate": days,
                "DiscDate": days,
                "DocDesc": descriptions,
                "BankAcct": [b.acct for b in banks],
                "BankSub": [b.sub for b in banks],
                "CuryOrigDocAmt": amounts,
                "OrigDocAmt": amounts,
                "CuryDocBal": amounts,
                "DocBal": amounts,
                "CuryApplAmt": applied,
                "ApplAmt": applied,
                "CustOrdNbr": [p.ext_ref_nbr for p in pays],
                "LineCntr": line_cntr,
                "CuryEffDate": days,
            },
            {
                "DocType": "PA",
                "BatNbr": bat_nbr,
                "BatSeq": 0,
                "ApplBatNbr": bat_nbr,
                "CpnyID": batch.cpny_id,
                "DocClass": "N",
                "OpenDoc": 1,
                "Rlsed": 0,
                "PerEnt": per_post,
                "PerPost": per_post,
                **cury,
                **audit,
            },
        )
        if lines.count:
            work.columns["artran"] = lines.rows(
                {
                    "TranType": "PA",
                    "BatNbr": bat_nbr,
                    "CpnyID": batch.cpny_id,
                    "DrCr": "U",
                    "PerEnt": per_post,
                    "PerPost": per_post,
                    "FiscYr": fiscal_year(per_post),
                    "JrnlType": "AR",
                    "Rlsed": 0,
                    "TranClass": " ",
                    "Qty": 0.0,
                    **cury,
                    **audit,
                    "CuryUnitPrice": 0.0,
                    "CnvFact": 0.0,
                }
            )
        rounded = sum(rounded_amounts, Decimal(0))
        work.total += rounded
        work.deposit += rounded
        if banks:
            if work.bank is None:
                work.bank = banks[0]
            first = work.bank
            if any(b is not first and b != first for b in banks):
                work.mixed_bank = True
        txn_ids = [p.transaction_id for p in pays]
        stamp = utcnow()  # one posting time for the batch's ledger rows (one transaction)
        work.columns["ledger"] = ColumnRows(
            count,
            {
                "ledger_key": keys,
                "transaction_id": txn_ids,
                "ref_nbr": ref_nbrs,
                "cust_id": [p.cust_id for p in pays],
                "amount": [a.quantize(CENT) for a in plan_amounts],
                "paytrace_state": [p.paytrace_state for p in pays],
                "content_hash": [payment_content_hash(p) for p in pays],
                "note": notes,
                "posted_txn_id": txn_ids,  # payments are the one posting of their id (unique)
                "paytrace_type": [p.paytrace_type or None for p in pays],
                "customer_digest": [p.customer_digest or None for p in pays],
            },
            {
                "kind": "payment",
                "cpny_id": batch.cpny_id,
                "module": "AR",
                "bat_nbr": bat_nbr,
                "doc_type": "PA",
                "cury_id": setup.base_cury_id,
                "per_post": per_post,
                "status": "posted",
                "run_id": self.run_id,
                "posted_at": stamp,
                "updated_at": stamp,
                "settle_batch_nbr": None,
            },
        )
        result.posted += count
        add = result.add
        for index, (key, ref_nbr) in enumerate(zip(keys, ref_nbrs, strict=True)):
            if index not in reviewed:
                add(ItemOutcome(key, "posted", "PA", ref_nbr, ""))
        if reviewed:  # keep the outcomes in plan order (review outcomes were added first)
            result.outcomes.update({k: result.outcomes.pop(k) for k in keys if k in result.outcomes})

    def _apply(
        self,
        pay: PlannedPayment,
        ref_nbr: str,
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        dec: int,
        docs: dict[tuple[str, str], list[sa.Row[Any]]],
        pending: dict[tuple[str, str, str], Decimal],
        find: Callable[[str, str, str], sa.Row[Any] | None],
        lines: _ApplicationLines,
    ) -> tuple[list[_Review], Decimal, int]:
        """One payment's application lines (checked against SL's invoices and what is pending on them)
        and review items: ``(reviews, applied total, lines written)``."""
        reviews: list[_Review] = []
        applied_total = Decimal(0)
        written = 0
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
                pay, appl.ref_nbr, appl.doc_type, appl.amount, applied_total, dec, docs, pending, find
            )
            part = self._partial_application(
                pay, appl.ref_nbr, appl.doc_type, appl.amount, dec, pending, find
            )
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
            lines.add(pay, ref_nbr, written, inv, appl.doc_type, appl.ref_nbr, money(appl_amount, dec))
            written += 1
        if applied_total > pay.amount:
            raise WriterError(
                f"payment {pay.ledger_key}: applications {applied_total} exceed amount {pay.amount}"
            )
        return reviews, applied_total, written

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
        dec: int,
        docs: dict[tuple[str, str], list[sa.Row[Any]]],
        pending: dict[tuple[str, str, str], Decimal],
        find: Callable[[str, str, str], sa.Row[Any] | None],
    ) -> tuple[str, str] | None:
        """Why this application cannot be written now (reason code, text), or None when it can.

        SL's balance (a float) and the sum awaiting release are compared rounded half-up to the currency's
        decimals (:func:`money_decimal`), the rule preflight checks the written batch with: a balance stored
        as 299.96499… is 299.97, and the message shows the amounts compared."""
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
        balance = money_decimal(doc.CuryDocBal, dec)
        if int(doc.OpenDoc) != 1 or balance <= 0:
            return (
                "appl_invoice_closed",
                f"{doc_type} {ref} is already paid (closed); payment posted unapplied",
            )
        already = money_decimal(pending[(pay.cust_id, doc_type, ref)], dec)
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
        dec: int,
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
        balance = money_decimal(doc.CuryDocBal, dec)  # the rounding _check_application compares with
        already = money_decimal(pending[(pay.cust_id, doc_type, ref)], dec)
        available = balance - already
        if available <= 0 or available >= amount:
            return None
        return (
            "appl_partial",
            f"{doc_type} {ref} open balance {balance:.2f} (minus {already:.2f} awaiting release) covers "
            f"{available:.2f} of {amount:.2f}: applied {available:.2f}, {amount - available:.2f} posted "
            "unapplied (on account); apply or refund it in SL",
        ), available


def _lock_applied_docs_pg(conn: sa.Connection, pays: Sequence[PlannedPayment]) -> list[sa.Row[Any]]:
    """PostgreSQL: the documents the batch's applications name, read and locked by their key (``ARDoc0``),
    plus, for an application whose customer has no such document, every document of its ``RefNbr``.

    The decisions of ``_check_application`` and ``_find_doc`` see what they saw when every document of
    every applied ``RefNbr`` was read (one ``RefNbr = ANY(:refs)``, still the path of the other dialects):
    the customer's own documents when it has one (the only rows they use then), and all of the number's
    documents otherwise (missing vs another customer's, and whose). What is no longer read nor locked is
    another customer's or another type's document sharing the number of an invoice the payment's own
    customer has; those never entered a decision. A key counts as found only if a row strips to it, as
    ``_find_doc`` compares; any other key (blanks around a value, over-long) takes the ``RefNbr`` path.
    """
    keys = {(p.cust_id, a.doc_type, a.ref_nbr) for p in pays for a in p.applications}
    rows = list(conn.execute(q.adjusted_docs_keyed_stmt(keys)).all())
    found = {(str(r.CustId).strip(), str(r.DocType).strip(), str(r.RefNbr).strip()) for r in rows}
    by_ref = {ref for cust, doc_type, ref in keys if (cust, doc_type, ref) not in found}
    if by_ref:
        seen = {tuple(r) for r in rows}
        rows += [
            r for r in conn.execute(q.adjusted_docs_stmt(by_ref, pg_array=True)).all() if tuple(r) not in seen
        ]
    return rows


class _ApplicationLines:
    """The batch's ``PA`` application lines (``DrCr = 'U'``), one list per varying ARTran column: the
    values :meth:`RowBuilders._application_line` gives, without a dict per line."""

    _NAMES = (
        "CustId",
        "RefNbr",
        "LineNbr",
        "LineId",
        "LineRef",
        "Acct",
        "Sub",
        "CuryTranAmt",
        "TranAmt",
        "TranDate",
        "TranDesc",
        "ExtRefNbr",
        "SiteId",
        "CostType",
        "UnitPrice",
    )

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in self._NAMES}
        self._width = catalog.char_length(catalog.ARTran.c.TranDesc)

    def add(
        self,
        pay: PlannedPayment,
        ref_nbr: str,
        line: int,
        doc: sa.Row[Any],
        doc_type: str,
        doc_ref: str,
        amount: float,
    ) -> None:
        desc = pay.description
        if self._width is not None and len(desc) > self._width:
            desc = desc[: self._width]
        c = self.columns
        c["CustId"].append(pay.cust_id)
        c["RefNbr"].append(ref_nbr)
        c["LineNbr"].append(FIRST_LINE_NBR + line)
        c["LineId"].append(line + 1)
        c["LineRef"].append(f"{line + 1:05d}")
        c["Acct"].append(str(doc.BankAcct).strip())
        c["Sub"].append(str(doc.BankSub).strip())
        c["CuryTranAmt"].append(amount)
        c["TranAmt"].append(amount)
        c["TranDate"].append(pay.doc_date)
        c["TranDesc"].append(desc)
        c["ExtRefNbr"].append(pay.ext_ref_nbr)
        c["SiteId"].append(doc_ref)
        c["CostType"].append(doc_type)
        c["UnitPrice"].append(float(doc.CuryRate or 1.0))

    @property
    def count(self) -> int:
        return len(self.columns["CustId"])

    def rows(self, constant: dict[str, object]) -> ColumnRows:
        return ColumnRows(self.count, self.columns, constant)
