"""Chargebacks and disputes (docs/accounting.md §9): one case stage at a time, exactly once per
(case, disputed transaction, stage), in one database transaction.

* ``chargeback`` — the receivable reopened on the customer: an AR 08.010 batch with a debit memo (Dr A/R,
  Cr the account the processor debited), and the chargeback fee as a GL 01.010 entry (Dr fees, Cr bank);
* ``won`` (representment won) — the money back: an AR 08.030 batch with a payment into the debited account,
  applied to the chargeback's debit memo when SL has released it (else unapplied, with a review item);
* ``lost`` — nothing posted: the debit memo stays open, a review item asks for the write-off decision;
* ``retrieval`` — a request for documents, no money moves: the case is recorded.

Every stage writes its ``xPTLedger`` row(s) and its ``xPTChargeback`` row in the same transaction as its
SL rows, so a re-import of the same file (or a second file repeating a case) finds it already posted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from paytrace_sl.plan import Account, PlannedBatch, PostingKind
from paytrace_sl.sl import catalog, numbering
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.own_tables import utcnow, xPTChargeback
from paytrace_sl.sl.periods import posting_period
from paytrace_sl.sl.preflight import run_preflight
from paytrace_sl.sl.rows import money, money_read
from paytrace_sl.sl.setup import SLSetup
from paytrace_sl.sl.writer.bulk import BulkInserts
from paytrace_sl.sl.writer.model import (
    CENT,
    BatchResult,
    ItemOutcome,
    PreflightFailed,
    WriterError,
    _Review,
    _stamp_per_ent,
    _Work,
)
from paytrace_sl.sl.writer.row_builders import RowBuilders

STAGES = ("retrieval", "chargeback", "won", "lost")


@dataclass(frozen=True, slots=True)
class PlannedChargeback:
    """One stage of one chargeback case, resolved against the ledger (customer, company, accounts)."""

    case_number: str
    transaction_id: int  # the disputed PayTrace transaction (posted to SL as a payment)
    stage: str  # retrieval | chargeback | won | lost
    case_date: dt.date
    amount: Decimal
    fee: Decimal
    reason_code: str
    cpny_id: str
    cust_id: str
    debited_account: Account  # the account the processor debited (card clearing or bank)
    fee_account: Account | None
    bank_account: Account | None  # credited by the fee
    dm_ref_nbr: str = ""  # won/lost: the chargeback's debit memo
    status: str = "H"
    source_file: str = ""
    file_row: int = 0

    @property
    def ledger_key(self) -> str:
        return ledger_key(self.case_number, self.transaction_id, self.stage)

    @property
    def doc_date(self) -> dt.date:
        return self.case_date


def ledger_key(case_number: str, transaction_id: int, stage: str) -> str:
    """``chargeback:<case>:<transaction>:<stage>`` (≤ 100 characters: case numbers are ≤ 40)."""
    return f"chargeback:{case_number}:{transaction_id}:{stage}"


class ChargebackDocuments(RowBuilders, BulkInserts):
    """The documents of a chargeback case's stages; :meth:`write_chargeback` is the entry point."""

    def write_chargeback(self, case: PlannedChargeback) -> BatchResult:
        """Write one case stage in one transaction (exactly once: the ledger key is unique)."""
        if case.stage not in STAGES:
            raise WriterError(f"chargeback {case.ledger_key}: unknown stage {case.stage!r}")
        if case.amount <= 0:
            raise WriterError(f"chargeback {case.ledger_key}: amount {case.amount} must be positive")
        if case.status not in ("H", "B"):
            raise WriterError(f"chargeback {case.ledger_key}: batch status {case.status!r} must be H or B")
        result = BatchResult(kind="chargeback", cpny_id=case.cpny_id)
        try:
            with self.engine.connect() as conn, conn.begin():
                self._step("begin")
                self._write_case(conn, case, result)
                self._step("before_commit")
        except sa.exc.IntegrityError:
            # a concurrent import of the same case committed first: the ledger key says so
            with self.engine.connect() as conn, conn.begin():
                if case.ledger_key not in self._existing(conn, [case.ledger_key]):
                    raise
            result = BatchResult(kind="chargeback", cpny_id=case.cpny_id, already_posted=1, attempts=2)
            result.add(ItemOutcome(case.ledger_key, "already_posted"))
        return result

    # ---- one stage ---------------------------------------------------------------------------------

    def _write_case(self, conn: sa.Connection, case: PlannedChargeback, result: BatchResult) -> None:
        setup = self._setup_for(conn, case.cpny_id)
        ar_locked = None
        gl_locked = None
        if case.stage in ("chargeback", "won"):
            ar_locked = numbering.lock_setup(conn, "AR", "LastBatNbr", "LastRefNbr")
            if case.stage == "chargeback" and case.fee > 0 and case.fee_account is not None:
                gl_locked = numbering.lock_setup(conn, "GL", "LastBatNbr")  # always AR before GL
        self._step("locked")
        if self._existing(conn, [case.ledger_key]):
            result.already_posted = 1
            result.add(ItemOutcome(case.ledger_key, "already_posted"))
            return
        now = self._now()
        work = _Work()
        ar_bat = gl_bat = ref = doc_type = ""
        outcome = "recorded"
        per_post = per_ent = ""
        if ar_locked is not None:
            period = posting_period(setup.period_for(case.case_date), "AR", setup, self.late_items)
            if period.refused:  # nothing written, no ledger row: a later import decides again
                self._refuse(conn, [case], period, result)
                return
            per_post, per_ent = period.per_post, period.per_ent
            ar_bat = numbering.take_batch_number(conn, "AR", str(ar_locked.LastBatNbr))
            self._step("numbered")
            if case.stage == "chargeback":
                (ref,) = numbering.take_ref_numbers(conn, str(ar_locked.LastRefNbr), 1)
                doc_type = "DM"
                self._debit_memo(conn, case, setup, ar_bat, ref, per_post, now, work)
            else:
                ref = self._payment_ref(conn, case)
                doc_type = "PA"
                self._won_payment(conn, case, setup, ar_bat, ref, per_post, now, work)
            outcome = "review" if work.reviews else "posted"
        elif case.stage == "lost":
            doc_type, ref, outcome = "DM", case.dm_ref_nbr, "review"
            work.reviews.append(
                _Review(
                    case.transaction_id,
                    case.ledger_key,
                    "chargeback_lost",
                    f"chargeback case {case.case_number} (PayTrace transaction {case.transaction_id}) lost: "
                    f"DM {case.dm_ref_nbr} of customer {case.cust_id} for {case.amount} stays open; decide "
                    "the write-off (08.030 small-balance write-off or an adjustment) or collect from "
                    "the customer",
                    {"case_number": case.case_number, "dm": case.dm_ref_nbr, "cust_id": case.cust_id},
                )
            )
        work.ledger.append(
            self._case_ledger_row(case, "AR", ar_bat, doc_type, ref, case.amount, setup, per_post)
        )
        if gl_locked is not None:
            gl_period = posting_period(setup.period_for(case.case_date), "GL", setup, self.late_items)
            if not gl_period.refused:
                gl_bat = numbering.take_batch_number(conn, "GL", str(gl_locked.LastBatNbr))
                self._fee_entry(case, setup, gl_bat, gl_period.per_post, gl_period.per_ent, now, conn)
                work.ledger.append(
                    self._case_ledger_row(
                        case,
                        "GL",
                        gl_bat,
                        "GL",
                        case.case_number[:10],
                        case.fee,
                        setup,
                        gl_period.per_post,
                        ":fee",
                    )
                )
        elif case.stage == "chargeback" and case.fee > 0:
            work.reviews.append(
                _Review(
                    case.transaction_id,
                    case.ledger_key,
                    "chargeback_fee_unmapped",
                    f"chargeback case {case.case_number}: fee {case.fee} not posted (mapping.yaml "
                    "chargebacks.fee_account is not set); enter it in SL by hand",
                )
            )
            outcome = "review"
        if ar_bat:
            _stamp_per_ent(work, per_ent)
            batch = PlannedBatch(
                kind=PostingKind.PAYMENT if case.stage == "won" else PostingKind.REFUND,
                cpny_id=case.cpny_id,
                items=(),
                status=self.batch_status or case.status,
                description=f"PayTrace chargeback {case.case_number}"
                + (" won" if case.stage == "won" else ""),
            )
            if case.stage == "won":
                work.deposit = work.total
                work.bank = case.debited_account
            row = self._batch_row(batch, "AR", setup, ar_bat, per_post, now, work)
            row["PerEnt"] = per_ent
            conn.execute(q.insert_stmt(catalog.Batch, include_identity=False), [row])
        self._insert_all(conn, work)
        conn.execute(
            sa.insert(xPTChargeback).values(
                case_number=case.case_number,
                transaction_id=case.transaction_id,
                stage=case.stage,
                case_date=case.case_date,
                amount=case.amount.quantize(CENT),
                fee=case.fee.quantize(CENT),
                reason_code=case.reason_code or None,
                cpny_id=case.cpny_id,
                cust_id=case.cust_id,
                ledger_key=case.ledger_key,
                outcome=outcome,
                ar_bat_nbr=ar_bat,
                doc_type=doc_type,
                ref_nbr=ref,
                gl_bat_nbr=gl_bat,
                source_file=case.source_file[-255:],
                file_row=case.file_row,
                run_id=self.run_id,
                created_at=utcnow(),
            )
        )
        if self.preflight:
            for module, bat in (("AR", ar_bat), ("GL", gl_bat)):
                if bat:
                    findings = run_preflight(conn, module=module, bat_nbr=bat)
                    if findings:
                        raise PreflightFailed(module, findings)
        result.module = "AR" if ar_bat else ("GL" if gl_bat else "")
        result.bat_nbr = ar_bat or gl_bat
        result.touched = [b for b in (ar_bat, gl_bat) if b]
        result.posted = 1
        result.review_items = len(work.reviews)
        message = "; ".join(r.reason for r in work.reviews)
        result.add(
            ItemOutcome(
                case.ledger_key, outcome if outcome != "recorded" else "posted", doc_type, ref, message
            )
        )

    # ---- documents ---------------------------------------------------------------------------------

    def _debit_memo(
        self,
        conn: sa.Connection,
        case: PlannedChargeback,
        setup: SLSetup,
        bat_nbr: str,
        ref: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
    ) -> None:
        """The receivable reopened: DM of the customer, Dr A/R (release) / Cr the debited account."""
        amount = money(case.amount, setup.cury_dec_pl)
        ar = self._customer_ar(conn.execute(q.customers_stmt([case.cust_id])).first(), setup)
        desc = f"PayTrace chargeback {case.case_number} txn {case.transaction_id}"
        ext = str(case.transaction_id)
        self._memo(
            work,
            cust_id=case.cust_id,
            doc_type="DM",
            ref_nbr=ref,
            bat_nbr=bat_nbr,
            cpny=case.cpny_id,
            day=case.case_date,
            amount=amount,
            ar=ar,
            drcr="C",
            detail=case.debited_account,
            per_post=per_post,
            desc=desc,
            ext_ref=ext,
            setup=setup,
            now=now,
        )

    def _won_payment(
        self,
        conn: sa.Connection,
        case: PlannedChargeback,
        setup: SLSetup,
        bat_nbr: str,
        ref: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
    ) -> None:
        """The money back: a PA into the debited account, applied to the chargeback's DM once released."""
        amount = money(case.amount, setup.cury_dec_pl)
        desc = f"PayTrace chargeback {case.case_number} won"
        ext = str(case.transaction_id)
        a = catalog.ARDoc
        dm = conn.execute(
            sa.select(a.c.Rlsed, a.c.OpenDoc, a.c.CuryDocBal, a.c.BankAcct, a.c.BankSub, a.c.CuryRate).where(
                a.c.CustId == case.cust_id, a.c.DocType == "DM", a.c.RefNbr == case.dm_ref_nbr
            )
        ).first()
        lines: list[dict[str, object]] = []
        applied = Decimal(0)  # Decimal until written: SL's float columns get money(applied)
        if dm is not None and int(dm.Rlsed) == 1 and int(dm.OpenDoc) == 1:
            applied = min(case.amount, money_read(dm.CuryDocBal))
            lines.append(
                self._application_line(
                    cust_id=case.cust_id,
                    ref_nbr=ref,
                    bat_nbr=bat_nbr,
                    cpny=case.cpny_id,
                    line=0,
                    doc=dm,
                    doc_type="DM",
                    doc_ref=case.dm_ref_nbr,
                    amount=money(applied, setup.cury_dec_pl),
                    day=case.case_date,
                    per_post=per_post,
                    desc=desc,
                    ext_ref=ext,
                    setup=setup,
                    now=now,
                )
            )
        if applied < case.amount:
            why = (
                "is not released in SL yet" if dm is not None and int(dm.Rlsed) != 1 else "is not open in SL"
            )
            work.reviews.append(
                _Review(
                    case.transaction_id,
                    case.ledger_key,
                    "chargeback_apply_credit",
                    f"chargeback case {case.case_number} won: PA {ref} (AR batch {bat_nbr}) posted "
                    f"{'partly ' if applied else ''}unapplied because DM {case.dm_ref_nbr} {why}; apply "
                    f"it to DM {case.dm_ref_nbr} of customer {case.cust_id} in 08.030 once both are released",
                    {"case_number": case.case_number, "dm": case.dm_ref_nbr, "payment": ref},
                )
            )
        work.ardoc.append(
            self._ardoc(
                cust_id=case.cust_id,
                doc_type="PA",
                ref_nbr=ref,
                bat_nbr=bat_nbr,
                appl_bat_nbr=bat_nbr,
                cpny=case.cpny_id,
                day=case.case_date,
                amount=amount,
                applied=money(applied, setup.cury_dec_pl),
                bank=case.debited_account,
                per_post=per_post,
                desc=desc,
                ext_ref=ext,
                line_cntr=len(lines),
                setup=setup,
                now=now,
            )
        )
        work.artran.extend(lines)
        work.total += Decimal(str(amount))

    def _fee_entry(
        self,
        case: PlannedChargeback,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        per_ent: str,
        now: dt.datetime,
        conn: sa.Connection,
    ) -> None:
        """The chargeback fee: a GL 01.010 batch, Dr fee account / Cr the bank the processor debited."""
        assert case.fee_account is not None
        bank = case.bank_account or case.debited_account
        if bank == case.fee_account:
            raise WriterError(
                f"chargeback {case.ledger_key}: fee and bank account are the same ({bank.acct})"
            )
        amount = money(case.fee, setup.cury_dec_pl)
        desc = f"PayTrace chargeback fee {case.case_number}"
        ref = case.case_number[:10]
        rows = [
            self._gltran(
                bat_nbr=bat_nbr,
                cpny=case.cpny_id,
                line=line,
                acct=acct,
                dr=dr,
                cr=cr,
                ref_nbr=ref,
                ext_ref=str(case.transaction_id),
                day=case.case_date,
                desc=desc,
                per_post=per_post,
                per_ent=per_ent,
                setup=setup,
                now=now,
            )
            for line, (acct, dr, cr) in enumerate(((case.fee_account, amount, 0.0), (bank, 0.0, amount)))
        ]
        batch = PlannedBatch(PostingKind.SETTLEMENT, case.cpny_id, (), status=case.status, description=desc)
        header = self._batch_row(batch, "GL", setup, bat_nbr, per_post, now, _Work(total=case.fee))
        header["PerEnt"] = per_ent
        conn.execute(q.insert_stmt(catalog.Batch, include_identity=False), [header])
        self._insert_sl(conn, catalog.GLTran, rows, include_identity=False)

    # ---- helpers -----------------------------------------------------------------------------------

    def _case_ledger_row(
        self,
        case: PlannedChargeback,
        module: str,
        bat_nbr: str,
        doc_type: str,
        ref_nbr: str,
        amount: Decimal,
        setup: SLSetup,
        per_post: str,
        suffix: str = "",
    ) -> dict[str, object]:
        """The stage's ``xPTLedger`` row (``suffix`` ``:fee``: its fee entry's row)."""
        return self._ledger_row(
            case,
            kind="chargeback_fee" if suffix else f"cb_{case.stage}",
            cpny=case.cpny_id,
            module=module,
            bat_nbr=bat_nbr,
            doc_type=doc_type,
            ref_nbr=ref_nbr,
            cust_id=case.cust_id,
            amount=amount,
            setup=setup,
            per_post=per_post,
            note=f"chargeback case {case.case_number} {case.stage}"[:255],
            key_suffix=suffix,
        )

    @staticmethod
    def _payment_ref(conn: sa.Connection, case: PlannedChargeback) -> str:
        """The won payment's RefNbr: ``CB`` + the case number's last 8 characters (unique per customer)."""
        base = "".join(ch for ch in case.case_number if ch.isalnum())[-8:] or str(case.transaction_id)[-8:]
        a = catalog.ARDoc
        for n in range(100):
            ref = (f"CB{base}" if n == 0 else f"CB{base[-6:]}{n:02d}")[:10]
            used = conn.execute(
                sa.select(a.c.RefNbr).where(
                    a.c.CustId == case.cust_id, a.c.DocType == "PA", a.c.RefNbr == ref
                )
            ).first()
            if used is None:
                return ref
        raise WriterError(f"chargeback {case.ledger_key}: no free payment reference for {base}")
