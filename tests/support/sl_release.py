"""A model of what SL's release does to the batches we write (reference dynamics-sl.md §2.4–§5).

Tests only: the bridge itself never releases. ``release_batch`` applies to an SL replica what an SL user
clicking *Release* (AR 08.400 ``pp_08400`` / GL 01.400 ``pp_01400``) does, restricted to what our
batches contain:

* 08010 documents (IN/DM/CM): each detail ``ARTran`` posts its ``DrCr`` to its account, the offset posts
  the document amount to ``ARDoc.BankAcct`` (A/R): debit for IN/DM, credit for CM (§2.4, §5.3).
* 08030 payments (PA): debit ``ARDoc.BankAcct`` (cash/clearing); each ``DrCr='U'`` line becomes an
  ``ARAdjust`` row, credits the applied document's A/R account and lowers both documents' balances; the
  unapplied rest credits the customer's A/R account; the ``U`` lines are deleted (§5.1, §5.2).
  A ``U`` line of a document of another batch (an application batch, §5.1 last bullet) moves balances
  only, without GL lines.
* ``AR_Balances.CurrBal`` moves by every debit/credit document (§2.6); ``ARDoc/ARTran.Rlsed = 1``;
  ``OpenDoc = 0`` and ``PerClosed`` when a balance reaches 0; ``GLTran`` rows Module AR, Posted U.
* GL batches: ``GLTran.Rlsed = 1``, ``Posted 'U'`` (§2.7).
* ``Batch.Status`` U (GL lines written) or C (none), ``Rlsed = 1``.

Checks SL's release makes and our batches must pass: 12008 (already released), 12306 (application to a
document that is not released), 12126 (application to a missing document), 8888 (GL lines out of
balance). A failed check raises :class:`ReleaseError` and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.sl import catalog
from paytrace_sl.sl.rows import complete_row

__all__ = ["ReleaseError", "Released", "release_all", "release_batch"]

CENT = Decimal("0.01")
DEBIT_DOCS = ("IN", "DM", "CS", "NC", "AD", "FI")
PROGRAM = {"AR": "08400", "GL": "01400"}


class ReleaseError(RuntimeError):
    """SL's release would refuse this batch (the SL error number leads the message)."""


@dataclass
class Released:
    """What one release did (for assertions)."""

    module: str
    bat_nbr: str
    gl_lines: int = 0
    adjustments: list[tuple[str, str, str, str, Decimal]] = field(default_factory=list)


def _d(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _s(value: Any) -> str:
    return str(value or "").strip()


def release_all(engine: sa.Engine, *, modules: tuple[str, ...] = ("AR", "GL")) -> list[Released]:
    """Release every unreleased (H/B) batch, invoices and memos (08010) before payments (error 12306)."""
    b = catalog.Batch
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(b.c.Module, b.c.BatNbr, b.c.EditScrnNbr)
            .where(b.c.Rlsed == 0, b.c.Status.in_(("H", "B")), b.c.Module.in_(modules))
            .order_by(b.c.Module, b.c.BatNbr)
        ).all()
    order = sorted(rows, key=lambda r: (_s(r.Module), _s(r.EditScrnNbr) != "08010", _s(r.BatNbr)))
    return [release_batch(engine, _s(r.Module), _s(r.BatNbr)) for r in order]


def release_batch(engine: sa.Engine, module: str, bat_nbr: str) -> Released:
    """Release one batch in one transaction (see the module docstring)."""
    with engine.begin() as conn:
        header = conn.execute(
            sa.select(catalog.Batch).where(
                catalog.Batch.c.Module == module, catalog.Batch.c.BatNbr == bat_nbr
            )
        ).first()
        if header is None:
            raise ReleaseError(f"12319 batch {module} {bat_nbr} does not exist")
        if int(header.Rlsed) == 1:
            raise ReleaseError(f"12008 batch {module} {bat_nbr} is already released")
        if _s(header.Status) not in ("H", "B"):
            raise ReleaseError(f"batch {module} {bat_nbr} has status {_s(header.Status)}: not releasable")
        out = Released(module, bat_nbr)
        now = dt.datetime.now().replace(second=0, microsecond=0)
        if module == "GL":
            _release_gl(conn, header, out)
        else:
            _release_ar(conn, header, out, now)
        conn.execute(
            sa.update(catalog.Batch)
            .where(catalog.Batch.c.Module == module, catalog.Batch.c.BatNbr == bat_nbr)
            .values(Status="U" if out.gl_lines else "C", Rlsed=1, LUpd_Prog=PROGRAM[module])
        )
        return out


def _release_gl(conn: sa.Connection, header: Any, out: Released) -> None:
    g = catalog.GLTran
    lines = conn.execute(sa.select(g).where(g.c.Module == "GL", g.c.BatNbr == header.BatNbr)).all()
    dr = sum((_d(r.DrAmt) for r in lines), Decimal(0))
    cr = sum((_d(r.CrAmt) for r in lines), Decimal(0))
    if dr != cr:
        raise ReleaseError(f"8888 GL batch {header.BatNbr}: debits {dr} ≠ credits {cr}")
    conn.execute(
        sa.update(g).where(g.c.Module == "GL", g.c.BatNbr == header.BatNbr).values(Rlsed=1, Posted="U")
    )
    out.gl_lines = len(lines)


class _GL:
    """GLTran rows of one AR release, numbered from -32768 like pp_08400."""

    def __init__(self, header: Any, now: dt.datetime) -> None:
        self.header = header
        self.now = now
        self.rows: list[dict[str, object]] = []

    def post(self, acct: str, sub: str, amount: Decimal, doc: Any, desc: str = "") -> None:
        if amount == 0:
            return
        dr, cr = (amount, Decimal(0)) if amount > 0 else (Decimal(0), -amount)
        per = _s(self.header.PerPost)
        self.rows.append(
            complete_row(
                catalog.GLTran,
                {
                    "Module": "AR",
                    "BatNbr": _s(self.header.BatNbr),
                    "LineNbr": -32768 + len(self.rows),
                    "LineId": len(self.rows) + 1,
                    "CpnyID": _s(doc.CpnyID),
                    "Acct": acct,
                    "Sub": sub,
                    "DrAmt": float(dr),
                    "CrAmt": float(cr),
                    "CuryDrAmt": float(dr),
                    "CuryCrAmt": float(cr),
                    "BalanceType": "A",
                    "BaseCuryID": _s(self.header.BaseCuryID) or "USD",
                    "CuryId": _s(doc.CuryId) or "USD",
                    "CuryMultDiv": "M",
                    "CuryRate": 1.0,
                    "LedgerID": _s(self.header.LedgerID) or " ",
                    "JrnlType": "AR",
                    "TranType": _s(doc.DocType),
                    "RefNbr": _s(doc.RefNbr),
                    "Id": _s(doc.CustId),
                    "TranDate": doc.DocDate,
                    "TranDesc": (desc or _s(doc.DocDesc) or " ")[:30],
                    "PerEnt": per,
                    "PerPost": per,
                    "FiscYr": per[:4],
                    "Posted": "U",
                    "Rlsed": 1,
                    "Crtd_Prog": "08400",
                    "LUpd_Prog": "08400",
                },
                include_identity=False,
            )
        )


def _release_ar(conn: sa.Connection, header: Any, out: Released, now: dt.datetime) -> None:
    a, t = catalog.ARDoc, catalog.ARTran
    bat = _s(header.BatNbr)
    per = _s(header.PerPost)
    docs = conn.execute(sa.select(a).where(a.c.BatNbr == bat)).all()
    lines = conn.execute(sa.select(t).where(t.c.BatNbr == bat)).all()
    customers = {_s(c.CustId): c for c in conn.execute(sa.select(catalog.Customer)).all()}
    ar_setup = conn.execute(sa.select(catalog.ARSetup)).first()
    gl = _GL(header, now)
    balance_moves: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (cpny, cust) → CurrBal change
    doc_bal: dict[tuple[str, str, str], Decimal] = {}  # (cust, type, ref) → balance change (negative)
    by_doc: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for line in lines:
        by_doc[(_s(line.CustId), _s(line.TranType), _s(line.RefNbr))].append(line)

    def cust_ar(cust: str) -> tuple[str, str]:
        c = customers.get(cust)
        if c is not None and _s(c.ArAcct):
            return _s(c.ArAcct), _s(c.ArSub)
        assert ar_setup is not None
        return _s(ar_setup.ArAcct), _s(ar_setup.ArSub)

    own = {(_s(d.CustId), _s(d.DocType), _s(d.RefNbr)) for d in docs}
    for doc in docs:
        key = (_s(doc.CustId), _s(doc.DocType), _s(doc.RefNbr))
        amount = _d(doc.OrigDocAmt)
        mine = by_doc.get(key, [])
        if key[1] in ("PA", "PP"):
            gl.post(_s(doc.BankAcct), _s(doc.BankSub), amount, doc)  # Dr cash / clearing
            applied = Decimal(0)
            for line in (m for m in mine if _s(m.DrCr) == "U"):
                applied += _apply(conn, doc, line, header, gl, doc_bal, out, post_gl=True)
            ar_acct, ar_sub = cust_ar(key[0])
            gl.post(ar_acct, ar_sub, -(amount - applied), doc, "unapplied payment")
            balance_moves[(_s(doc.CpnyID), key[0])] -= amount
            doc_bal[key] = doc_bal.get(key, Decimal(0)) - applied
            continue
        sign = 1 if key[1] in DEBIT_DOCS else -1
        for line in mine:
            if _s(line.DrCr) == "U":
                raise ReleaseError(f"application line on 08010 document {key}: not modelled")
            line_amt = _d(line.TranAmt)
            gl.post(_s(line.Acct), _s(line.Sub), line_amt if _s(line.DrCr) == "D" else -line_amt, doc)
        gl.post(_s(doc.BankAcct), _s(doc.BankSub), sign * amount, doc)  # offset: A/R
        balance_moves[(_s(doc.CpnyID), key[0])] += sign * amount
    # application lines of documents that live in other (released) batches: an application batch
    for key, group in by_doc.items():
        if key in own:
            continue
        for line in (m for m in group if _s(m.DrCr) == "U"):
            adjg = conn.execute(
                sa.select(a).where(a.c.CustId == key[0], a.c.DocType == key[1], a.c.RefNbr == key[2])
            ).first()
            if adjg is None or int(adjg.Rlsed) != 1:
                raise ReleaseError(f"12306 applying {key} which is not a released document")
            applied = _apply(conn, adjg, line, header, gl, doc_bal, out, post_gl=False)
            doc_bal[key] = doc_bal.get(key, Decimal(0)) - applied
    if sum((Decimal(str(r["DrAmt"])) - Decimal(str(r["CrAmt"])) for r in gl.rows), Decimal(0)) != 0:
        raise ReleaseError(f"8888 AR batch {bat} out of balance")
    # all checks passed: write
    for (cust, dtype, ref), change in doc_bal.items():
        _move_doc_balance(conn, cust, dtype, ref, change, per)
    for doc in docs:
        cond = (
            a.c.CustId == doc.CustId,
            a.c.DocType == doc.DocType,
            a.c.RefNbr == doc.RefNbr,
            a.c.BatNbr == bat,
        )
        conn.execute(sa.update(a).where(*cond).values(Rlsed=1, ApplBatNbr=" ", ApplAmt=0.0, CuryApplAmt=0.0))
    conn.execute(sa.delete(t).where(t.c.BatNbr == bat, t.c.DrCr == "U"))
    conn.execute(sa.update(t).where(t.c.BatNbr == bat).values(Rlsed=1))
    if gl.rows:
        conn.execute(sa.insert(catalog.GLTran), gl.rows)
    for (cpny, cust), change in balance_moves.items():
        _move_customer_balance(conn, cpny, cust, change, per)
    out.gl_lines = len(gl.rows)


def _apply(
    conn: sa.Connection,
    adjg: Any,
    line: Any,
    header: Any,
    gl: _GL,
    doc_bal: dict[tuple[str, str, str], Decimal],
    out: Released,
    *,
    post_gl: bool,
) -> Decimal:
    """One ``U`` line → ARAdjust row and the adjusted document's balance change; returns the amount."""
    a = catalog.ARDoc
    cust, adjd_type, adjd_ref = _s(line.CustId), _s(line.CostType), _s(line.SiteId)
    adjd = conn.execute(
        sa.select(a).where(a.c.CustId == cust, a.c.DocType == adjd_type, a.c.RefNbr == adjd_ref)
    ).first()
    if adjd is None:
        raise ReleaseError(f"12126 application to missing {adjd_type} {adjd_ref} of {cust}")
    if int(adjd.Rlsed) != 1:
        raise ReleaseError(f"12306 application to unreleased {adjd_type} {adjd_ref} of {cust}")
    amount = _d(line.TranAmt)
    if post_gl:
        gl.post(_s(adjd.BankAcct), _s(adjd.BankSub), -amount, adjg, f"applied to {adjd_type} {adjd_ref}")
    key = (cust, adjd_type, adjd_ref)
    doc_bal[key] = doc_bal.get(key, Decimal(0)) - amount
    next_id = int(
        conn.execute(sa.select(sa.func.coalesce(sa.func.max(catalog.ARAdjust.c.RecordID), 0))).scalar_one()
    )
    conn.execute(
        sa.insert(catalog.ARAdjust),
        [
            complete_row(
                catalog.ARAdjust,
                {
                    "AdjAmt": float(amount),
                    "CuryAdjgAmt": float(amount),
                    "CuryAdjdAmt": float(amount),
                    "AdjBatNbr": _s(header.BatNbr),
                    "AdjdDocType": adjd_type,
                    "AdjdRefNbr": adjd_ref,
                    "AdjgDocType": _s(adjg.DocType),
                    "AdjgRefNbr": _s(adjg.RefNbr),
                    "AdjgDocDate": adjg.DocDate,
                    "AdjgPerPost": _s(adjg.PerPost),
                    "CustId": cust,
                    "CuryAdjdCuryId": _s(adjd.CuryId) or "USD",
                    "CuryAdjdMultDiv": "M",
                    "CuryAdjdRate": 1.0,
                    "DateAppl": header.DateEnt,
                    "PerAppl": _s(header.PerPost),
                    "RecordID": next_id + 1,
                    "Crtd_Prog": "08400",
                    "LUpd_Prog": "08400",
                },
                include_identity=True,
            )
        ],
    )
    out.adjustments.append((_s(adjg.DocType), _s(adjg.RefNbr), adjd_type, adjd_ref, amount))
    return amount


def _move_doc_balance(
    conn: sa.Connection, cust: str, dtype: str, ref: str, change: Decimal, per: str
) -> None:
    if change == 0:
        return
    a = catalog.ARDoc
    cond = (a.c.CustId == cust, a.c.DocType == dtype, a.c.RefNbr == ref)
    doc = conn.execute(sa.select(a.c.DocBal).where(*cond)).first()
    assert doc is not None
    new = _d(doc.DocBal) + change
    values: dict[str, object] = {"DocBal": float(new), "CuryDocBal": float(new)}
    if new == 0:
        values.update(OpenDoc=0, PerClosed=per)
    conn.execute(sa.update(a).where(*cond).values(**values))  # a negative balance is left for the checker


def _move_customer_balance(conn: sa.Connection, cpny: str, cust: str, change: Decimal, per: str) -> None:
    b = catalog.AR_Balances
    cond = (b.c.CpnyID == cpny, b.c.CustID == cust)
    row = conn.execute(sa.select(b.c.CurrBal).where(*cond)).first()
    if row is None:
        conn.execute(sa.insert(b).values(CpnyID=cpny, CustID=cust, CurrBal=float(change), PerNbr=per))
    else:
        conn.execute(sa.update(b).where(*cond).values(CurrBal=float(_d(row.CurrBal) + change)))
