"""Every statement the SL writer issues, built in one place (so the T-SQL golden files cover them all).

Statements are SQLAlchemy Core constructs over the catalog (SL's names, unquoted) and our ``xPT*``
tables; the writer executes them, ``tests/golden`` compiles them for ``mssql+pyodbc``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview

B = catalog.Batch
D = catalog.ARDoc
T = catalog.ARTran
G = catalog.GLTran

UNRELEASED_STATUSES = ("H", "B")


def insert_stmt(tbl: sa.Table, *, include_identity: bool) -> sa.Insert:
    """``INSERT INTO <tbl> (<every writable column>) VALUES (…)`` with one bind parameter per column.

    Listing the columns explicitly (rather than relying on the first row's keys) keeps the statement —
    and SQL Server's cached plan — identical for every row and every batch.
    """
    cols = catalog.writable_columns(tbl, include_identity=include_identity)
    return sa.insert(tbl).values({c.name: sa.bindparam(c.name, type_=c.type) for c in cols})


def ledger_keys_stmt(keys: Iterable[str], *, pg_array: bool = False) -> sa.Select[Any]:
    """Ledger rows for these keys (the exactly-once filter); see :func:`_ref_filter` for ``pg_array``."""
    return sa.select(xPTLedger.c.ledger_key, xPTLedger.c.status).where(
        _ref_filter(xPTLedger.c.ledger_key, keys, pg_array)
    )


def posted_txn_stmt(transaction_ids: Iterable[int], *, pg_array: bool = False) -> sa.Select[Any]:
    """The one posting (payment or refund row) of each of these PayTrace ids, whatever its ledger key.

    ``pg_array``: on PostgreSQL one ``= ANY(:txids)`` array parameter for any count (see :func:`_ref_filter`).
    """
    values = sorted(set(transaction_ids))
    col = xPTLedger.c.posted_txn_id
    where = (
        col == sa.any_(sa.bindparam("txids", values, type_=ARRAY(sa.BigInteger)))
        if pg_array
        else col.in_(values)
    )
    return sa.select(xPTLedger.c.posted_txn_id, xPTLedger.c.ledger_key, xPTLedger.c.kind).where(where)


def ledger_row_stmt(key: str) -> sa.Select[Any]:
    return sa.select(xPTLedger).where(xPTLedger.c.ledger_key == key)


def ledger_insert_stmt() -> sa.Insert:
    return sa.insert(xPTLedger)


def ledger_mark_removed_stmt(key: str) -> sa.Update:
    return (
        sa.update(xPTLedger)
        .where(xPTLedger.c.ledger_key == key, xPTLedger.c.status == "posted")
        .values(status="removed", updated_at=sa.bindparam("updated_at"), note=sa.bindparam("note"))
    )


def review_insert_stmt() -> sa.Insert:
    return sa.insert(xPTReview)


def open_reviews_stmt(keys: Iterable[str], reason_code: str) -> sa.Select[Any]:
    """Ledger keys of these items with an unresolved review item of ``reason_code`` (no duplicates)."""
    r = xPTReview
    return sa.select(r.c.ledger_key).where(
        r.c.ledger_key.in_(sorted(set(keys))), r.c.reason_code == reason_code, r.c.resolved_at.is_(None)
    )


def max_record_id_stmt() -> sa.Select[Any]:
    """SQLite only (no identity there): the writer numbers ARTran.RecordID itself under its write lock."""
    return sa.select(sa.func.coalesce(sa.func.max(T.c.RecordID), 0))


def _ref_filter(col: sa.ColumnElement[Any], refs: Iterable[str], pg_array: bool) -> sa.ColumnElement[bool]:
    """``col IN (…)`` (every dialect), or on PostgreSQL ``col = ANY(:refs)``: one parameter for any count
    (a 1,000-item ``IN`` list is 1,000 bind parameters the driver parses and the server plans per chunk).
    """
    values = sorted(set(refs))
    if pg_array:
        return col == sa.any_(sa.bindparam("refs", values, type_=ARRAY(sa.String)))
    return col.in_(values)


def _adjusted_doc_columns() -> tuple[sa.Column[Any], ...]:
    """What the writer reads of an invoice it applies a payment to (both look-ups select the same)."""
    return (
        D.c.CustId,
        D.c.DocType,
        D.c.RefNbr,
        D.c.Rlsed,
        D.c.OpenDoc,
        D.c.CuryDocBal,
        D.c.DocBal,
        D.c.BankAcct,
        D.c.BankSub,
        D.c.CuryRate,
        D.c.CpnyID,
    )


def adjusted_docs_stmt(refs: Iterable[str], *, pg_array: bool = False) -> sa.Select[Any]:
    """Candidate invoices (any customer) for application lines, locked against concurrent changes."""
    return (
        sa.select(*_adjusted_doc_columns())
        .where(_ref_filter(D.c.RefNbr, refs, pg_array))
        .with_hint(D, "WITH (UPDLOCK, ROWLOCK)", "mssql")
        .with_for_update()
    )


def adjusted_docs_keyed_stmt(keys: Iterable[tuple[str, str, str]]) -> sa.Select[Any]:
    """PostgreSQL only: the documents of these (CustId, DocType, RefNbr) keys, locked (``FOR UPDATE``).

    The keys are ``ARDoc0``'s leading columns, sent as three parallel ``varchar`` array parameters and
    unnested into a semi-join, so PostgreSQL probes the primary key once per key whatever its statistics
    say. ``RefNbr = ANY(:refs)`` on a table without statistics (autovacuum off, or a freshly loaded SL
    copy) is planned as a pass over all of ``ARDoc``, once per batch (docs/performance.md, issue 17).
    ``varchar``, not the columns' ``char(n)``: the comparison is SL's (trailing blanks ignored) and a value
    longer than the column matches nothing, where a cast to ``char(n)`` would cut it to fit.
    """
    ordered = sorted(set(keys))
    arrays = [
        sa.func.unnest(sa.bindparam(f"applied_{name}", [k[i] for k in ordered], type_=ARRAY(sa.String)))
        for i, name in enumerate(("cust", "doc_type", "ref"))
    ]
    return (
        sa.select(*_adjusted_doc_columns())
        .where(sa.tuple_(D.c.CustId, D.c.DocType, D.c.RefNbr).in_(sa.select(*arrays)))
        .with_for_update(of=D)
    )


def unreleased_ar_batches_stmt() -> sa.Select[Any]:
    """AR batches SL has not released (nor voided/deleted): their applications count against balances."""
    return sa.select(B.c.BatNbr).where(
        B.c.Module == "AR", B.c.Rlsed == 0, B.c.Status != "V", B.c.Status != "D"
    )


def pending_applications_stmt(refs: Iterable[str], *, pg_array: bool = False) -> sa.Select[Any]:
    """Σ of application (U) lines already waiting in unreleased AR batches, per adjusted document."""
    return (
        sa.select(T.c.CustId, T.c.CostType, T.c.SiteId, sa.func.sum(T.c.CuryTranAmt))
        .where(
            T.c.DrCr == "U",
            _ref_filter(T.c.SiteId, refs, pg_array),
            T.c.BatNbr.in_(unreleased_ar_batches_stmt()),
        )
        .group_by(T.c.CustId, T.c.CostType, T.c.SiteId)
    )


# What SL's screens and release procedures change on a ``Batch`` row whenever one of its documents changes
# (saving a document re-totals the batch and stamps LUpd_*; release sets Rlsed/Status; void/delete set
# Status) and ``tstamp``, SQL Server's rowversion, which changes on any update of the row. The pending-
# applications cache (sl/pending.py) re-reads a batch's application lines when any of these differ.
BATCH_FINGERPRINT = (
    "Status",
    "Rlsed",
    "CrTot",
    "DrTot",
    "CtrlTot",
    "CuryCrTot",
    "CuryDrTot",
    "CuryCtrlTot",
    "DepositAmt",
    "CuryDepositAmt",
    "LUpd_DateTime",
    "LUpd_Prog",
    "LUpd_User",
    "tstamp",
)


def unreleased_ar_batch_rows_stmt(bat_nbr: str | None = None) -> sa.Select[Any]:
    """The unreleased AR batches (:func:`unreleased_ar_batches_stmt`) with their fingerprint columns
    (``bat_nbr``: that one batch, by ``Batch0``)."""
    stmt = sa.select(B.c.BatNbr, *(B.c[name] for name in BATCH_FINGERPRINT)).where(
        B.c.Module == "AR", B.c.Rlsed == 0, B.c.Status != "V", B.c.Status != "D"
    )
    return stmt if bat_nbr is None else stmt.where(B.c.BatNbr == bat_nbr)


def pending_lines_by_batch_stmt(bat_nbrs: Iterable[str] | None = None) -> sa.Select[Any]:
    """Σ of application (U) lines per (adjusted document, batch): every unreleased AR batch's, or those
    of ``bat_nbrs`` only. One pass over ``ARTran`` (SL has no ``BatNbr`` index); the caller keeps what
    it needs."""
    where = (
        T.c.BatNbr.in_(unreleased_ar_batches_stmt())
        if bat_nbrs is None
        else T.c.BatNbr.in_(sorted(set(bat_nbrs)))
    )
    return (
        sa.select(T.c.CustId, T.c.CostType, T.c.SiteId, T.c.BatNbr, sa.func.sum(T.c.CuryTranAmt))
        .where(T.c.DrCr == "U", where)
        .group_by(T.c.CustId, T.c.CostType, T.c.SiteId, T.c.BatNbr)
    )


def refund_candidate_payments_stmt(cust_id: str, ext_ref: str) -> sa.Select[Any]:
    """The customer's payments, newest first, that a refund of money on account may be paid from.

    ``ext_ref`` (the PayTrace invoice id a refund carries from its sale) narrows them to the sale's
    receipts; blank → any payment of the customer. Read-only: the writer only names the candidate.
    """
    where = [D.c.CustId == cust_id, D.c.DocType == "PA"]
    if ext_ref:
        where.append(D.c.CustOrdNbr == ext_ref)
    return (
        sa.select(D.c.RefNbr, D.c.Rlsed, D.c.DocBal, D.c.OrigDocAmt, D.c.ApplAmt)
        .where(*where)
        .order_by(D.c.DocDate.desc(), D.c.RefNbr.desc())
    )


def customers_stmt(cust_ids: Iterable[str]) -> sa.Select[Any]:
    cu = catalog.Customer
    return sa.select(cu.c.CustId, cu.c.ArAcct, cu.c.ArSub, cu.c.Status).where(
        cu.c.CustId.in_(sorted(set(cust_ids)))
    )


# ---- void ------------------------------------------------------------------------------------------------


def lock_batch_stmt(module: str, bat_nbr: str) -> sa.Select[Any]:
    """The batch header, row-locked, so an SL user cannot start releasing it while we remove a document."""
    return (
        sa.select(B.c.Status, B.c.Rlsed, B.c.CuryId)
        .where(B.c.Module == module, B.c.BatNbr == bat_nbr)
        .with_hint(B, "WITH (UPDLOCK, ROWLOCK)", "mssql")
        .with_for_update()
    )


def payment_doc_stmt(cust_id: str, ref_nbr: str, bat_nbr: str, doc_type: str = "PA") -> sa.Select[Any]:
    """A document we wrote (a payment; ``doc_type`` CM/DM for a refund's memos)."""
    return sa.select(D.c.Rlsed, D.c.OrigDocAmt).where(
        D.c.CustId == cust_id, D.c.DocType == doc_type, D.c.RefNbr == ref_nbr, D.c.BatNbr == bat_nbr
    )


def delete_payment_lines_stmt(cust_id: str, ref_nbr: str, bat_nbr: str, doc_type: str = "PA") -> sa.Delete:
    return sa.delete(T).where(
        T.c.CustId == cust_id,
        T.c.TranType == doc_type,
        T.c.RefNbr == ref_nbr,
        T.c.BatNbr == bat_nbr,
        T.c.Rlsed == 0,
    )


def delete_payment_doc_stmt(cust_id: str, ref_nbr: str, bat_nbr: str, doc_type: str = "PA") -> sa.Delete:
    return sa.delete(D).where(
        D.c.CustId == cust_id,
        D.c.DocType == doc_type,
        D.c.RefNbr == ref_nbr,
        D.c.BatNbr == bat_nbr,
        D.c.Rlsed == 0,
    )


def batch_doc_sums_stmt(bat_nbr: str) -> sa.Select[Any]:
    """What SL's release compares the batch totals with (12123): Σ documents whose BatNbr is the batch."""
    return sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(D.c.CuryOrigDocAmt), 0.0),
        sa.func.coalesce(sa.func.sum(D.c.OrigDocAmt), 0.0),
    ).where(D.c.BatNbr == bat_nbr, D.c.DocType != "SB", D.c.DocType != "SC")


def update_batch_totals_stmt(module: str, bat_nbr: str) -> sa.Update:
    return (
        sa.update(B)
        .where(B.c.Module == module, B.c.BatNbr == bat_nbr, B.c.Rlsed == 0)
        .values(
            CrTot=sa.bindparam("CrTot"),
            CtrlTot=sa.bindparam("CtrlTot"),
            CuryCrTot=sa.bindparam("CuryCrTot"),
            CuryCtrlTot=sa.bindparam("CuryCtrlTot"),
            DepositAmt=sa.bindparam("DepositAmt"),
            CuryDepositAmt=sa.bindparam("CuryDepositAmt"),
            Status=sa.bindparam("Status"),
            LUpd_DateTime=sa.bindparam("LUpd_DateTime"),
            LUpd_Prog=sa.bindparam("LUpd_Prog"),
            LUpd_User=sa.bindparam("LUpd_User"),
        )
    )


def golden_statements() -> dict[str, sa.Executable]:
    """Named, representative instances of every statement kind (for the T-SQL golden files)."""
    from paytrace_sl.sl import numbering

    return {
        "lock_ar_setup": numbering.lock_setup_stmt("AR", "LastBatNbr", "LastRefNbr"),
        "lock_gl_setup": numbering.lock_setup_stmt("GL", "LastBatNbr"),
        "batch_exists": numbering.batch_exists_stmt("AR", "000101"),
        "update_ar_last_bat_nbr": numbering.update_last_bat_nbr_stmt("AR", "000101"),
        "update_gl_last_bat_nbr": numbering.update_last_bat_nbr_stmt("GL", "000101"),
        "refnbr_used": numbering.refnbr_used_stmt("000452"),
        "ardoc_refnbr_used": numbering.ardoc_refnbr_used_stmt("000452"),
        "update_last_ref_nbr": numbering.update_last_ref_nbr_stmt("000452"),
        "insert_batch": insert_stmt(catalog.Batch, include_identity=False),
        "insert_ardoc": insert_stmt(catalog.ARDoc, include_identity=False),
        "insert_artran": insert_stmt(catalog.ARTran, include_identity=False),
        "insert_gltran": insert_stmt(catalog.GLTran, include_identity=False),
        "insert_refnbr": insert_stmt(catalog.RefNbr, include_identity=False),
        "ledger_keys": ledger_keys_stmt(["paytrace:1:payment"]),
        "ledger_row": ledger_row_stmt("paytrace:1:payment"),
        "posted_txn": posted_txn_stmt([1]),
        "ledger_insert": ledger_insert_stmt(),
        "ledger_mark_removed": ledger_mark_removed_stmt("paytrace:1:payment"),
        "review_insert": review_insert_stmt(),
        "open_reviews": open_reviews_stmt(["paytrace:1:payment"], "closed_period"),
        "adjusted_docs": adjusted_docs_stmt(["000451"]),
        "pending_applications": pending_applications_stmt(["000451"]),
        "unreleased_ar_batch_rows": unreleased_ar_batch_rows_stmt(),
        "pending_lines_by_batch": pending_lines_by_batch_stmt(),
        "pending_lines_of_batches": pending_lines_by_batch_stmt(["000101", "000102"]),
        "customers": customers_stmt(["C100"]),
        "refund_candidate_payments": refund_candidate_payments_stmt("C100", "000451"),
        "lock_batch": lock_batch_stmt("AR", "000101"),
        "payment_doc": payment_doc_stmt("C100", "81234567", "000101"),
        "delete_payment_lines": delete_payment_lines_stmt("C100", "81234567", "000101"),
        "delete_payment_doc": delete_payment_doc_stmt("C100", "81234567", "000101"),
        "batch_doc_sums": batch_doc_sums_stmt("000101"),
        "update_batch_totals": update_batch_totals_stmt("AR", "000101"),
    }
