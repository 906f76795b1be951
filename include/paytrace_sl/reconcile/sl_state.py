"""What SL holds for our postings: ledger rows joined (in Python) to the live SL rows they describe.

The join is done in Python on right-trimmed keys rather than in SQL because SL's ``char(n)`` columns pad
with blanks and each database compares padded and unpadded strings differently; fetching by ``RefNbr`` /
``BatNbr`` IN-lists keeps it one query per table per 500 keys.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.sl import catalog
from paytrace_sl.sl.catalog import live_table_names
from paytrace_sl.sl.own_tables import xPTDeadLetter, xPTLedger, xPTReview, xPTSkip

CHUNK = 500


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True, slots=True)
class SLBatchState:
    module: str
    bat_nbr: str
    status: str
    rlsed: bool
    per_post: str
    crtd: dt.datetime | None  # SL smalldatetime, naive merchant-local wall time


@dataclass(frozen=True, slots=True)
class PostedDoc:
    """One ``xPTLedger`` row and the SL rows it points at (``sl_amount`` None: the SL rows are gone)."""

    ledger_key: str
    transaction_id: int | None
    kind: str
    cpny_id: str
    module: str
    bat_nbr: str
    doc_type: str
    ref_nbr: str
    cust_id: str
    amount: Decimal
    per_post: str
    status: str
    run_id: str
    posted_at: dt.datetime
    settle_batch_nbr: int | None
    sl_amount: Decimal | None
    sl_cust_id: str
    doc_date: dt.date | None
    doc_rlsed: bool
    doc_edited_by: str  # LUpd_Prog of the SL row when it differs from ours and the row is unreleased
    batch: SLBatchState | None

    @property
    def sl_ref(self) -> str:
        return f"{self.module} {self.bat_nbr} {self.doc_type} {self.ref_nbr}".strip()

    @property
    def signed_amount(self) -> Decimal:
        """Effect on the merchant's net: payments +, refunds −, settlements as recorded."""
        return -self.amount if self.kind == "refund" else self.amount

    @property
    def signed_sl_amount(self) -> Decimal | None:
        if self.sl_amount is None:
            return None
        return -self.sl_amount if self.kind == "refund" else self.sl_amount


def _ledger_rows(conn: sa.Connection, where: Any) -> list[sa.Row[Any]]:
    return list(conn.execute(sa.select(xPTLedger).where(where).order_by(xPTLedger.c.ledger_key)))


def load_posted_docs(
    conn: sa.Connection,
    *,
    transaction_ids: Sequence[int] | None = None,
    where: Any = None,
    programs: Iterable[str] = ("PTSL",),
) -> list[PostedDoc]:
    """Ledger rows (status ``posted``) selected by transaction id and/or ``where``, joined to SL.

    ``programs``: SL program names our writer stamps in ``LUpd_Prog``; an unreleased document whose
    ``LUpd_Prog`` is anything else was changed by a person (or another program) after we wrote it.
    """
    base = xPTLedger.c.status == "posted"
    rows: list[sa.Row[Any]] = []
    if transaction_ids is not None:
        ids = sorted(set(transaction_ids))
        for chunk in _chunks(ids):
            cond = sa.and_(base, xPTLedger.c.transaction_id.in_(chunk))
            rows.extend(_ledger_rows(conn, cond if where is None else sa.and_(cond, where)))
    else:
        rows = _ledger_rows(conn, base if where is None else sa.and_(base, where))
    return join_sl(conn, rows, programs=programs)


def join_sl(conn: sa.Connection, rows: Sequence[sa.Row[Any]], *, programs: Iterable[str]) -> list[PostedDoc]:
    ours = {p.strip() for p in programs}
    ar_refs = sorted({_s(r.ref_nbr) for r in rows if _s(r.module) == "AR" and _s(r.ref_nbr)})
    docs: dict[tuple[str, str, str, str], Any] = {}
    d = catalog.ARDoc
    for chunk in _chunks(ar_refs):
        stmt = sa.select(
            d.c.CustId,
            d.c.DocType,
            d.c.RefNbr,
            d.c.BatNbr,
            d.c.CuryOrigDocAmt,
            d.c.DocDate,
            d.c.Rlsed,
            d.c.LUpd_Prog,
            d.c.Crtd_Prog,
        ).where(d.c.RefNbr.in_(chunk))
        for found_doc in conn.execute(stmt):
            docs[
                (_s(found_doc.CustId), _s(found_doc.DocType), _s(found_doc.RefNbr), _s(found_doc.BatNbr))
            ] = found_doc
    gl_batches = sorted({_s(r.bat_nbr) for r in rows if _s(r.module) == "GL" and _s(r.bat_nbr)})
    gl_sums: dict[tuple[str, str], tuple[Decimal, Decimal, dt.date | None, bool, str]] = {}
    g = catalog.GLTran
    for chunk in _chunks(gl_batches):
        stmt = sa.select(
            g.c.BatNbr, g.c.RefNbr, g.c.DrAmt, g.c.CrAmt, g.c.TranDate, g.c.Rlsed, g.c.LUpd_Prog
        ).where(g.c.Module == "GL", g.c.BatNbr.in_(chunk))
        for line in conn.execute(stmt):
            key = (_s(line.BatNbr), _s(line.RefNbr))
            dr, cr, day, rl, prog = gl_sums.get(key, (Decimal(0), Decimal(0), None, False, ""))
            edited = prog or ("" if _s(line.LUpd_Prog) in ours else _s(line.LUpd_Prog))
            gl_sums[key] = (
                dr + _money(line.DrAmt),
                cr + _money(line.CrAmt),
                _date(line.TranDate) or day,
                rl or bool(line.Rlsed),
                edited,
            )
    # One settlement may have several ledger rows (one per clearing account) sharing BatNbr and RefNbr.
    gl_groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rows:
        if _s(r.module) == "GL":
            gl_groups[(_s(r.bat_nbr), _s(r.ref_nbr))].append(r)
    batch_keys = sorted({(_s(r.module), _s(r.bat_nbr)) for r in rows if _s(r.bat_nbr)})
    batches = load_batches(conn, batch_keys)
    out: list[PostedDoc] = []
    for r in rows:
        module, bat = _s(r.module), _s(r.bat_nbr)
        sl_amount: Decimal | None = None
        sl_cust, day, rlsed, edited_by = "", None, False, ""
        if module == "AR":
            doc = docs.get((_s(r.cust_id), _s(r.doc_type), _s(r.ref_nbr), bat))
            if doc is not None:
                sl_amount, sl_cust, day = _money(doc.CuryOrigDocAmt), _s(doc.CustId), _date(doc.DocDate)
                rlsed = bool(doc.Rlsed)
                if not rlsed and _s(doc.LUpd_Prog) not in ours:
                    edited_by = _s(doc.LUpd_Prog)
        elif module == "GL":
            found = gl_sums.get((bat, _s(r.ref_nbr)))
            if found is not None:
                dr, cr, day, rlsed, prog = found
                sl_amount = _gl_share(r, gl_groups[(bat, _s(r.ref_nbr))], min(dr, cr))
                edited_by = "" if rlsed else prog
        out.append(
            PostedDoc(
                ledger_key=_s(r.ledger_key),
                transaction_id=None if r.transaction_id is None else int(r.transaction_id),
                kind=_s(r.kind),
                cpny_id=_s(r.cpny_id),
                module=module,
                bat_nbr=bat,
                doc_type=_s(r.doc_type),
                ref_nbr=_s(r.ref_nbr),
                cust_id=_s(r.cust_id),
                amount=_money(r.amount),
                per_post=_s(r.per_post),
                status=_s(r.status),
                run_id=_s(r.run_id),
                posted_at=r.posted_at,
                settle_batch_nbr=None if r.settle_batch_nbr is None else int(r.settle_batch_nbr),
                sl_amount=sl_amount,
                sl_cust_id=sl_cust,
                doc_date=day,
                doc_rlsed=rlsed,
                doc_edited_by=edited_by,
                batch=batches.get((module, bat)),
            )
        )
    return out


def _gl_share(row: Any, group: Sequence[Any], magnitude: Decimal) -> Decimal:
    """This ledger row's part of a balanced GL entry (Σ Dr = Σ Cr = |net|; ``magnitude`` = min of both, so
    an edit of one side shows). Untouched entry: each row gets its own amount. Changed entry: the whole
    change is put on the group's first row, so the group still sums to what SL holds."""
    amounts = [_money(g.amount) for g in group]
    expected = sum((abs(a) for a in amounts), Decimal(0))
    own = _money(row.amount)
    if magnitude == expected:
        return own
    if len(group) == 1:
        return -magnitude if own < 0 else magnitude
    sign = -1 if sum(amounts) < 0 else 1
    first = min(group, key=lambda g: _s(g.ledger_key))
    return own + sign * (magnitude - expected) if row is first else own


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.fromisoformat(str(value)).date()


def load_batches(conn: sa.Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], SLBatchState]:
    b = catalog.Batch
    by_module: dict[str, list[str]] = defaultdict(list)
    for module, bat in keys:
        by_module[module].append(bat)
    out: dict[tuple[str, str], SLBatchState] = {}
    for module, bats in sorted(by_module.items()):
        for chunk in _chunks(sorted(bats)):
            stmt = sa.select(
                b.c.Module, b.c.BatNbr, b.c.Status, b.c.Rlsed, b.c.PerPost, b.c.Crtd_DateTime
            ).where(b.c.Module == module, b.c.BatNbr.in_(chunk))
            for row in conn.execute(stmt):
                crtd = row.Crtd_DateTime
                if crtd is not None and not isinstance(crtd, dt.datetime):
                    crtd = dt.datetime.fromisoformat(str(crtd))
                out[(_s(row.Module), _s(row.BatNbr))] = SLBatchState(
                    module=_s(row.Module),
                    bat_nbr=_s(row.BatNbr),
                    status=_s(row.Status),
                    rlsed=bool(row.Rlsed),
                    per_post=_s(row.PerPost),
                    crtd=crtd,
                )
    return out


@dataclass(frozen=True, slots=True)
class WhyNotPosted:
    """What our own tables say about a transaction that has no posted SL document."""

    code: str  # review | dead_letter | skipped | removed | ""
    reason: str
    reason_code: str = ""  # the review item's own code (e.g. posted_copy_changed)


def why_not_posted(conn: sa.Connection, transaction_ids: Sequence[int]) -> dict[int, WhyNotPosted]:
    """Open review items, unreplayed dead letters, skips and removed ledger rows, by transaction id.

    Precedence (the most actionable first): review → dead-letter → removed (voided) → skipped.
    """
    ids = sorted(set(transaction_ids))
    found: dict[int, WhyNotPosted] = {}
    if not ids:
        return found
    live = live_table_names(conn)

    def put(txid: Any, code: str, reason: str, reason_code: str = "") -> None:
        if txid is not None and int(txid) not in found:
            found[int(txid)] = WhyNotPosted(code, reason, reason_code)

    for chunk in _chunks(ids):
        if xPTReview.name.lower() in live:
            stmt = (
                sa.select(xPTReview.c.transaction_id, xPTReview.c.reason_code, xPTReview.c.reason)
                .where(xPTReview.c.transaction_id.in_(chunk), xPTReview.c.resolved_at.is_(None))
                .order_by(xPTReview.c.id)
            )
            for txid, code, reason in conn.execute(stmt):
                put(txid, "review", f"waiting in the review queue ({_s(code)}): {_s(reason)}", _s(code))
    for chunk in _chunks(ids):
        if xPTDeadLetter.name.lower() in live:
            stmt = (
                sa.select(xPTDeadLetter.c.transaction_id, xPTDeadLetter.c.reason)
                .where(xPTDeadLetter.c.transaction_id.in_(chunk), xPTDeadLetter.c.replayed_at.is_(None))
                .order_by(xPTDeadLetter.c.id)
            )
            for txid, reason in conn.execute(stmt):
                put(txid, "dead_letter", f"dead-lettered (failed data checks): {_s(reason)}")
    for chunk in _chunks(ids):
        stmt = (
            sa.select(xPTLedger.c.transaction_id, xPTLedger.c.ledger_key, xPTLedger.c.note)
            .where(xPTLedger.c.transaction_id.in_(chunk), xPTLedger.c.status == "removed")
            .order_by(xPTLedger.c.ledger_key)
        )
        for txid, key, note in conn.execute(stmt):
            put(txid, "removed", f"{_s(key)} removed from SL: {_s(note)}")
    for chunk in _chunks(ids):
        if xPTSkip.name.lower() in live:
            stmt = (
                sa.select(xPTSkip.c.transaction_id, xPTSkip.c.reason_code, xPTSkip.c.reason)
                .where(xPTSkip.c.transaction_id.in_(chunk))
                .order_by(xPTSkip.c.id)
            )
            for txid, code, reason in conn.execute(stmt):
                put(txid, "skipped", f"skipped ({_s(code)}): {_s(reason)}")
    return found


def loads_json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
