"""Refunds (docs/accounting.md §3): an AR 08.010 batch of debit memos, plus a credit memo per refund
that reverses an invoice the sale paid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from paytrace_sl.plan import Account, PlannedBatch, PlannedRefund
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.rows import money, money_read
from paytrace_sl.sl.setup import SLSetup
from paytrace_sl.sl.writer.model import BatchResult, ItemOutcome, WriterError, _Review, _Work
from paytrace_sl.sl.writer.row_builders import RowBuilders


class RefundDocuments(RowBuilders):
    """Refunds: a ``CM`` + ``DM`` pair when an invoice is reversed, else a ``DM`` and a review item."""

    def _build_refunds(
        self,
        conn: sa.Connection,
        refunds: Sequence[PlannedRefund],
        refs: Sequence[str],
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
        result: BatchResult,
    ) -> None:
        """Per refund (docs/accounting.md §3): reversing an invoice the sale paid, a credit memo (Dr
        refunds, Cr A/R) + a debit memo (Dr A/R, Cr clearing), A/R nets 0; returning money paid on
        account, the debit memo alone, and a review item names the customer's unapplied payment to apply
        to it in 08.030 (SL's application path needs both documents released; we do not apply it)."""
        dec = setup.cury_dec_pl
        customers = {
            str(r.CustId).strip(): r for r in conn.execute(q.customers_stmt({r.cust_id for r in refunds}))
        }
        pos = 0
        for refund in refunds:
            if refund.amount <= 0:
                raise WriterError(f"refund {refund.ledger_key}: amount {refund.amount} must be positive")
            ar = refund.ar_account or self._customer_ar(customers.get(refund.cust_id), setup)
            amount = money(refund.amount, dec)
            desc = refund.description or f"PayTrace refund {refund.transaction_id}"
            ext = refund.ext_ref_nbr or str(refund.transaction_id)
            documents: tuple[tuple[str, str, str, Account], ...]
            if refund.reverses_invoice:
                cm_ref, dm_ref = refs[pos], refs[pos + 1]
                documents = (
                    ("CM", cm_ref, "D", refund.refund_account),
                    ("DM", dm_ref, "C", refund.clearing_account),
                )
                pos += 2
            else:
                cm_ref, dm_ref = "", refs[pos]
                documents = (("DM", dm_ref, "C", refund.clearing_account),)
                pos += 1
            for doc_type, ref, drcr, detail in documents:
                self._memo(
                    work,
                    cust_id=refund.cust_id,
                    doc_type=doc_type,
                    ref_nbr=ref,
                    bat_nbr=bat_nbr,
                    cpny=batch.cpny_id,
                    day=refund.doc_date,
                    amount=amount,
                    ar=ar,
                    drcr=drcr,
                    detail=detail,
                    per_post=per_post,
                    desc=desc,
                    ext_ref=ext,
                    setup=setup,
                    now=now,
                )
            message = f"CM {cm_ref} + DM {dm_ref}" if cm_ref else f"DM {dm_ref}"
            reviews: list[_Review] = []
            if refund.review_reason:
                reviews.append(
                    _Review(
                        refund.transaction_id,
                        refund.ledger_key,
                        "plan_review",
                        refund.review_reason,
                        {"bat_nbr": bat_nbr, "ref_nbr": dm_ref},
                    )
                )
            if not cm_ref:
                reviews.append(self._refund_application_review(conn, refund, dm_ref, bat_nbr))
            note = "; ".join([message, *(r.reason for r in reviews)])
            work.ledger.append(
                self._ledger_row(
                    refund,
                    kind="refund",
                    cpny=batch.cpny_id,
                    module="AR",
                    bat_nbr=bat_nbr,
                    doc_type="CM" if cm_ref else "DM",
                    ref_nbr=cm_ref or dm_ref,
                    cust_id=refund.cust_id,
                    amount=refund.amount,
                    setup=setup,
                    per_post=per_post,
                    note=note[:255],
                )
            )
            work.reviews.extend(reviews)
            result.posted += 1
            result.review_items += len(reviews)
            result.add(
                ItemOutcome(
                    refund.ledger_key,
                    "review" if reviews else "posted",
                    "CM" if cm_ref else "DM",
                    cm_ref or dm_ref,
                    message,
                )
            )

    @staticmethod
    def _refund_application_review(
        conn: sa.Connection, refund: PlannedRefund, dm_ref: str, bat_nbr: str
    ) -> _Review:
        """The review item of a refund of money on account: which payment should pay its DM.

        PayTrace does not link a refund to its sale, so the candidate is the customer's latest payment
        with enough unapplied money (and the same PayTrace invoice id, when the refund carries one).
        """
        pay = conn.execute(q.refund_candidate_payments_stmt(refund.cust_id, refund.ext_ref_nbr or "")).all()
        candidate = ""
        for row in pay:
            unapplied = (
                money_read(row.DocBal)
                if int(row.Rlsed) == 1
                else money_read(row.OrigDocAmt) - money_read(row.ApplAmt)
            )
            if unapplied >= refund.amount:
                candidate = str(row.RefNbr).strip()
                break
        what = f"PA {candidate}" if candidate else "the customer's unapplied payment"
        reason = (
            f"refund of money on account: DM {dm_ref} (AR batch {bat_nbr}) credits clearing for "
            f"{refund.amount}; apply {what} of customer {refund.cust_id} to DM {dm_ref} in 08.030 "
            "once both are released"
        )
        return _Review(
            refund.transaction_id,
            refund.ledger_key,
            "refund_apply_credit",
            reason,
            {"bat_nbr": bat_nbr, "dm": dm_ref, "payment": candidate, "cust_id": refund.cust_id},
        )
