"""Row builders shared by every SL document kind: audit and currency columns, the ``xPTLedger`` row,
the ``Batch`` header, ``ARDoc`` and ``ARTran`` values (completed with SL blanks at insert time).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paytrace_sl.plan import Account, PlannedBatch, PostingKind
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import POSTING_KINDS, utcnow
from paytrace_sl.sl.rows import complete_row, fiscal_year, money
from paytrace_sl.sl.setup import SLSetup
from paytrace_sl.sl.writer.core import WriterCore
from paytrace_sl.sl.writer.model import (
    CENT,
    FIRST_LINE_NBR,
    SCREEN_GL_JOURNAL,
    SCREEN_INVOICE_MEMO,
    SCREEN_PAYMENT,
    Item,
    _Work,
    content_hash,
    fit_text,
)

if TYPE_CHECKING:
    from paytrace_sl.sl.writer.chargebacks import PlannedChargeback


class RowBuilders(WriterCore):
    """Rows every document kind shares: audit and currency columns, our ledger row, Batch/ARDoc/ARTran."""

    def _audit(self, now: dt.datetime) -> dict[str, object]:
        """The six audit columns (a fresh dict per call: callers merge it into rows)."""
        return {
            "Crtd_DateTime": now,
            "Crtd_Prog": self.program,
            "Crtd_User": self.user,
            "LUpd_DateTime": now,
            "LUpd_Prog": self.program,
            "LUpd_User": self.user,
        }

    def _cury(self, setup: SLSetup, day: dt.date) -> dict[str, object]:
        """Base-currency document: rate 1, multiply (what SL's screens write for the base currency)."""
        return {"CuryId": setup.base_cury_id, "CuryMultDiv": "M", "CuryRate": 1.0, "CuryEffDate": day}

    def _ledger_row(
        self,
        item: Item | PlannedChargeback,
        *,
        kind: str,
        cpny: str,
        module: str,
        bat_nbr: str,
        doc_type: str,
        ref_nbr: str,
        cust_id: str,
        amount: Decimal,
        setup: SLSetup,
        per_post: str,
        status: str = "posted",
        note: str | None = None,
        key_suffix: str = "",
    ) -> dict[str, object]:
        """The ``xPTLedger`` row of ``item`` (``key_suffix``: a second posting of it, e.g. ``:fee``)."""
        now = utcnow()
        txn = getattr(item, "transaction_id", None)
        return {
            "ledger_key": item.ledger_key + key_suffix,
            "transaction_id": txn,
            "kind": kind,
            "cpny_id": cpny,
            "module": module,
            "bat_nbr": bat_nbr,
            "doc_type": doc_type,
            "ref_nbr": ref_nbr,
            "cust_id": cust_id,
            "amount": amount.quantize(CENT),
            "cury_id": setup.base_cury_id,
            "per_post": per_post,
            "paytrace_state": getattr(item, "paytrace_state", ""),
            "content_hash": content_hash(item),
            "status": status,
            "run_id": self.run_id,
            "posted_at": now,
            "updated_at": now,
            "note": note,
            "settle_batch_nbr": None,
            # one posting per PayTrace id whatever its type (unique): set on the payment/refund row
            "posted_txn_id": txn if kind in POSTING_KINDS else None,
            "paytrace_type": getattr(item, "paytrace_type", "") or None,
            "customer_digest": getattr(item, "customer_digest", "") or None,
        }

    def _batch_row(
        self,
        batch: PlannedBatch,
        module: str,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
    ) -> dict[str, object]:
        dec = setup.cury_dec_pl
        total = money(work.total, dec)
        values: dict[str, object] = {
            "Module": module,
            "BatNbr": bat_nbr,
            "CpnyID": batch.cpny_id,
            "BatType": "N",
            "Status": self._status(batch),
            "Rlsed": 0,
            "PerPost": per_post,
            "PerEnt": per_post,
            "BaseCuryID": setup.base_cury_id,
            "LedgerID": setup.ledger_id,
            "DateEnt": now.date(),
            "Descr": fit_text(catalog.Batch, "Descr", batch.description or f"PayTrace {batch.kind}s"),
            "CuryRateType": " ",
            **self._cury(setup, now.date()),
            **self._audit(now),
        }
        if module == "GL":
            values.update(
                {
                    "EditScrnNbr": SCREEN_GL_JOURNAL,
                    "JrnlType": self.gl_journal_type,
                    "BalanceType": "A",
                    "CtrlTot": total,
                    "CrTot": total,
                    "DrTot": total,
                    "CuryCtrlTot": total,
                    "CuryCrTot": total,
                    "CuryDrTot": total,
                }
            )
        else:
            screen = SCREEN_PAYMENT if batch.kind == PostingKind.PAYMENT else SCREEN_INVOICE_MEMO
            # SL release error 12123: CuryCrTot must equal Σ CuryOrigDocAmt of the batch's documents.
            values.update(
                {
                    "EditScrnNbr": screen,
                    "JrnlType": "AR",
                    "GLPostOpt": "D",
                    "CtrlTot": total,
                    "CrTot": total,
                    "CuryCtrlTot": total,
                    "CuryCrTot": total,
                }
            )
            if batch.kind == PostingKind.PAYMENT:
                deposit = money(work.deposit, dec)
                values.update({"DepositAmt": deposit, "CuryDepositAmt": deposit})
                if work.bank is not None and not work.mixed_bank:
                    values.update({"BankAcct": work.bank.acct, "BankSub": work.bank.sub})
        return complete_row(catalog.Batch, values, include_identity=False)

    def _ardoc(
        self,
        *,
        cust_id: str,
        doc_type: str,
        ref_nbr: str,
        bat_nbr: str,
        appl_bat_nbr: str,
        cpny: str,
        day: dt.date,
        amount: float,
        applied: float,
        bank: Account,
        per_post: str,
        desc: str,
        ext_ref: str,
        line_cntr: int,
        setup: SLSetup,
        now: dt.datetime,
    ) -> dict[str, object]:
        values: dict[str, object] = {
            "CustId": cust_id,
            "DocType": doc_type,
            "RefNbr": ref_nbr,
            "BatNbr": bat_nbr,
            "BatSeq": 0,
            "ApplBatNbr": appl_bat_nbr,
            "CpnyID": cpny,
            "DocDate": day,
            "DueDate": day,
            "DiscDate": day,
            "DocDesc": fit_text(catalog.ARDoc, "DocDesc", desc),
            "BankAcct": bank.acct,
            "BankSub": bank.sub,
            "CuryOrigDocAmt": amount,
            "OrigDocAmt": amount,
            "CuryDocBal": amount,
            "DocBal": amount,
            "CuryApplAmt": applied,
            "ApplAmt": applied,
            "DocClass": "N",
            "OpenDoc": 1,
            "Rlsed": 0,
            "PerEnt": per_post,
            "PerPost": per_post,
            "CustOrdNbr": ext_ref,
            "LineCntr": line_cntr,
            **self._cury(setup, day),
            **self._audit(now),
        }
        return values  # checked and completed with SL blanks at insert time (_insert_sl)

    def _artran(
        self,
        *,
        cust_id: str,
        tran_type: str,
        ref_nbr: str,
        bat_nbr: str,
        cpny: str,
        line: int,
        drcr: str,
        acct: Account,
        amount: float,
        day: dt.date,
        per_post: str,
        desc: str,
        ext_ref: str,
        setup: SLSetup,
        now: dt.datetime,
        extra: dict[str, object] | None = None,
    ) -> dict[str, object]:
        values: dict[str, object] = {
            "CustId": cust_id,
            "TranType": tran_type,
            "RefNbr": ref_nbr,
            "BatNbr": bat_nbr,
            "CpnyID": cpny,
            "LineNbr": FIRST_LINE_NBR + line,
            "LineId": line + 1,
            "LineRef": f"{line + 1:05d}",
            "DrCr": drcr,
            "Acct": acct.acct,
            "Sub": acct.sub,
            "CuryTranAmt": amount,
            "TranAmt": amount,
            "TranDate": day,
            "TranDesc": fit_text(catalog.ARTran, "TranDesc", desc),
            "ExtRefNbr": ext_ref,
            "PerEnt": per_post,
            "PerPost": per_post,
            "FiscYr": fiscal_year(per_post),
            "JrnlType": "AR",
            "Rlsed": 0,
            "TranClass": "N",
            "Qty": 0.0,
            **self._cury(setup, day),
            **self._audit(now),
        }
        values.pop("CuryEffDate")  # ARTran has no CuryEffDate
        values.update(extra or {})
        return values  # checked and completed with SL blanks at insert time (_insert_sl)

    def _memo(
        self,
        work: _Work,
        *,
        cust_id: str,
        doc_type: str,
        ref_nbr: str,
        bat_nbr: str,
        cpny: str,
        day: dt.date,
        amount: float,
        ar: Account,
        drcr: str,
        detail: Account,
        per_post: str,
        desc: str,
        ext_ref: str,
        setup: SLSetup,
        now: dt.datetime,
    ) -> None:
        """A one-line memo (``CM``/``DM``) on A/R ``ar``, its line ``drcr`` on ``detail``: its ARDoc,
        ARTran and RefNbr rows, and its amount in the batch total."""
        work.ardoc.append(
            self._ardoc(
                cust_id=cust_id,
                doc_type=doc_type,
                ref_nbr=ref_nbr,
                bat_nbr=bat_nbr,
                appl_bat_nbr=" ",
                cpny=cpny,
                day=day,
                amount=amount,
                applied=0.0,
                bank=ar,
                per_post=per_post,
                desc=desc,
                ext_ref=ext_ref,
                line_cntr=1,
                setup=setup,
                now=now,
            )
        )
        work.artran.append(
            self._artran(
                cust_id=cust_id,
                tran_type=doc_type,
                ref_nbr=ref_nbr,
                bat_nbr=bat_nbr,
                cpny=cpny,
                line=0,
                drcr=drcr,
                acct=detail,
                amount=amount,
                day=day,
                per_post=per_post,
                desc=desc,
                ext_ref=ext_ref,
                setup=setup,
                now=now,
                extra={"Qty": 1.0, "UnitPrice": amount, "CuryUnitPrice": amount},
            )
        )
        work.refnbr.append({"RefNbr": ref_nbr, "DocType": doc_type, **self._audit(now)})
        work.total += Decimal(str(amount))

    @staticmethod
    def _customer_ar(customer: sa.Row[Any] | None, setup: SLSetup) -> Account:
        """The customer's A/R account (``q.customers_stmt`` row), else SL's default from ARSetup."""
        if customer is not None and str(customer.ArAcct).strip():
            return Account(str(customer.ArAcct).strip(), str(customer.ArSub).strip() or setup.ar_account.sub)
        return setup.ar_account

    def _application_line(
        self,
        *,
        cust_id: str,
        ref_nbr: str,
        bat_nbr: str,
        cpny: str,
        line: int,
        doc: sa.Row[*tuple[Any, ...]],
        doc_type: str,
        doc_ref: str,
        amount: float,
        day: dt.date,
        per_post: str,
        desc: str,
        ext_ref: str,
        setup: SLSetup,
        now: dt.datetime,
    ) -> dict[str, object]:
        """The ``PA`` line applying ``amount`` to document ``doc_type doc_ref`` (``doc``: its ARDoc row
        with ``BankAcct``, ``BankSub``, ``CuryRate``), as SL's 08.030 grid writes it."""
        return self._artran(
            cust_id=cust_id,
            tran_type="PA",
            ref_nbr=ref_nbr,
            bat_nbr=bat_nbr,
            cpny=cpny,
            line=line,
            drcr="U",
            acct=Account(str(doc.BankAcct).strip(), str(doc.BankSub).strip()),
            amount=amount,
            day=day,
            per_post=per_post,
            desc=desc,
            ext_ref=ext_ref,
            setup=setup,
            now=now,
            extra={
                "SiteId": doc_ref,
                "CostType": doc_type,
                "CuryUnitPrice": 0.0,
                "CnvFact": 0.0,
                "UnitPrice": float(doc.CuryRate or 1.0),
                "TranClass": " ",
            },
        )

    def _gltran(
        self,
        *,
        bat_nbr: str,
        cpny: str,
        line: int,
        acct: Account,
        dr: float,
        cr: float,
        ref_nbr: str,
        ext_ref: str,
        day: dt.date,
        desc: str,
        per_post: str,
        per_ent: str,
        setup: SLSetup,
        now: dt.datetime,
    ) -> dict[str, object]:
        """One line of a GL 01.010 journal entry (completed with SL blanks at insert time)."""
        return {
            "Module": "GL",
            "BatNbr": bat_nbr,
            "LineNbr": FIRST_LINE_NBR + line,
            "LineId": line + 1,
            "CpnyID": cpny,
            "Acct": acct.acct,
            "Sub": acct.sub,
            "DrAmt": dr,
            "CrAmt": cr,
            "CuryDrAmt": dr,
            "CuryCrAmt": cr,
            "BalanceType": "A",
            "BaseCuryID": setup.base_cury_id,
            "LedgerID": setup.ledger_id,
            "JrnlType": self.gl_journal_type,
            "TranType": "GL",
            "RefNbr": ref_nbr,
            "ExtRefNbr": ext_ref,
            "TranDate": day,
            "TranDesc": fit_text(catalog.GLTran, "TranDesc", desc),
            "PerEnt": per_ent,
            "PerPost": per_post,
            "FiscYr": fiscal_year(per_post),
            "Posted": "U",
            "Rlsed": 0,
            **self._cury(setup, day),
            **self._audit(now),
        }
