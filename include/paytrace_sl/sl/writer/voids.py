"""Voids (docs/accounting.md §4): a voided sale's ``PA`` (or a voided refund's ``CM``/``DM``) leaves a batch
SL has not released and the batch totals are fixed; after release a review item asks for an SL reversal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.plan import Account, PlannedBatch, PlannedPayment, PlannedRefund, PlannedVoid
from paytrace_sl.sl import numbering
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.own_tables import utcnow
from paytrace_sl.sl.preflight import run_preflight
from paytrace_sl.sl.rows import money
from paytrace_sl.sl.setup import SLSetup
from paytrace_sl.sl.writer.bulk import BulkInserts
from paytrace_sl.sl.writer.model import BatchResult, ItemOutcome, PreflightFailed, _Review, _Work
from paytrace_sl.sl.writer.row_builders import RowBuilders


class VoidRemovals(RowBuilders, BulkInserts):
    """Voids: remove the voided document from its unreleased batch, or raise a review item once released."""

    def _write_voids(self, conn: sa.Connection, batch: PlannedBatch, result: BatchResult) -> None:
        """Remove voided sales' payments from batches SL has not released; otherwise raise a review item."""
        setup = self._setup_for(conn, batch.cpny_id)
        dec = setup.cury_dec_pl
        now = self._now()
        work = _Work()
        touched: set[str] = set()
        memo_batches: set[str] = set()  # 08010 batches (a voided refund's memos): no deposit amount
        if conn.dialect.name == "sqlite":  # take SQLite's write lock first (BEGIN IMMEDIATE semantics)
            conn.execute(numbering.sqlite_write_lock_stmt("AR"))
        voids = [i for i in batch.items if isinstance(i, PlannedVoid)]
        existing = self._existing(conn, [v.ledger_key for v in voids])
        for void in voids:
            if void.ledger_key in existing:
                result.already_posted += 1
                result.add(ItemOutcome(void.ledger_key, "already_posted"))
                continue
            pay_key = PlannedPayment(
                void.transaction_id, "", Decimal(0), void.doc_date, Account("", "")
            ).ledger_key
            pay = conn.execute(q.ledger_row_stmt(pay_key)).first()
            if pay is None or str(pay.kind).strip() == "refund":  # the voided transaction was a refund
                refund_key = PlannedRefund(
                    void.transaction_id, "", Decimal(0), void.doc_date, Account("", ""), Account("", "")
                ).ledger_key
                refund_row = pay if pay is not None else conn.execute(q.ledger_row_stmt(refund_key)).first()
                if refund_row is not None and refund_row.status == "posted":
                    self._void_refund(conn, void, refund_key, refund_row, batch, setup, work, result, touched)
                    memo_batches.add(str(refund_row.bat_nbr).strip())
                    continue
            if pay is None or pay.status != "posted":
                why = (
                    "the sale was never posted to SL"
                    if pay is None
                    else f"its payment is already {pay.status}"
                )
                work.ledger.append(self._void_ledger(void, batch, setup, "", "", "", "", note=why))
                result.add(ItemOutcome(void.ledger_key, "nothing_to_do", message=why))
                continue
            bat_nbr, cust, ref = str(pay.bat_nbr).strip(), str(pay.cust_id).strip(), str(pay.ref_nbr).strip()
            header = conn.execute(q.lock_batch_stmt("AR", bat_nbr)).first()
            self._step("void_locked")
            doc = conn.execute(q.payment_doc_stmt(cust, ref, bat_nbr)).first()
            if not _unreleased(header, [doc]):
                status = "missing" if header is None else f"status {str(header.Status).strip()}"
                reason = (
                    f"void after release: PayTrace voided sale {void.transaction_id}, but its payment PA "
                    f"{ref} (customer {cust}) in AR batch {bat_nbr} ({status}) is already released or "
                    "out of our hands; enter an NS/RP reversal in SL (08.240)"
                )
                work.reviews.append(
                    _Review(
                        void.transaction_id,
                        void.ledger_key,
                        "void_after_release",
                        reason,
                        {"bat_nbr": bat_nbr, "ref_nbr": ref, "cust_id": cust},
                    )
                )
                work.ledger.append(
                    self._void_ledger(
                        void,
                        batch,
                        setup,
                        bat_nbr,
                        ref,
                        cust,
                        "PA",
                        note="void after release: review item raised",
                    )
                )
                result.review_items += 1
                result.add(ItemOutcome(void.ledger_key, "review", "PA", ref, reason))
                continue
            conn.execute(q.delete_payment_lines_stmt(cust, ref, bat_nbr))
            conn.execute(q.delete_payment_doc_stmt(cust, ref, bat_nbr))
            self._step("void_deleted")
            conn.execute(
                q.ledger_mark_removed_stmt(pay_key),
                {"updated_at": utcnow(), "note": f"voided in PayTrace; removed by {void.ledger_key}"},
            )
            work.ledger.append(
                self._void_ledger(
                    void,
                    batch,
                    setup,
                    bat_nbr,
                    ref,
                    cust,
                    "PA",
                    note=f"removed PA {ref} from AR batch {bat_nbr}",
                )
            )
            touched.add(bat_nbr)
            result.removed += 1
            result.add(ItemOutcome(void.ledger_key, "removed", "PA", ref, f"removed from AR batch {bat_nbr}"))
        for bat_nbr in sorted(touched):
            count, cury_sum, base_sum = conn.execute(q.batch_doc_sums_stmt(bat_nbr)).one()
            cury_total, base_total = money(Decimal(str(cury_sum)), dec), money(Decimal(str(base_sum)), dec)
            header = conn.execute(q.lock_batch_stmt("AR", bat_nbr)).one()
            # An emptied batch is voided (Status V): SL treats V as deleted, so users see no empty batch.
            status = str(header.Status).strip() if count else "V"
            conn.execute(
                q.update_batch_totals_stmt("AR", bat_nbr),
                {
                    "CrTot": base_total,
                    "CtrlTot": base_total,
                    "CuryCrTot": cury_total,
                    "CuryCtrlTot": cury_total,
                    "DepositAmt": 0.0 if bat_nbr in memo_batches else base_total,
                    "CuryDepositAmt": 0.0 if bat_nbr in memo_batches else cury_total,
                    "Status": status,
                    "LUpd_DateTime": now,
                    "LUpd_Prog": self.program,
                    "LUpd_User": self.user,
                },
            )
            self._step("void_totals_fixed")
        result.module = "AR" if touched else ""
        result.touched = sorted(touched)
        result.bat_nbr = result.touched[0] if len(result.touched) == 1 else ""
        self._insert_all(conn, work)
        if self.preflight:
            for bat_nbr in sorted(touched):
                findings = run_preflight(conn, module="AR", bat_nbr=bat_nbr)
                if findings:
                    raise PreflightFailed("AR", findings)

    def _void_refund(
        self,
        conn: sa.Connection,
        void: PlannedVoid,
        refund_key: str,
        row: sa.Row[Any],
        batch: PlannedBatch,
        setup: SLSetup,
        work: _Work,
        result: BatchResult,
        touched: set[str],
    ) -> None:
        """A refund voided in PayTrace (issue 11 §5): its CM/DM leave an unreleased batch, as a voided
        sale's payment does; once released, a review item (and reconciliation's unexplained difference)
        stays until someone reverses the memos in SL."""
        bat_nbr, cust = str(row.bat_nbr).strip(), str(row.cust_id).strip()
        message = str(row.note or "").split(";", 1)[0]
        memos = list(dict.fromkeys(re.findall(r"\b(CM|DM) (\S+)", message))) or [
            (str(row.doc_type).strip(), str(row.ref_nbr).strip())
        ]
        header = conn.execute(q.lock_batch_stmt("AR", bat_nbr)).first()
        self._step("void_locked")
        docs = [conn.execute(q.payment_doc_stmt(cust, ref, bat_nbr, dtype)).first() for dtype, ref in memos]
        names = " + ".join(f"{dtype} {ref}" for dtype, ref in memos)
        if not _unreleased(header, docs):
            status = "missing" if header is None else f"status {str(header.Status).strip()}"
            reason = (
                f"refund voided after release: PayTrace voided refund {void.transaction_id}, but its {names} "
                f"(customer {cust}) in AR batch {bat_nbr} ({status}) are already released; the money never "
                "left clearing: reverse the memos in SL (an opposite CM/DM pair) and resolve this item"
            )
            work.reviews.append(
                _Review(
                    void.transaction_id,
                    void.ledger_key,
                    "refund_void_after_release",
                    reason,
                    {"bat_nbr": bat_nbr, "documents": names, "cust_id": cust},
                )
            )
            work.ledger.append(
                self._void_ledger(
                    void, batch, setup, bat_nbr, memos[0][1], cust, memos[0][0], note=reason[:255]
                )
            )
            result.review_items += 1
            result.add(ItemOutcome(void.ledger_key, "review", memos[0][0], memos[0][1], reason))
            return
        for dtype, ref in memos:
            conn.execute(q.delete_payment_lines_stmt(cust, ref, bat_nbr, dtype))
            conn.execute(q.delete_payment_doc_stmt(cust, ref, bat_nbr, dtype))
        self._step("void_deleted")
        conn.execute(
            q.ledger_mark_removed_stmt(refund_key),
            {"updated_at": utcnow(), "note": f"voided in PayTrace; removed by {void.ledger_key}"},
        )
        done = f"removed {names} from AR batch {bat_nbr}"
        work.ledger.append(
            self._void_ledger(void, batch, setup, bat_nbr, memos[0][1], cust, memos[0][0], note=done)
        )
        touched.add(bat_nbr)
        result.removed += 1
        result.add(ItemOutcome(void.ledger_key, "removed", memos[0][0], memos[0][1], done))

    def _void_ledger(
        self,
        void: PlannedVoid,
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        ref: str,
        cust: str,
        doc_type: str,
        note: str,
    ) -> dict[str, object]:
        return self._ledger_row(
            void,
            kind="void",
            cpny=batch.cpny_id,
            module="AR",
            bat_nbr=bat_nbr,
            doc_type=doc_type,
            ref_nbr=ref,
            cust_id=cust,
            amount=Decimal(0),
            setup=setup,
            per_post="",
            note=note,
        )


def _unreleased(header: sa.Row[Any] | None, docs: Sequence[sa.Row[Any] | None]) -> bool:
    """True when the batch (``q.lock_batch_stmt`` row) and every document in it are still unreleased in SL:
    only then may a void remove the documents (SL's release has not posted them)."""
    return (
        header is not None
        and int(header.Rlsed) == 0
        and str(header.Status).strip() in q.UNRELEASED_STATUSES
        and all(d is not None and int(d.Rlsed) == 0 for d in docs)
    )
