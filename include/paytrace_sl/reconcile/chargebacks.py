"""Chargeback cases in the reconciliation and the auditor report (docs/accounting.md §9).

Each ``xPTChargeback`` row of the range (by case date) is checked against SL: the stage's AR document
(the chargeback's DM, the won representment's PA) exists in its batch for the case amount, the fee's GL
batch carries the fee on both sides. A stage whose SL rows are missing or different is an unexplained
exception; a lost case whose DM is still open is an explained one (a write-off decision waits).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from paytrace_sl.reconcile.model import ReconException
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTChargeback
from paytrace_sl.sl.rows import money_read

COLUMNS = (
    "case_number",
    "transaction_id",
    "stage",
    "case_date",
    "customer",
    "amount",
    "fee",
    "outcome",
    "sl_document",
    "fee_batch",
    "sl_check",
)


@dataclass(frozen=True, slots=True)
class CaseCheck:
    case_number: str
    transaction_id: int
    stage: str
    case_date: dt.date
    cust_id: str
    amount: Decimal
    fee: Decimal
    outcome: str
    sl_document: str  # "AR 000123 DM 000456" or ""
    fee_batch: str
    problem: str  # "" when SL holds what the stage wrote
    dm_open: bool = False

    def row(self) -> tuple[str | int, ...]:
        return (
            self.case_number,
            self.transaction_id,
            self.stage,
            self.case_date.isoformat(),
            self.cust_id,
            f"{self.amount:.2f}",
            f"{self.fee:.2f}",
            self.outcome,
            self.sl_document,
            self.fee_batch,
            self.problem or "ok",
        )


def chargeback_checks(conn: sa.Connection, start: dt.date, end: dt.date) -> list[CaseCheck]:
    """Every case stage dated ``start..end`` (inclusive), checked against SL's rows."""
    cb, a, g = xPTChargeback, catalog.ARDoc, catalog.GLTran
    if "xptchargeback" not in {n.lower() for n in sa.inspect(conn).get_table_names()}:
        return []  # our tables older than schema v4
    rows = conn.execute(
        sa.select(cb).where(cb.c.case_date >= start, cb.c.case_date <= end).order_by(cb.c.case_date, cb.c.id)
    ).all()
    out: list[CaseCheck] = []
    for r in rows:
        problem = ""
        doc = ""
        amount = Decimal(str(r.amount))
        fee = Decimal(str(r.fee))
        dm_open = False
        if str(r.ar_bat_nbr).strip():
            doc = f"AR {r.ar_bat_nbr} {r.doc_type} {r.ref_nbr}"
            found = conn.execute(
                sa.select(a.c.OrigDocAmt, a.c.BatNbr).where(
                    a.c.CustId == r.cust_id, a.c.DocType == r.doc_type, a.c.RefNbr == r.ref_nbr
                )
            ).first()
            if found is None:
                problem = f"{r.doc_type} {r.ref_nbr} is not in SL"
            elif (
                money_read(found.OrigDocAmt) != amount
                or str(found.BatNbr).strip() != str(r.ar_bat_nbr).strip()
            ):
                problem = (
                    f"{r.doc_type} {r.ref_nbr} in SL is {money_read(found.OrigDocAmt)} in batch "
                    f"{str(found.BatNbr).strip()}, the case stage wrote {amount} in {r.ar_bat_nbr}"
                )
        if str(r.gl_bat_nbr).strip() and not problem:
            dr, cr = conn.execute(
                sa.select(sa.func.sum(g.c.DrAmt), sa.func.sum(g.c.CrAmt)).where(
                    g.c.Module == "GL", g.c.BatNbr == r.gl_bat_nbr
                )
            ).one()
            if money_read(dr or 0) != fee or money_read(cr or 0) != fee:
                problem = f"fee batch GL {r.gl_bat_nbr} holds Dr {dr or 0} / Cr {cr or 0}, the fee is {fee}"
        if r.stage == "lost":
            dm = conn.execute(
                sa.select(a.c.OpenDoc).where(
                    a.c.CustId == r.cust_id, a.c.DocType == "DM", a.c.RefNbr == r.ref_nbr
                )
            ).first()
            dm_open = dm is not None and int(dm.OpenDoc) == 1
            doc = f"DM {r.ref_nbr} ({'open' if dm_open else 'closed'})"
        out.append(
            CaseCheck(
                str(r.case_number),
                int(r.transaction_id),
                str(r.stage),
                r.case_date,
                str(r.cust_id),
                amount,
                fee,
                str(r.outcome),
                doc,
                f"GL {r.gl_bat_nbr}" if str(r.gl_bat_nbr).strip() else "",
                problem,
                dm_open,
            )
        )
    return out


def chargeback_exceptions(checks: list[CaseCheck]) -> list[ReconException]:
    out: list[ReconException] = []
    for c in checks:
        if c.problem:
            kind, explained = "chargeback_sl_mismatch", False
            reason = f"chargeback case {c.case_number} {c.stage}: {c.problem}"
            action = "compare the case's SL batch with xPTChargeback; correct SL or re-import the file"
        elif c.stage == "lost" and c.dm_open:
            kind, explained = "chargeback_lost_open", True
            reason = f"chargeback case {c.case_number} lost: {c.sl_document} of customer {c.cust_id}"
            action = "decide the write-off or collect from the customer (review queue)"
        else:
            continue
        out.append(
            ReconException(
                kind=kind,
                reason=reason,
                action=action,
                explained=explained,
                transaction_id=c.transaction_id,
                ledger_key=f"chargeback:{c.case_number}:{c.transaction_id}:{c.stage}",
                sl_ref=c.sl_document,
                amount=c.amount,
                day=c.case_date,
            )
        )
    return out


def chargeback_note(checks: list[CaseCheck]) -> str:
    """One line for the reconciliation notes ("" when the range has no case)."""
    if not checks:
        return ""
    by_stage: dict[str, int] = {}
    for c in checks:
        by_stage[c.stage] = by_stage.get(c.stage, 0) + 1
    charged = sum((c.amount for c in checks if c.stage == "chargeback"), Decimal(0))
    fees = sum((c.fee for c in checks if c.stage == "chargeback"), Decimal(0))
    bad = sum(1 for c in checks if c.problem)
    stages = ", ".join(f"{k} {v}" for k, v in sorted(by_stage.items()))
    return (
        f"chargebacks: {len(checks)} case stage(s) ({stages}); charged back {charged:.2f}, fees {fees:.2f}; "
        f"{bad} not as written in SL"
    )
