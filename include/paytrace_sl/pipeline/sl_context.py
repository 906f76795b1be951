"""What the transformation needs to know from SL, read once per window (no per-row queries).

SL customers, the PayTrace→SL customer cross-reference, open released invoices (and the customer of any
invoice, open or closed), sales orders, and our
ledger (what we already posted for these transactions and the PayTrace state at that time). The
transform itself is pure: tests build an :class:`SLContext` in memory.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.pipeline.posted_copies import POSTING_KINDS, PostedFacts
from paytrace_sl.sl.rows import money_read

if TYPE_CHECKING:
    from paytrace_sl.pipeline.mapping import Mapping as Mapping_

__all__ = ["LedgerEntry", "OpenInvoice", "SLContext", "SLContextError", "SalesOrder", "load_sl_context"]

_CHUNK = 500  # SQL Server allows 2100 parameters per statement
_PG_ARRAY_CHUNK = 100_000  # keys per array parameter on PostgreSQL


class SLContextError(PaytraceSlError, RuntimeError):
    """SL (or our tables in it) cannot be read as the transformation needs."""


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An open, released SL invoice (ARDoc DocType IN, Rlsed=1, OpenDoc=1)."""

    ref_nbr: str
    cust_id: str
    doc_bal: Decimal
    cpny_id: str = ""


@dataclass(frozen=True, slots=True)
class SalesOrder:
    ord_nbr: str
    cust_id: str
    cpny_id: str = ""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """Our ledger rows of one PayTrace transaction: kind → status, and the PayTrace state posted."""

    kinds: Mapping[str, str]  # payment|refund|void → posted|removed|superseded
    paytrace_state: str
    posted: PostedFacts | None = None  # what the id's one posting (payment or refund) was

    def has(self, kind: str, *statuses: str) -> bool:
        status = self.kinds.get(kind)
        return status is not None and (not statuses or status in statuses)


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class SLContext:
    cpny_id: str = ""  # default company from SL setup ("" when unknown)
    customers: frozenset[str] = frozenset()
    xref: Mapping[str, str] = field(default_factory=_empty)  # PayTrace customer_id → SL CustId
    open_invoices: Mapping[str, tuple[OpenInvoice, ...]] = field(default_factory=_empty)  # by RefNbr
    orders: Mapping[str, tuple[SalesOrder, ...]] = field(default_factory=_empty)  # by OrdNbr
    ledger: Mapping[int, LedgerEntry] = field(default_factory=_empty)
    # RefNbr → customers of ANY SL invoice with that number: open or closed, released or not. Who owns an
    # invoice never depends on whether it is paid or released (the books must not depend on when
    # someone clicked Release); only applying money needs it open and released (the writer checks).
    invoice_owners: Mapping[str, frozenset[str]] = field(default_factory=_empty)
    # a person's choice for one transaction (review workbench resolve): PayTrace id → (SL CustId, invoice
    # RefNbr or ""). It wins over the matching strategies for that transaction only.
    overrides: Mapping[int, tuple[str, str]] = field(default_factory=_empty)

    @classmethod
    def build(
        cls,
        *,
        cpny_id: str = "",
        customers: Iterable[str] = (),
        xref: Mapping[str, str] | None = None,
        invoices: Iterable[OpenInvoice] = (),
        orders: Iterable[SalesOrder] = (),
        ledger: Mapping[int, LedgerEntry] | None = None,
        invoice_owners: Iterable[tuple[str, str]] = (),
    ) -> SLContext:
        """Convenience constructor from plain iterables (tests, replays).

        ``invoice_owners``: (RefNbr, CustId) of invoices that are not open (closed, unreleased); the
        open ``invoices`` are owners too.
        """
        by_ref: dict[str, list[OpenInvoice]] = {}
        # RefNbr → owners as frozensets built as they come, one shared set per customer: an invoice has one
        # customer and customers have many invoices (a set per RefNbr was ~200 bytes × 600k at 1M)
        owners: dict[str, frozenset[str]] = {}
        single: dict[str, frozenset[str]] = {}

        def own(ref_nbr: str, cust_id: str) -> None:
            have = owners.get(ref_nbr)
            if have is None:
                owners[ref_nbr] = single.get(cust_id) or single.setdefault(cust_id, frozenset((cust_id,)))
            elif cust_id not in have:
                owners[ref_nbr] = have | {cust_id}

        for inv in invoices:
            by_ref.setdefault(inv.ref_nbr, []).append(inv)
            own(inv.ref_nbr, inv.cust_id)
        for ref_nbr, cust_id in invoice_owners:
            own(ref_nbr, cust_id)
        by_ord: dict[str, list[SalesOrder]] = {}
        for order in orders:
            by_ord.setdefault(order.ord_nbr, []).append(order)
        return cls(
            cpny_id=cpny_id,
            customers=frozenset(customers),
            xref=MappingProxyType(dict(xref or {})),
            open_invoices=MappingProxyType({k: tuple(v) for k, v in by_ref.items()}),
            orders=MappingProxyType({k: tuple(v) for k, v in by_ord.items()}),
            ledger=MappingProxyType(dict(ledger or {})),
            invoice_owners=MappingProxyType(owners),
        )


def _chunks(values: Iterable[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    numpy = sys.modules.get("numpy")  # not imported for it: an array can only come from who imported it
    if numpy is not None and isinstance(values, numpy.ndarray):  # sorted and unique (np.unique)
        for start in range(0, len(values), size):
            yield values[start : start + size].tolist()
        return
    items = sorted(set(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _key_filters(
    conn: sa.Connection,
    col: sa.ColumnElement[Any],
    values: Iterable[Any],
    item_type: sa.types.TypeEngine[Any],
) -> Iterator[sa.ColumnElement[bool]]:
    """``col IN (…)`` per chunk of 500 values, or on PostgreSQL ``col = ANY(:array)`` per 100,000.

    One array is one bind parameter whatever its length, so a window of any size costs a handful of
    statements on PostgreSQL instead of one per 500 keys. SQL Server and SQLite keep the IN chunks
    (SQL Server allows 2,100 parameters per statement).
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        for chunk in _chunks(values, _PG_ARRAY_CHUNK):
            yield col == sa.any_(sa.bindparam(None, chunk, type_=ARRAY(item_type)))
    else:
        for chunk in _chunks(values):
            yield col.in_(chunk)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()  # SQL Server pads char(n) with blanks


def _money(value: Any) -> Decimal:
    return money_read(value)


def load_sl_context(
    conn: sa.Connection,
    *,
    transaction_ids: Iterable[int],
    customer_ids: Iterable[str],
    invoice_ids: Iterable[str],
    cpny_id: str | None = None,
    mapping: Mapping_ | None = None,
    open_invoices: bool = True,
) -> SLContext:
    """Read everything the transform needs for one window, in a handful of set-based queries.

    ``customer_ids`` are PayTrace vault customer ids (looked up as SL CustIds and in xPTCustXref);
    ``invoice_ids`` are PayTrace invoice ids (looked up as open invoice RefNbrs and SO OrdNbrs).
    The default company is ``cpny_id``, else ``mapping.company``, else SL's setup (GLSetup/vs_Company).
    ``open_invoices=False`` leaves :attr:`SLContext.open_invoices` empty (the transform reads only who owns
    an invoice, ``invoice_owners``; an ``OpenInvoice`` with its balance per invoice is memory it never reads).
    Our own tables must be installed (``paytrace_sl.sl.own_tables.install``).
    """
    from paytrace_sl.sl import catalog, own_tables
    from paytrace_sl.sl.catalog import live_table_names

    live = live_table_names(conn)
    for tbl in (own_tables.xPTLedger, own_tables.xPTCustXref):
        if tbl.name.lower() not in live:
            raise SLContextError(
                f"table {tbl.name} is missing in the SL database: install the integration tables first "
                "(paytrace_sl.sl.own_tables.install / `paytrace-sl sl install`)"
            )
    pt_customers = {c.strip() for c in customer_ids if c and c.strip()}
    invoice_keys = {i.strip() for i in invoice_ids if i and i.strip()}
    import numpy as np

    # sorted unique ids as one int64 array (a window's million ids as a set of ints was ~100 MB)
    tx_ids = np.unique(np.fromiter((int(t) for t in transaction_ids), dtype=np.int64))

    xref: dict[str, str] = {}
    x = own_tables.xPTCustXref
    for key_filter in _key_filters(conn, x.c.paytrace_customer_id, pt_customers, sa.String()):
        rows = conn.execute(
            sa.select(x.c.paytrace_customer_id, x.c.cust_id).where(key_filter, x.c.active == 1)
        )
        xref.update({_text(r[0]): _text(r[1]) for r in rows})

    invoices: list[OpenInvoice] = []
    owners: list[tuple[str, str]] = []  # every invoice, open or closed, released or not: its customer
    custs: dict[str, str] = {}  # one string per customer (they own many invoices)
    ar = catalog.ARDoc
    for key_filter in _key_filters(conn, ar.c.RefNbr, invoice_keys, sa.String()):
        inv_rows = conn.execute(
            sa.select(ar.c.RefNbr, ar.c.CustId, ar.c.DocBal, ar.c.CpnyID, ar.c.Rlsed, ar.c.OpenDoc).where(
                ar.c.DocType == "IN", key_filter
            )
        )
        for r in inv_rows:
            cust = _text(r[1])
            owners.append((_text(r[0]), custs.get(cust) or custs.setdefault(cust, cust)))
            if open_invoices and int(r[4] or 0) == 1 and int(r[5] or 0) == 1:
                invoices.append(OpenInvoice(_text(r[0]), _text(r[1]), _money(r[2]), _text(r[3])))

    orders: list[SalesOrder] = []
    so = catalog.SOHeader
    for key_filter in _key_filters(conn, so.c.OrdNbr, invoice_keys, sa.String()):
        so_rows = conn.execute(
            sa.select(so.c.OrdNbr, so.c.CustID, so.c.CpnyID).where(key_filter, so.c.Cancelled == 0)
        )
        orders += [SalesOrder(_text(r[0]), _text(r[1]), _text(r[2])) for r in so_rows]

    wanted_customers = (
        pt_customers | set(xref.values()) | {c for _, c in owners} | {o.cust_id for o in orders}
    )
    customers: set[str] = set()
    cu = catalog.Customer
    for key_filter in _key_filters(conn, cu.c.CustId, wanted_customers, sa.String()):
        customers |= {_text(r[0]) for r in conn.execute(sa.select(cu.c.CustId).where(key_filter))}

    ledger_rows: dict[int, tuple[dict[str, str], Any, str]] = {}
    posted: dict[int, tuple[bool, PostedFacts]] = {}
    lg = own_tables.xPTLedger
    for key_filter in _key_filters(conn, lg.c.transaction_id, tx_ids, sa.BigInteger()):
        lg_rows = conn.execute(
            sa.select(
                lg.c.transaction_id,
                lg.c.kind,
                lg.c.status,
                lg.c.paytrace_state,
                lg.c.updated_at,
                lg.c.amount,
                lg.c.paytrace_type,
                lg.c.customer_digest,
                lg.c.posted_txn_id,
            )
            .where(key_filter)
            .order_by(lg.c.updated_at, lg.c.id)
        )
        for tid, kind, status, state, updated, amount, ptype, digest, once in lg_rows:
            kinds, _, _ = ledger_rows.setdefault(int(tid), ({}, None, ""))
            kinds[_text(kind)] = _text(status)
            ledger_rows[int(tid)] = (kinds, updated, _text(state))  # latest row's state wins
            if _text(kind) in POSTING_KINDS and (
                int(tid) not in posted or (once and not posted[int(tid)][0])
            ):
                # the row holding the id's one posting (posted_txn_id) wins over a pre-v3 second posting
                facts = PostedFacts(_text(kind), Decimal(str(amount)), _text(ptype), _text(digest))
                posted[int(tid)] = (once is not None, facts)
    ledger = {
        tid: LedgerEntry(
            kinds=MappingProxyType(kinds),
            paytrace_state=state,
            posted=posted[tid][1] if tid in posted else None,
        )
        for tid, (kinds, _, state) in ledger_rows.items()
    }

    default_cpny = cpny_id or (mapping.company if mapping is not None else "")
    if not default_cpny:
        from paytrace_sl.sl.setup import SLSetupError, load_sl_setup

        try:
            default_cpny = load_sl_setup(conn).cpny_id
        except SLSetupError:
            default_cpny = ""  # the transform fails clearly if mapping.yaml names no company either
    return SLContext.build(
        cpny_id=default_cpny,
        customers=customers,
        xref=xref,
        invoices=invoices,
        orders=orders,
        ledger=ledger,
        invoice_owners=owners,
    )
