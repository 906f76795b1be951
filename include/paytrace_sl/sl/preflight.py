"""Release preflight: the checks SL's release procedures make, run on UNRELEASED batches.

SL's AR release (``pp_08400``) and GL release (``pp_01400``) reject a batch for reasons listed in the
reference (§4.4, §7 item 8). Finding them *before* a user clicks Release — and before the writer commits —
keeps the books clean. Each :class:`Finding` carries SL's own error number where SL has one; where SL
has none we use a documented number from our own range 90301–90399 (see ``docs/accounting.md``).

All checks are set-based SQL over the batches in scope (``Batch.Rlsed = 0``, status not ``V``/``D``),
so they run inside the writer's transaction at the cost of a few queries per batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from paytrace_sl.sl import catalog
from paytrace_sl.sl.pending import PendingApplications
from paytrace_sl.sl.rows import ColumnRows, money_decimal
from paytrace_sl.sl.writer_sql import pending_applications_stmt, unreleased_ar_batches_stmt

# SL's own error numbers (messages from pp_08400 / pp_01400).
ERR_BATCH_TOTALS = 12123  # batch totals differ from the sum of its documents
ERR_CURY_NE_BASE = 12124  # base-currency document with CuryTranAmt <> TranAmt
ERR_DOC_NO_LINES = 12125  # ARTrans missing or blank RefNbr
ERR_TRAN_NO_DOC = 12126  # transactions without a document
ERR_APPL_UNRELEASED = 12306  # payment batch would be released before the invoice batch
ERR_MISSING_BATCH = 12319  # missing batch or blank EditScrnNbr
ERR_BAD_CUSTOMER = 12347  # ARDocs have invalid Customer id
ERR_GL_UNBALANCED = 6019  # GL batch out of balance (debits <> credits)
ERR_BAD_ACCOUNT = 6928  # invalid (or blank/inactive) account
ERR_BAD_SUB = 6929  # invalid (or blank/inactive) subaccount
ERR_OUT_OF_BALANCE = 8888  # batch totals out of balance with its lines (GL)
# Our own numbers, for checks SL makes without a published number (documented in docs/accounting.md).
PT_APPL_DOC_MISSING = 90301  # application line points at no document of that customer
PT_APPL_DOC_CLOSED = 90302  # application line points at a closed (paid) document
PT_APPL_SHORT_BALANCE = 90303  # applications exceed the document's open balance
PT_MULTI_PERPOST = 90310  # a document/line has a PerPost different from its batch (one PerPost per batch)
PT_PRIOR_PERIOD = 90311  # batch PerPost before the module's current period (ARSetup/GLSetup.PerNbr)
PT_CLOSED_PERIOD = 90312  # batch PerPost at or before GLSetup.LastClosePerNbr (a closed GL period)
PT_VALUE_TOO_LONG = 90320  # value longer than its char(n) column
PT_NULL_VALUE = 90321  # NULL in an SL column (SL never stores NULL)
PT_REQUIRED_BLANK = 90322  # a key/required column is blank
PT_DUPLICATE_PAYMENT = 90330  # same PA RefNbr twice for one customer (SL's xv_PCLDUPARPAY)

ERROR_TITLES: dict[int, str] = {
    ERR_BATCH_TOTALS: "batch totals differ from its documents",
    ERR_CURY_NE_BASE: "base-currency amount differs from currency amount",
    ERR_DOC_NO_LINES: "document without lines / blank RefNbr",
    ERR_TRAN_NO_DOC: "transactions without a document",
    ERR_APPL_UNRELEASED: "application to an unreleased document",
    ERR_MISSING_BATCH: "missing batch or blank EditScrnNbr",
    ERR_BAD_CUSTOMER: "invalid customer",
    ERR_GL_UNBALANCED: "GL batch out of balance",
    ERR_BAD_ACCOUNT: "invalid account",
    ERR_BAD_SUB: "invalid subaccount",
    ERR_OUT_OF_BALANCE: "batch totals out of balance with lines",
    PT_APPL_DOC_MISSING: "application to a missing document",
    PT_APPL_DOC_CLOSED: "application to a closed document",
    PT_APPL_SHORT_BALANCE: "applications exceed open balance",
    PT_MULTI_PERPOST: "more than one PerPost in a batch",
    PT_PRIOR_PERIOD: "posts before the current period",
    PT_CLOSED_PERIOD: "posts into a closed period",
    PT_VALUE_TOO_LONG: "value longer than its column",
    PT_NULL_VALUE: "NULL value",
    PT_REQUIRED_BLANK: "required value blank",
    PT_DUPLICATE_PAYMENT: "duplicate payment reference",
}

B = catalog.Batch
D = catalog.ARDoc
T = catalog.ARTran
G = catalog.GLTran

# Columns that must never be blank. Deliberately short: SL's release fills LedgerID, CuryId, FiscYr and
# the like itself, so batches keyed in by SL users must not be flagged for leaving them blank.
REQUIRED: dict[str, tuple[str, ...]] = {
    "Batch": ("Module", "BatNbr", "CpnyID", "PerPost", "Status"),
    "ARDoc": ("CustId", "DocType", "BatNbr", "CpnyID", "PerPost"),
    "ARTran": ("CustId", "TranType", "BatNbr", "PerPost", "DrCr"),
    "GLTran": ("Module", "BatNbr", "CpnyID", "LedgerID", "PerPost", "Posted"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason SL's release would reject (or mis-post) a batch."""

    error: int
    module: str
    bat_nbr: str
    doc_type: str
    ref_nbr: str
    message: str
    cust_id: str = ""

    @property
    def title(self) -> str:
        return ERROR_TITLES.get(self.error, "")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "title": self.title}

    def __str__(self) -> str:
        doc = f" {self.doc_type} {self.ref_nbr}".rstrip() if (self.doc_type or self.ref_nbr) else ""
        return f"[{self.error}] {self.module} batch {self.bat_nbr}{doc}: {self.message}"


def _s(value: object) -> str:
    return "" if value is None else str(value).strip()


def _blank(col: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return sa.func.coalesce(sa.func.rtrim(col), "") == ""


@dataclass(frozen=True, slots=True)
class WrittenKeys:
    """The SL keys of the ARTran rows the writer has just inserted into one AR batch.

    ``trans``: (CustId, TranType, RefNbr), the leading columns of ``ARTran0``. SL has no index on
    ``ARTran.BatNbr``, so reading a batch's lines back by ``BatNbr`` is a pass over the whole table per
    batch (quadratic over a capped day). ``ARDoc`` needs no keys: SL's ``ARDoc8`` leads with ``BatNbr``.
    """

    trans: frozenset[tuple[str, str, str]]


def written_keys(
    rows: Iterable[Mapping[str, object]] | ColumnRows, names: tuple[str, str, str]
) -> frozenset[tuple[str, str, str]]:
    """The distinct ``names`` key triples of rows as the writer built them (dicts or :class:`ColumnRows`).

    Values as written, not stripped: SQLite compares text exactly (PostgreSQL's ``char`` ignores padding).
    """
    if isinstance(rows, ColumnRows):
        cols = [rows.varying.get(n) or [rows.constant.get(n)] * rows.count for n in names]
        return frozenset((_k(a), _k(b), _k(c)) for a, b, c in zip(*cols, strict=True))
    return frozenset((_k(r.get(names[0])), _k(r.get(names[1])), _k(r.get(names[2]))) for r in rows)


def _k(value: object) -> str:
    return "" if value is None else str(value)


# The keys of the batch the writer has just written, sent once per batch transaction (PostgreSQL): every
# check that reads the batch's ARTran lines joins this table instead of receiving the keys again as three
# array parameters (psycopg's array dumping was 10 s of a 300k load step, the keys sent ~10× per batch).
_KEYS = sa.Table(
    "ptsl_preflight_keys",
    sa.MetaData(),
    *(sa.Column(c.name, c.type, quote=False) for c in (T.c.CustId, T.c.TranType, T.c.RefNbr)),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
    quote=False,
)


def _can_send_keys(conn: sa.Connection) -> bool:
    """PostgreSQL through psycopg 3 inside a transaction (an autocommit session would drop the table
    again at once)."""
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return False
    raw: Any = conn.connection.driver_connection
    return not raw.autocommit


def _sent_keys(conn: sa.Connection, keys: Iterable[tuple[str, str, str]]) -> sa.Select[Any]:
    """Fill the transaction's temporary key table (PostgreSQL, in a transaction) with one ``COPY``.

    ``ON COMMIT DROP``: it lives as long as the batch's transaction. A second call in the same
    transaction empties it first. Deliberately not ``ANALYZE``d: with its true size the planner turned
    the joins of the keyed lines with ``ARDoc`` into plans 10× slower inside the writer's transaction
    (100k: preflight 15.6 → 48.9 s); without statistics it keeps the hashed semi-join driving index
    look-ups on ``ARTran0`` that the unnested arrays got (100k: 12.7 s).
    """
    conn.execute(sa.schema.CreateTable(_KEYS, if_not_exists=True))
    conn.execute(sa.delete(_KEYS))
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy("COPY ptsl_preflight_keys (CustId, TranType, RefNbr) FROM STDIN") as copy:
            for key in sorted(keys):
                copy.write_row(key)
    return sa.select(_KEYS.c.CustId, _KEYS.c.TranType, _KEYS.c.RefNbr)


def _keyed(
    conn: sa.Connection, cols: tuple[sa.Column[Any], ...], keys: Iterable[tuple[str, str, str]], name: str
) -> sa.ColumnElement[bool]:
    """``(a, b, c) IN keys`` in a form the dialect runs by the primary key.

    PostgreSQL: three parallel array parameters unnested (typed as the columns, so ``char`` padding
    compares as SL stores it) — a hashed semi-join driving index look-ups on ``ARDoc0``/``ARTran0``.
    SQLite: a row-value ``IN`` list. SQL Server has no row-value ``IN``: its callers keep the ``BatNbr``
    path (:meth:`_Scope.keyed`).
    """
    ordered = sorted(keys)
    if conn.dialect.name == "postgresql":
        arrays = [
            sa.func.unnest(sa.bindparam(f"{name}_{i}", [k[i] for k in ordered], type_=ARRAY(c.type)))
            for i, c in enumerate(cols)
        ]
        return sa.tuple_(*cols).in_(sa.select(*arrays))
    return sa.tuple_(*cols).in_(ordered)


class _Scope:
    """The unreleased batches preflight looks at, as reusable SQL fragments.

    With ``keys`` (one AR batch the writer has just written, inside the transaction that took its batch
    number under lock) the batch's ARTran rows are read by the keys written, not by ``BatNbr``.
    This assumes the batch holds nothing else: nobody else can have inserted rows under a number taken
    under lock in this transaction, so the keyed rows *are* the batch. The rows are still read from SL
    (the checks judge what SL holds, not what the writer meant to write). Standalone preflight (CLI,
    pipeline step) and ``sl.pending_cache: false`` pass no keys and read by ``BatNbr``.
    """

    def __init__(
        self,
        module: str | None,
        bat_nbr: str | None,
        keys: WrittenKeys | None = None,
        conn: sa.Connection | None = None,
    ) -> None:
        self.module = module
        self.bat_nbr = bat_nbr
        cond: list[sa.ColumnElement[bool]] = [B.c.Rlsed == 0, B.c.Status != "V", B.c.Status != "D"]
        if module:
            cond.append(B.c.Module == module)
        if bat_nbr:
            cond.append(B.c.BatNbr == bat_nbr)
        self.batch_cond = sa.and_(*cond)
        usable = keys is not None and bat_nbr and conn is not None and conn.dialect.name != "mssql"
        self.keys = keys if usable else None
        self._tran_cond: sa.ColumnElement[bool] | None = None
        if self.keys is not None and conn is not None:
            # The batch must still be in scope (an uncorrelated EXISTS: one probe of Batch), as on the
            # BatNbr path; an empty key set reads nothing (the writer wrote no line).
            own = (T.c.CustId, T.c.TranType, T.c.RefNbr)
            if not self.keys.trans:
                on_keys: sa.ColumnElement[bool] = sa.false()
            elif _can_send_keys(conn):
                on_keys = sa.tuple_(*own).in_(_sent_keys(conn, self.keys.trans))
            else:
                on_keys = _keyed(conn, own, self.keys.trans, "own_tran")
            self._tran_cond = sa.and_(sa.exists(self.batnbrs("AR")), T.c.BatNbr == bat_nbr, on_keys)

    def batnbrs(self, module: str) -> sa.Select[Any]:
        return sa.select(B.c.BatNbr).where(self.batch_cond, B.c.Module == module)

    def wants(self, module: str) -> bool:
        return self.module in (None, module)

    def docs(self) -> sa.ColumnElement[bool]:
        """The ARDoc rows of the AR batches in scope, by ``BatNbr`` (SL's ``ARDoc8``).

        With the writer's keys: ``BatNbr = :bat`` and the batch in scope as an uncorrelated ``EXISTS``
        (one probe of ``Batch``), as :meth:`trans` — the same rows. ``BatNbr IN (in-scope batches)`` was
        planned as a semi-join probing ``Batch`` once per document in the duplicate-payment check,
        each probe filtering every AR batch of the day (1.5 s per 5,000-document batch at 1M).
        """
        if self._tran_cond is not None:
            return sa.and_(sa.exists(self.batnbrs("AR")), D.c.BatNbr == self.bat_nbr)
        return D.c.BatNbr.in_(self.batnbrs("AR"))

    def trans(self) -> sa.ColumnElement[bool]:
        """The ARTran rows of the AR batches in scope: by the written keys, else by ``BatNbr`` (a pass)."""
        if self._tran_cond is not None:
            return self._tran_cond
        return T.c.BatNbr.in_(self.batnbrs("AR"))


def run_preflight(
    conn: sa.Connection,
    *,
    module: str | None = None,
    bat_nbr: str | None = None,
    written: Mapping[str, int] | None = None,
    pending: PendingApplications | None = None,
    keys: WrittenKeys | None = None,
) -> list[Finding]:
    """All findings for unreleased batches (optionally one module and/or one batch number).

    ``written`` (only with ``bat_nbr``): rows per table (``Batch``, ``ARDoc``, ``ARTran``, ``GLTran``) the
    caller has just inserted into that batch with every value checked against the same catalog (the
    writer: :func:`paytrace_sl.sl.rows.complete_row` / ``complete_columns``) and no :data:`REQUIRED`
    value blank (:func:`required_filled`). When a table holds exactly that many rows of the batch, they
    are all the caller's and the NULL / over-long / required-blank check has nothing to find there; any
    other count means rows of other origin, and the table gets the full check.

    ``pending`` (only with ``bat_nbr``): the writer's pending-applications cache, with the batch being
    written staged in it; the pending sums of the batch's targets come from it instead of a pass over
    ``ARTran`` (:func:`_batch_suspect_targets`). Standalone preflight reads them from SL.

    ``keys`` (only with ``bat_nbr``, module AR): the keys of the rows the writer has just inserted into
    that batch, whose number it took under lock in this transaction; the batch's ARTran rows are read
    back by them instead of by ``BatNbr`` (see :class:`_Scope`).
    """
    scope = _Scope(module, bat_nbr, keys if module == "AR" else None, conn)
    findings: list[Finding] = []
    if conn.dialect.name == "postgresql" and conn.in_transaction():
        # Short set-based queries over large tables: PostgreSQL's JIT would compile each for longer than
        # it runs (seen: 1.0 s of JIT for a 0.27 s query at 70,000 documents). For this transaction only.
        conn.exec_driver_sql("SET LOCAL jit = off")
        # psycopg prepares a statement run 5 times, and PostgreSQL may then plan it once for any values:
        # a value list becomes a parameter searched element by element for every row instead of a hashed
        # constant (a 3,700-document batch's pending check went from ~0.2 s to seconds).
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    base_cury = _base_currency(conn)
    decimals = _decimals(conn)
    findings += _missing_batches(conn, scope)
    findings += _batch_header(conn, scope)
    findings += _values(conn, scope, written if bat_nbr else None)
    findings += _batch_periods(conn, scope)
    if scope.wants("AR"):
        findings += _ar_totals(conn, scope, decimals)
        findings += _ar_cury(conn, scope, base_cury)
        findings += _ar_lines(conn, scope)
        findings += _ar_customers(conn, scope)
        findings += _ar_accounts(conn, scope)
        findings += _ar_applications(conn, scope, decimals, pending if bat_nbr else None)
        findings += _ar_perpost(conn, scope)
        findings += _ar_duplicate_payments(conn, scope)
    if scope.wants("GL"):
        findings += _gl_balance(conn, scope, decimals)
        findings += _gl_accounts(conn, scope)
        findings += _gl_perpost(conn, scope)
    return sorted(
        set(findings), key=lambda f: (f.module, f.bat_nbr, f.error, f.doc_type, f.ref_nbr, f.message)
    )


# ---- helpers ---------------------------------------------------------------------------------------------


def _base_currency(conn: sa.Connection) -> str:
    g = catalog.GLSetup
    value = conn.execute(sa.select(g.c.BaseCuryId).where(g.c.SetupId == "GL")).scalar()
    return _s(value)


def _decimals(conn: sa.Connection) -> dict[str, int]:
    c = catalog.Currncy
    out: dict[str, int] = defaultdict(lambda: 2)
    for cury, decpl in conn.execute(sa.select(c.c.CuryId, c.c.DecPl)):
        out[_s(cury)] = int(decpl)
    return out


def _differs(a: float, b: float, decimals: int) -> bool:
    return round(float(a), decimals) != round(float(b), decimals)


def _amount(value: object) -> Decimal:
    """An amount (or a sum of amounts) read from SL's float columns as the decimal it was written as: the
    float's shortest repr (what :func:`paytrace_sl.sl.rows.money` wrote), not its binary expansion."""
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _exceeds(pending: Decimal, balance: object, decimals: int) -> bool:
    """Applications pending on a document exceed its open balance: both rounded half-up to the currency's
    decimals (:func:`paytrace_sl.sl.rows.money_decimal`, how the writer rounds money) and compared
    exactly, in Decimal. The one comparison of the suspect filters and of the finding itself, so a target
    the finding would flag is always suspect. (Before: Python's ``round`` of floats — a balance of
    299.965 is the double 299.96499…, which rounded to 299.96 and flagged 299.97 applied to it.)"""
    return money_decimal(pending, decimals) > money_decimal(_amount(balance), decimals)


# ---- rules -----------------------------------------------------------------------------------------------


def _missing_batches(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    """12319: unreleased documents/lines whose batch header does not exist."""
    out: list[Finding] = []
    ar_batches = sa.select(B.c.BatNbr).where(B.c.Module == "AR")
    if scope.wants("AR"):
        q = sa.select(D.c.BatNbr, D.c.DocType, D.c.RefNbr, D.c.CustId).where(
            D.c.Rlsed == 0, D.c.BatNbr.not_in(ar_batches)
        )
        if scope.bat_nbr:
            q = q.where(D.c.BatNbr == scope.bat_nbr)
        for bat, dtype, ref, cust in conn.execute(q):
            out.append(
                Finding(
                    ERR_MISSING_BATCH,
                    "AR",
                    _s(bat),
                    _s(dtype),
                    _s(ref),
                    "document's batch does not exist in Batch",
                    _s(cust),
                )
            )
    if scope.wants("GL"):
        gl_batches = sa.select(B.c.BatNbr).where(B.c.Module == "GL")
        q2 = (
            sa.select(G.c.BatNbr, sa.func.count())
            .where(G.c.Module == "GL", G.c.Rlsed == 0, G.c.BatNbr.not_in(gl_batches))
            .group_by(G.c.BatNbr)
        )
        if scope.bat_nbr:
            q2 = q2.where(G.c.BatNbr == scope.bat_nbr)
        for bat, n in conn.execute(q2):
            out.append(
                Finding(
                    ERR_MISSING_BATCH,
                    "GL",
                    _s(bat),
                    "",
                    "",
                    f"{n} GL transaction(s) whose batch does not exist in Batch",
                )
            )
    return out


def _batch_header(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    out: list[Finding] = []
    q = sa.select(B.c.Module, B.c.BatNbr, B.c.EditScrnNbr).where(scope.batch_cond, _blank(B.c.EditScrnNbr))
    for mod, bat, _ in conn.execute(q):
        out.append(Finding(ERR_MISSING_BATCH, _s(mod), _s(bat), "", "", "batch has a blank EditScrnNbr"))
    return out


def _batch_periods(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    """90311/90312: a batch posting before its module's current period, or into a closed GL period.

    The reference gives SL no error number for these (and does not document ``ModPriorPost``), so they
    carry ours; see ``sl/periods.py`` for why prior periods are never allowed.
    """
    ar, gl = catalog.ARSetup, catalog.GLSetup
    ar_cur = _s(conn.execute(sa.select(ar.c.PerNbr).where(ar.c.SetupId == "AR")).scalar())
    gl_rows = conn.execute(sa.select(gl.c.PerNbr, gl.c.LastClosePerNbr).where(gl.c.SetupId == "GL")).all()
    gl_cur, closed = (_s(gl_rows[0][0]), _s(gl_rows[0][1])) if gl_rows else ("", "")
    current = {"AR": ar_cur, "GL": gl_cur}
    late = [sa.and_(B.c.Module == mod, B.c.PerPost < cur) for mod, cur in current.items() if cur]
    if closed:
        late.append(B.c.PerPost <= closed)
    if not late:
        return []
    out: list[Finding] = []
    q = sa.select(B.c.Module, B.c.BatNbr, B.c.PerPost).where(
        scope.batch_cond, B.c.Module.in_(("AR", "GL")), sa.or_(*late)
    )
    for mod, bat, per in conn.execute(q):
        mod, per = _s(mod), _s(per)
        if closed and per <= closed:
            out.append(
                Finding(
                    PT_CLOSED_PERIOD,
                    mod,
                    _s(bat),
                    "",
                    "",
                    f"Batch.PerPost {per} is in a closed period (GLSetup.LastClosePerNbr {closed})",
                )
            )
        cur = current.get(mod, "")
        if cur and per < cur:
            setup = "ARSetup" if mod == "AR" else "GLSetup"
            out.append(
                Finding(
                    PT_PRIOR_PERIOD,
                    mod,
                    _s(bat),
                    "",
                    "",
                    f"Batch.PerPost {per} is before the current {mod} period ({setup}.PerNbr {cur})",
                )
            )
    return out


def _table_scope(tbl: sa.Table, scope: _Scope) -> sa.ColumnElement[bool] | None:
    if tbl is B:
        return scope.batch_cond
    if tbl is D:
        return scope.docs() if scope.wants("AR") else None
    if tbl is T:
        return scope.trans() if scope.wants("AR") else None
    if tbl is G:
        return sa.and_(G.c.Module == "GL", G.c.BatNbr.in_(scope.batnbrs("GL"))) if scope.wants("GL") else None
    return None


def _doc_ids(tbl: sa.Table, row: sa.Row[Any]) -> tuple[str, str, str, str]:
    m = row._mapping
    if tbl is B:
        return _s(m["Module"]), _s(m["BatNbr"]), "", ""
    if tbl is D:
        return "AR", _s(m["BatNbr"]), _s(m["DocType"]), _s(m["RefNbr"])
    if tbl is T:
        return "AR", _s(m["BatNbr"]), _s(m["TranType"]), _s(m["RefNbr"])
    return _s(m["Module"]), _s(m["BatNbr"]), "", _s(m["RefNbr"])


def _value_checks(tbl: sa.Table) -> tuple[list[sa.Column[Any]], list[sa.ColumnElement[bool]]]:
    """The columns ``_values`` reads, and the predicates of a row holding a NULL/over-long/blank value."""
    cols = [c for c in tbl.columns if not c.info["rowversion"]]
    bad: list[sa.ColumnElement[bool]] = [c.is_(None) for c in cols]
    bad += [sa.func.length(c) > c.info["length"] for c in cols if c.info["sl_kind"] == "char"]
    bad += _required_blank(tbl)
    return cols, bad


def _required_blank(tbl: sa.Table) -> list[sa.ColumnElement[bool]]:
    return [_blank(tbl.c[name]) for name in REQUIRED[tbl.name]]


def required_filled(table: str, rows: Iterable[Mapping[str, object]] | ColumnRows) -> bool:
    """No row leaves a :data:`REQUIRED` column of ``table`` out, NULL or blank (what ``_values`` flags)."""
    if isinstance(rows, ColumnRows):
        return not rows.count or all(
            all(isinstance(v, str) and v.strip() for v in rows.distinct(name)) for name in REQUIRED[table]
        )
    rows = list(rows)
    for name in REQUIRED[table]:
        values = {row.get(name) for row in rows}  # column-wise: a handful of distinct values per batch
        if not all(isinstance(v, str) and v.strip() for v in values):
            return False
    return True


def _only_checked_rows(
    conn: sa.Connection, tbl: sa.Table, where: sa.ColumnElement[bool], written: int
) -> bool:
    """True when the batch holds exactly the ``written`` rows of ``tbl`` (see ``run_preflight``)."""
    row = next(iter(conn.execute(sa.select(sa.func.count()).select_from(tbl).where(where)).all()), None)
    return row is not None and int(row[0]) == written


def _values(conn: sa.Connection, scope: _Scope, written: Mapping[str, int] | None = None) -> list[Finding]:
    """NULLs, over-long char values and blank required columns — one query per table.

    Tables whose rows the caller wrote and checked (``written``) cost one count and are read in full
    only when the count shows rows of other origin.
    """
    out: list[Finding] = []
    for tbl in (B, D, T, G):
        where = _table_scope(tbl, scope)
        if where is None:
            continue
        if written is not None and tbl.name in written:
            if _only_checked_rows(conn, tbl, where, written[tbl.name]):
                continue
        cols, bad = _value_checks(tbl)
        for row in conn.execute(sa.select(tbl).where(where, sa.or_(*bad))):
            mod, bat, dtype, ref = _doc_ids(tbl, row)
            m = row._mapping
            for c in cols:
                value = m[c.name]
                if value is None:
                    out.append(Finding(PT_NULL_VALUE, mod, bat, dtype, ref, f"{tbl.name}.{c.name} is NULL"))
                elif c.info["sl_kind"] == "char" and len(str(value).rstrip()) > c.info["length"]:
                    out.append(
                        Finding(
                            PT_VALUE_TOO_LONG,
                            mod,
                            bat,
                            dtype,
                            ref,
                            f"{tbl.name}.{c.name} longer than char({c.info['length']}): {value!r}",
                        )
                    )
            for name in REQUIRED[tbl.name]:
                if m[name] is not None and not _s(m[name]):
                    out.append(
                        Finding(PT_REQUIRED_BLANK, mod, bat, dtype, ref, f"{tbl.name}.{name} is blank")
                    )
    return out


def _ar_totals(conn: sa.Connection, scope: _Scope, decimals: dict[str, int]) -> list[Finding]:
    """12123: CuryCrTot/CrTot (and the control totals) must equal Σ documents whose BatNbr is the batch."""
    sums = (
        sa.select(
            D.c.BatNbr,
            sa.func.sum(D.c.CuryOrigDocAmt).label("cury"),
            sa.func.sum(D.c.OrigDocAmt).label("base"),
        )
        .where(scope.docs(), D.c.DocType != "SB", D.c.DocType != "SC")
        .group_by(D.c.BatNbr)
        .subquery()
    )
    q = (
        sa.select(
            B.c.BatNbr,
            B.c.CuryId,
            B.c.CuryCrTot,
            B.c.CrTot,
            B.c.CuryCtrlTot,
            B.c.CtrlTot,
            sa.func.coalesce(sums.c.cury, 0.0),
            sa.func.coalesce(sums.c.base, 0.0),
        )
        .select_from(B.outerjoin(sums, sums.c.BatNbr == B.c.BatNbr))
        .where(scope.batch_cond, B.c.Module == "AR")
    )
    out: list[Finding] = []
    for bat, cury, cury_cr, cr, cury_ctrl, ctrl, doc_cury, doc_base in conn.execute(q):
        dec = decimals[_s(cury)]
        checks = (
            ("CuryCrTot", cury_cr, doc_cury, "Σ CuryOrigDocAmt"),
            ("CrTot", cr, doc_base, "Σ OrigDocAmt"),
            ("CuryCtrlTot", cury_ctrl, doc_cury, "Σ CuryOrigDocAmt"),
            ("CtrlTot", ctrl, doc_base, "Σ OrigDocAmt"),
        )
        for name, total, expected, what in checks:
            if _differs(total, expected, dec):
                out.append(
                    Finding(
                        ERR_BATCH_TOTALS,
                        "AR",
                        _s(bat),
                        "",
                        "",
                        f"Batch.{name} {float(total):.{dec}f} <> {what} {float(expected):.{dec}f}",
                    )
                )
    return out


def _ar_cury(conn: sa.Connection, scope: _Scope, base_cury: str) -> list[Finding]:
    """12124: on base-currency documents the currency and base amounts must be equal."""
    out: list[Finding] = []
    if not base_cury:
        return out
    q = sa.select(T.c.BatNbr, T.c.TranType, T.c.RefNbr, T.c.CustId, T.c.CuryTranAmt, T.c.TranAmt).where(
        scope.trans(),
        sa.func.rtrim(T.c.CuryId) == base_cury,
        sa.func.abs(T.c.CuryTranAmt - T.c.TranAmt) > 0.0000001,
    )
    for bat, ttype, ref, cust, cury_amt, amt in conn.execute(q):
        out.append(
            Finding(
                ERR_CURY_NE_BASE,
                "AR",
                _s(bat),
                _s(ttype),
                _s(ref),
                f"base-currency line CuryTranAmt {cury_amt} <> TranAmt {amt}",
                _s(cust),
            )
        )
    q2 = sa.select(D.c.BatNbr, D.c.DocType, D.c.RefNbr, D.c.CustId, D.c.CuryOrigDocAmt, D.c.OrigDocAmt).where(
        scope.docs(),
        sa.func.rtrim(D.c.CuryId) == base_cury,
        sa.func.abs(D.c.CuryOrigDocAmt - D.c.OrigDocAmt) > 0.0000001,
    )
    for bat, dtype, ref, cust, cury_amt, amt in conn.execute(q2):
        out.append(
            Finding(
                ERR_CURY_NE_BASE,
                "AR",
                _s(bat),
                _s(dtype),
                _s(ref),
                f"base-currency document CuryOrigDocAmt {cury_amt} <> OrigDocAmt {amt}",
                _s(cust),
            )
        )
    return out


def _ar_lines(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    """12125: 08010 documents need detail lines; 12126: lines need their document."""
    out: list[Finding] = []
    memo_batches = sa.select(B.c.BatNbr).where(
        scope.batch_cond, B.c.Module == "AR", B.c.EditScrnNbr == "08010"
    )
    has_line = sa.exists().where(
        T.c.CustId == D.c.CustId,
        T.c.TranType == D.c.DocType,
        T.c.RefNbr == D.c.RefNbr,
        T.c.BatNbr == D.c.BatNbr,
        T.c.DrCr != "U",
    )
    q = sa.select(D.c.BatNbr, D.c.DocType, D.c.RefNbr, D.c.CustId).where(
        D.c.BatNbr.in_(memo_batches), ~has_line
    )
    for bat, dtype, ref, cust in conn.execute(q):
        out.append(
            Finding(
                ERR_DOC_NO_LINES, "AR", _s(bat), _s(dtype), _s(ref), "document has no ARTran lines", _s(cust)
            )
        )
    q_blank = sa.select(T.c.BatNbr, T.c.TranType, T.c.CustId).where(scope.trans(), _blank(T.c.RefNbr))
    for bat, ttype, cust in conn.execute(q_blank):
        out.append(
            Finding(ERR_DOC_NO_LINES, "AR", _s(bat), _s(ttype), "", "ARTran with blank RefNbr", _s(cust))
        )
    # Detail lines belong to a document in the same batch; application (U) lines to the adjusting
    # document applied in this batch (ApplBatNbr).
    doc_detail = sa.exists().where(
        D.c.CustId == T.c.CustId,
        D.c.DocType == T.c.TranType,
        D.c.RefNbr == T.c.RefNbr,
        D.c.BatNbr == T.c.BatNbr,
    )
    doc_appl = sa.exists().where(
        D.c.CustId == T.c.CustId,
        D.c.DocType == T.c.TranType,
        D.c.RefNbr == T.c.RefNbr,
        D.c.ApplBatNbr == T.c.BatNbr,
    )
    # Two statements, not one OR of the two NOT EXISTS: each becomes an anti-join (an OR keeps a subplan
    # per line, estimated so dear on a large ARTran that PostgreSQL spends a second JIT-compiling it).
    lines = sa.select(T.c.BatNbr, T.c.TranType, T.c.RefNbr, T.c.CustId, T.c.DrCr).where(
        scope.trans(), ~_blank(T.c.RefNbr)
    )
    q2 = lines.where(T.c.DrCr != "U", ~doc_detail)
    q3 = lines.where(T.c.DrCr == "U", ~doc_appl)
    for bat, ttype, ref, cust, drcr in [*conn.execute(q2).all(), *conn.execute(q3).all()]:
        kind = "application line" if _s(drcr) == "U" else "transaction"
        out.append(
            Finding(
                ERR_TRAN_NO_DOC,
                "AR",
                _s(bat),
                _s(ttype),
                _s(ref),
                f"{kind} without its ARDoc in this batch",
                _s(cust),
            )
        )
    return out


def _ar_customers(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    """12347: every document's CustId exists in Customer."""
    cu = catalog.Customer
    q = sa.select(D.c.BatNbr, D.c.DocType, D.c.RefNbr, D.c.CustId).where(
        scope.docs(), D.c.CustId.not_in(sa.select(cu.c.CustId))
    )
    return [
        Finding(
            ERR_BAD_CUSTOMER,
            "AR",
            _s(bat),
            _s(dt),
            _s(ref),
            f"customer {_s(cust)!r} does not exist",
            _s(cust),
        )
        for bat, dt, ref, cust in conn.execute(q)
    ]


IN_CHUNK = 500  # values per IN list (SQL Server allows 2,100 parameters per statement)


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _in_or_null(col: sa.ColumnElement[Any], values: Sequence[Any]) -> list[sa.ColumnElement[bool]]:
    """Conditions that together select ``col`` in ``values``: ``IN`` chunks, plus ``IS NULL`` for a None."""
    present = [v for v in values if v is not None]
    conds: list[sa.ColumnElement[bool]] = [col.in_(chunk) for chunk in _chunks(present)]
    if len(present) < len(values):
        conds.append(col.is_(None))
    return conds


def _filter_pairs(
    conn: sa.Connection, customers: Sequence[Any], sites: Sequence[Any]
) -> list[tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]]:
    """(customer condition, SiteId condition) pairs that together select every (customer, site) pair.

    On PostgreSQL one array parameter per list (``= ANY``, typed as the column so ``char`` padding
    compares as SL stores it): one statement, one pass over the customers' lines per batch. A 5,000-
    document batch in 500-value ``IN`` chunks was ~10 statements, each re-reading every line of the
    batch's customers (35 s of a 66 s load step at 100k). Other dialects: the ``IN`` chunks.
    """
    if conn.dialect.name != "postgresql":
        return [
            (T.c.CustId.in_(chunk), on_sites)
            for chunk in _chunks(customers)
            for on_sites in _in_or_null(T.c.SiteId, sites)
        ]
    present = [v for v in sites if v is not None]
    on_customers = T.c.CustId == sa.any_(
        sa.bindparam("pending_customers", list(customers), type_=ARRAY(T.c.CustId.type))
    )
    conds: list[sa.ColumnElement[bool]] = []
    if present:
        conds.append(
            T.c.SiteId == sa.any_(sa.bindparam("pending_sites", present, type_=ARRAY(T.c.SiteId.type)))
        )
    if len(present) < len(sites):
        conds.append(T.c.SiteId.is_(None))
    return [(on_customers, cond) for cond in conds]


def _active(
    conn: sa.Connection, key: sa.ColumnElement[Any], active: sa.ColumnElement[Any], keys: set[str]
) -> dict[str, int]:
    """``Active`` by (stripped) key of Account or SubAcct, for these (stripped) keys only."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(keys)):
        found.update((_s(k), int(v)) for k, v in conn.execute(sa.select(key, active).where(key.in_(chunk))))
    return found


def _account_ok(value: str, active: Mapping[str, int]) -> bool:
    return bool(value) and bool(active.get(value))


def _accounts(
    conn: sa.Connection,
    ids: Sequence[sa.ColumnElement[Any]],
    acct: sa.ColumnElement[Any],
    sub: sa.ColumnElement[Any],
    where: sa.ColumnElement[bool],
    label: str,
) -> list[Finding]:
    """6928/6929 for the (account, subaccount) pairs of the rows ``where`` selects, set-based.

    The batch's *distinct* pairs are checked against Account/SubAcct (a batch uses a handful); only if a
    value is blank, unknown or inactive are the rows holding it read, to name each document.
    """
    pairs = conn.execute(sa.select(acct, sub).where(where).distinct()).all()
    a, s = catalog.Account, catalog.SubAcct
    acct_active = _active(conn, a.c.Acct, a.c.Active, {_s(r[0]) for r in pairs})
    sub_active = _active(conn, s.c.Sub, s.c.Active, {_s(r[1]) for r in pairs})
    bad_accts = sorted({r[0] for r in pairs if not _account_ok(_s(r[0]), acct_active)}, key=repr)
    bad_subs = sorted({r[1] for r in pairs if not _account_ok(_s(r[1]), sub_active)}, key=repr)
    rows: set[tuple[Any, ...]] = set()
    for col, bad in ((acct, bad_accts), (sub, bad_subs)):
        for cond in _in_or_null(col, bad):
            rows.update(
                tuple(r) for r in conn.execute(sa.select(*ids, acct, sub).where(where, cond).distinct())
            )
    return _account_findings(sorted(rows, key=repr), acct_active, sub_active, label)


def _account_findings(
    rows: Iterable[tuple[Any, ...]], acct_active: Mapping[str, int], sub_active: Mapping[str, int], where: str
) -> list[Finding]:
    """6928/6929 for (module, bat, doctype, ref, cust, acct, sub) tuples: blank, unknown or inactive."""
    out: list[Finding] = []
    for mod, bat, dtype, ref, cust, acct, sub in rows:
        acct_s, sub_s = _s(acct), _s(sub)
        if not acct_s:
            out.append(
                Finding(
                    ERR_BAD_ACCOUNT, mod, _s(bat), _s(dtype), _s(ref), f"{where}: account is blank", _s(cust)
                )
            )
        elif acct_s not in acct_active:
            out.append(
                Finding(
                    ERR_BAD_ACCOUNT,
                    mod,
                    _s(bat),
                    _s(dtype),
                    _s(ref),
                    f"{where}: account {acct_s!r} does not exist",
                    _s(cust),
                )
            )
        elif not acct_active[acct_s]:
            out.append(
                Finding(
                    ERR_BAD_ACCOUNT,
                    mod,
                    _s(bat),
                    _s(dtype),
                    _s(ref),
                    f"{where}: account {acct_s!r} is inactive",
                    _s(cust),
                )
            )
        if not sub_s:
            out.append(
                Finding(
                    ERR_BAD_SUB, mod, _s(bat), _s(dtype), _s(ref), f"{where}: subaccount is blank", _s(cust)
                )
            )
        elif sub_s not in sub_active:
            out.append(
                Finding(
                    ERR_BAD_SUB,
                    mod,
                    _s(bat),
                    _s(dtype),
                    _s(ref),
                    f"{where}: subaccount {sub_s!r} does not exist",
                    _s(cust),
                )
            )
        elif not sub_active[sub_s]:
            out.append(
                Finding(
                    ERR_BAD_SUB,
                    mod,
                    _s(bat),
                    _s(dtype),
                    _s(ref),
                    f"{where}: subaccount {sub_s!r} is inactive",
                    _s(cust),
                )
            )
    return out


def _ar_accounts(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    """6928/6929 on ARDoc.BankAcct/BankSub (cash for PA, A/R for memos) and ARTran.Acct/Sub."""
    docs = _accounts(
        conn,
        (sa.literal("AR"), D.c.BatNbr, D.c.DocType, D.c.RefNbr, D.c.CustId),
        D.c.BankAcct,
        D.c.BankSub,
        scope.docs(),
        "ARDoc.BankAcct/BankSub",
    )
    lines = _accounts(
        conn,
        (sa.literal("AR"), T.c.BatNbr, T.c.TranType, T.c.RefNbr, T.c.CustId),
        T.c.Acct,
        T.c.Sub,
        scope.trans(),
        "ARTran.Acct/Sub",
    )
    return docs + lines


def _suspect_applications_stmt(scope: _Scope) -> sa.Select[Any]:
    """The adjusted documents (``SiteId``) of the batch's application lines that may fail a check below.

    Set-based, nothing per line comes back. One grouping of the application (U) lines of every
    unreleased AR batch gives, per (customer, doc type, document) applied to, Σ of what is pending
    against it; the targets the batches in scope apply to are joined to the documents they name (SL's
    key, an index lookup). A target is suspect when no document matches, or a matching one is
    unreleased, closed, not positive or smaller than the pending applications. Anything else passes
    every check of :func:`_application_findings` (its rounded comparison cannot fail when pending <=
    balance), so only suspects are read line by line.

    Used without a batch number, where the batches in scope *are* the unreleased AR batches; one batch
    is :func:`_batch_suspect_targets`. No join of two batch-sized sets: inside the writer's transaction
    the planner has no statistics for the new batch (it expects one row), and a nested loop over such a
    join would be quadratic.
    """
    targets = (
        sa.select(T.c.CustId, T.c.CostType, T.c.SiteId, sa.func.sum(T.c.CuryTranAmt).label("total"))
        .where(T.c.DrCr == "U", T.c.BatNbr.in_(unreleased_ar_batches_stmt()))
        .group_by(T.c.CustId, T.c.CostType, T.c.SiteId)
    )
    if scope.bat_nbr:
        targets = targets.having(sa.func.max(sa.case((T.c.BatNbr == scope.bat_nbr, 1), else_=0)) == 1)
    tg = targets.subquery("tg")
    doc = sa.and_(D.c.CustId == tg.c.CustId, D.c.DocType == tg.c.CostType, D.c.RefNbr == tg.c.SiteId)
    return (
        sa.select(tg.c.SiteId)
        .select_from(tg.outerjoin(D, doc))
        .where(
            sa.or_(
                D.c.RefNbr.is_(None),
                D.c.Rlsed == 0,
                D.c.OpenDoc == 0,
                D.c.CuryDocBal <= 0,
                tg.c.total > D.c.CuryDocBal,
            )
        )
        .distinct()
    )


def _suspect_targets(
    conn: sa.Connection,
    scope: _Scope,
    decimals: Mapping[str, int] | None = None,
    pending: PendingApplications | None = None,
) -> list[Any]:
    """The ``SiteId`` of every suspect application target of the batches in scope (see above)."""
    if not scope.bat_nbr:
        return sorted({r[0] for r in conn.execute(_suspect_applications_stmt(scope)).all()}, key=repr)
    places = _decimals(conn) if decimals is None else decimals
    if pending is not None:
        found = _cached_suspect_targets(conn, scope.trans(), places, pending)
        if found is not None:
            return found
    return _batch_suspect_targets(conn, scope.trans(), places)


def _batch_suspect_targets(
    conn: sa.Connection, own_lines: sa.ColumnElement[bool], decimals: Mapping[str, int]
) -> list[Any]:
    """:func:`_suspect_applications_stmt` for one batch, at the cost of what that batch can touch.

    Summing every unreleased application line grows with the unreleased history SL holds (issue 17: a
    30-day backfill took preflight from 0.5 s to 3.4 s at constant volume). Here only the application
    lines of the customers the batch applies for, on the documents it applies to, are read by
    ``ARTran0`` (it leads with ``CustId``), summed per target and batch by the database; their
    unreleased batches come from one read of ``Batch``. No SQL join of the new batch with anything:
    inside the writer's transaction the planner has no statistics for it and chose nested loops over
    ``Batch`` × ``ARTran`` (33 s at 4,400 pending lines).

    A target is suspect on balance when its pending sum, rounded to the decimals of the currency of any
    of the batch's lines on it, exceeds the rounded balance — the finding's own test (:func:`_exceeds`).
    An invoice paid exactly in full (pending = balance, the common case) is not suspect: before, every
    target "within a cent" was, and a day of full payments re-read each batch's lines per 1,000 targets.
    """
    unreleased = {_s(r[0]) for r in conn.execute(unreleased_ar_batches_stmt())}
    own = sa.select(T.c.CustId, T.c.BatNbr, T.c.SiteId).where(T.c.DrCr == "U", own_lines).distinct()
    own_rows = conn.execute(own).all()
    own_bats = {_s(r[1]) for r in own_rows}  # the batch number as SL stores it
    customers = sorted({r[0] for r in own_rows})  # ARTran0's first column: never NULL
    sites = sorted({r[2] for r in own_rows}, key=repr)  # as stored; None (never written) → IS NULL
    pending: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    targets: dict[tuple[str, str, str], Any] = {}  # the batch's targets → SiteId as stored
    places: dict[tuple[str, str, str], set[int]] = defaultdict(set)  # decimals of the batch's lines
    # Only the lines on the documents this batch applies to, summed by the database per batch: the
    # same day's earlier batches (a capped day is many) are not read back line by line.
    for on_customers, on_sites in _filter_pairs(conn, customers, sites):
        lines = (
            sa.select(
                T.c.CustId, T.c.CostType, T.c.SiteId, T.c.BatNbr, T.c.CuryId, sa.func.sum(T.c.CuryTranAmt)
            )
            .where(T.c.DrCr == "U", on_customers, on_sites)
            .group_by(T.c.CustId, T.c.CostType, T.c.SiteId, T.c.BatNbr, T.c.CuryId)
        )
        for cust, cost, site, bat, cury, amt in conn.execute(lines):
            if _s(bat) not in unreleased:
                continue
            key = (_s(cust), _s(cost), _s(site))
            pending[key] += _amount(amt)
            if _s(bat) in own_bats:
                targets[key] = site
                places[key].add(decimals[_s(cury)] if _s(cury) in decimals else 2)
    return _suspects(targets, places, _target_docs(conn, targets), pending)


def _suspects(
    targets: Mapping[tuple[str, str, str], Any],
    places: Mapping[tuple[str, str, str], set[int]],
    docs: Mapping[tuple[str, str, str], tuple[int, int, float]],
    pending: Mapping[tuple[str, str, str], Decimal],
) -> list[Any]:
    """The ``SiteId`` of each target whose document is missing, unreleased, closed or not positive, or
    whose pending sum exceeds the balance at any of its decimals (:func:`_exceeds`)."""
    suspects = set()
    for key, site in targets.items():
        doc = docs.get(key)
        if doc is None or not doc[0] or not doc[1] or doc[2] <= 0:
            suspects.add(site)
            continue
        if any(_exceeds(pending[key], doc[2], d) for d in places[key]):
            suspects.add(site)
    return sorted(suspects, key=repr)


def _cached_suspect_targets(
    conn: sa.Connection,
    own_lines: sa.ColumnElement[bool],
    decimals: Mapping[str, int],
    pending: PendingApplications,
) -> list[Any] | None:
    """:func:`_batch_suspect_targets` with the pending sums from the writer's cache: the batch's own U
    lines are still read from SL (one filtered pass), the sums of what is pending on their targets are
    not. None (→ the SQL path) when the batch's lines on SL are not exactly the targets the writer staged
    (rows of other origin in the batch: their amounts are not in the cache).

    On PostgreSQL the targets' documents come with the lines, joined by ``ARDoc0``'s leading columns
    (what :func:`_target_docs` looks up, without sending the targets back as arrays).
    """
    cols = (T.c.CustId, T.c.CostType, T.c.SiteId, T.c.CuryId)
    joined = conn.dialect.name == "postgresql"
    if joined:
        doc = sa.and_(D.c.CustId == T.c.CustId, D.c.DocType == T.c.CostType, D.c.RefNbr == T.c.SiteId)
        own = sa.select(*cols, D.c.Rlsed, D.c.OpenDoc, D.c.CuryDocBal).select_from(T.outerjoin(D, doc))
    else:
        own = sa.select(*cols)
    targets: dict[tuple[str, str, str], Any] = {}
    places: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    docs: dict[tuple[str, str, str], tuple[int, int, float]] = {}
    for cust, cost, site, cury, *found in conn.execute(own.where(T.c.DrCr == "U", own_lines).distinct()):
        key = (_s(cust), _s(cost), _s(site))
        targets[key] = site
        places[key].add(decimals[_s(cury)] if _s(cury) in decimals else 2)
        if found and found[0] is not None:  # a document matched (outer join): any batch row of it
            docs[key] = (int(found[0]), int(found[1]), float(found[2]))
    if set(targets) != pending.staged_targets():
        return None
    if not joined:
        docs = _target_docs(conn, targets)
    return _suspects(targets, places, docs, pending.totals(targets, staged=True))


def _target_docs(
    conn: sa.Connection, targets: Mapping[tuple[str, str, str], Any]
) -> dict[tuple[str, str, str], tuple[int, int, float]]:
    """(Rlsed, OpenDoc, CuryDocBal) of the documents named by these targets (any batch row of each).

    On PostgreSQL one keyed look-up by (CustId, DocType, RefNbr), ``ARDoc0``'s leading columns, from
    three array parameters: one index probe per target for exactly its rows (EXPLAIN: nested loop over
    the unnested keys, index-only scan on ``ARDoc0``), instead of every document of that number by
    ``RefNbr`` filtered here. Other dialects: ``RefNbr IN`` chunks.
    """
    docs: dict[tuple[str, str, str], tuple[int, int, float]] = {}
    refs = sorted({k[2] for k in targets})
    cols = (D.c.CustId, D.c.DocType, D.c.RefNbr, D.c.Rlsed, D.c.OpenDoc, D.c.CuryDocBal)
    if conn.dialect.name == "postgresql":
        keys = list(targets)
        on_keys = _keyed(conn, (D.c.CustId, D.c.DocType, D.c.RefNbr), keys, "target")
        stmts = [sa.select(*cols).where(on_keys)] if keys else []
    else:
        stmts = [sa.select(*cols).where(D.c.RefNbr.in_(chunk)) for chunk in _chunks(refs)]
    for stmt in stmts:
        for cust, dtype, ref, rlsed, open_doc, bal in conn.execute(stmt):
            key = (_s(cust), _s(dtype), _s(ref))
            if key in targets:
                docs[key] = (int(rlsed), int(open_doc), float(bal))
    return docs


def _ar_applications(
    conn: sa.Connection,
    scope: _Scope,
    decimals: dict[str, int],
    pending: PendingApplications | None = None,
) -> list[Finding]:
    """Application (U) lines must point at an existing, released, open document with enough balance."""
    out: list[Finding] = []
    for cond in _in_or_null(T.c.SiteId, _suspect_targets(conn, scope, decimals, pending)):
        out += _application_findings(conn, scope, decimals, cond)
    return out


def _application_findings(
    conn: sa.Connection, scope: _Scope, decimals: dict[str, int], lines: sa.ColumnElement[bool]
) -> list[Finding]:
    """The application checks for the batch's U lines ``lines`` selects, with their documents' state."""
    appl = conn.execute(
        sa.select(
            T.c.BatNbr,
            T.c.TranType,
            T.c.RefNbr,
            T.c.CustId,
            T.c.SiteId,
            T.c.CostType,
            T.c.CuryTranAmt,
            T.c.CuryId,
        ).where(scope.trans(), T.c.DrCr == "U", lines)
    ).all()
    if not appl:
        return []
    targets = {(_s(r[3]), _s(r[5]), _s(r[4])) for r in appl}
    adjusted: dict[tuple[str, str, str], tuple[int, int, float]] = {}
    refs = {t[2] for t in targets}
    for cust, dtype, ref, rlsed, open_doc, bal in conn.execute(
        sa.select(D.c.CustId, D.c.DocType, D.c.RefNbr, D.c.Rlsed, D.c.OpenDoc, D.c.CuryDocBal).where(
            D.c.RefNbr.in_(refs)
        )
    ):
        key = (_s(cust), _s(dtype), _s(ref))
        if key in targets:
            prev = adjusted.get(key)
            # Several rows (same doc in two batches) should not exist; prefer the released one.
            if prev is None or (int(rlsed), float(bal)) > (prev[0], prev[2]):
                adjusted[key] = (int(rlsed), int(open_doc), float(bal))
    # Everything applied to these documents by ANY unreleased batch counts against the open balance.
    pending: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for cust, dtype, ref, amt in conn.execute(pending_applications_stmt(refs)):
        pending[(_s(cust), _s(dtype), _s(ref))] += _amount(amt)
    out: list[Finding] = []
    for bat, ttype, ref, cust, site, cost, amt, cury in appl:
        key = (_s(cust), _s(cost), _s(site))
        target = f"{key[1]} {key[2]}"
        doc = adjusted.get(key)
        if doc is None:
            out.append(
                Finding(
                    PT_APPL_DOC_MISSING,
                    "AR",
                    _s(bat),
                    _s(ttype),
                    _s(ref),
                    f"applies {amt} to {target}, which does not exist for customer {key[0]!r}",
                    key[0],
                )
            )
            continue
        rlsed, open_doc, bal = doc
        if not rlsed:
            out.append(
                Finding(
                    ERR_APPL_UNRELEASED,
                    "AR",
                    _s(bat),
                    _s(ttype),
                    _s(ref),
                    f"applies {amt} to {target}, which is not released yet",
                    key[0],
                )
            )
        elif not open_doc or bal <= 0:
            out.append(
                Finding(
                    PT_APPL_DOC_CLOSED,
                    "AR",
                    _s(bat),
                    _s(ttype),
                    _s(ref),
                    f"applies {amt} to {target}, which is closed (paid)",
                    key[0],
                )
            )
        elif _exceeds(pending[key], bal, decimals[_s(cury)]):
            out.append(
                Finding(
                    PT_APPL_SHORT_BALANCE,
                    "AR",
                    _s(bat),
                    _s(ttype),
                    _s(ref),
                    f"unreleased applications to {target} total {pending[key]:.2f} but its open "
                    f"balance is {bal:.2f}",
                    key[0],
                )
            )
    return out


def _perpost_findings(conn: sa.Connection, q: sa.Select[Any], module: str, what: str) -> list[Finding]:
    return [
        Finding(
            PT_MULTI_PERPOST,
            module,
            _s(bat),
            _s(dt),
            _s(ref),
            f"{what} PerPost {_s(pp)!r} differs from batch PerPost {_s(bpp)!r}",
        )
        for bat, dt, ref, pp, bpp in conn.execute(q)
    ]


def _ar_perpost(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    """One PerPost per batch: SL's release forces documents to the batch period (pp_08400_CorrectPerPost)."""
    bj = sa.and_(B.c.Module == "AR", B.c.BatNbr == D.c.BatNbr)
    q = (
        sa.select(D.c.BatNbr, D.c.DocType, D.c.RefNbr, D.c.PerPost, B.c.PerPost)
        .select_from(D.join(B, bj))
        .where(scope.batch_cond, D.c.PerPost != B.c.PerPost)
    )
    tj = sa.and_(B.c.Module == "AR", B.c.BatNbr == T.c.BatNbr)
    q2 = (
        sa.select(T.c.BatNbr, T.c.TranType, T.c.RefNbr, T.c.PerPost, B.c.PerPost)
        .select_from(T.join(B, tj))
        .where(scope.batch_cond, T.c.PerPost != B.c.PerPost)
        .distinct()
    )
    if scope.keys is not None:
        q2 = q2.where(scope.trans())
    return _perpost_findings(conn, q, "AR", "ARDoc") + _perpost_findings(conn, q2, "AR", "ARTran")


def _ar_duplicate_payments(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    """The same payment RefNbr twice for a customer (SL's own analysis view xv_PCLDUPARPAY flags it)."""
    mine = sa.select(D.c.CustId, D.c.RefNbr).where(scope.docs(), D.c.DocType == "PA")
    mine_sq = mine.subquery()
    q = (
        sa.select(D.c.CustId, D.c.RefNbr, sa.func.count())
        .join(mine_sq, sa.and_(mine_sq.c.CustId == D.c.CustId, mine_sq.c.RefNbr == D.c.RefNbr))
        .where(D.c.DocType == "PA")
        .group_by(D.c.CustId, D.c.RefNbr)
        .having(sa.func.count() > 1)
    )
    out: list[Finding] = []
    for cust, ref, n in conn.execute(q):
        # Report against each in-scope batch holding it.
        for (bat,) in conn.execute(
            sa.select(D.c.BatNbr).where(
                D.c.CustId == cust,
                D.c.RefNbr == ref,
                D.c.DocType == "PA",
                D.c.BatNbr.in_(scope.batnbrs("AR")),
            )
        ):
            out.append(
                Finding(
                    PT_DUPLICATE_PAYMENT,
                    "AR",
                    _s(bat),
                    "PA",
                    _s(ref),
                    f"payment {_s(ref)} exists {n} times for customer {_s(cust)!r}",
                    _s(cust),
                )
            )
    return out


def _gl_balance(conn: sa.Connection, scope: _Scope, decimals: dict[str, int]) -> list[Finding]:
    """6019: Σ debits = Σ credits; 8888: batch totals = lines."""
    sums = (
        sa.select(
            G.c.BatNbr,
            sa.func.sum(G.c.DrAmt).label("dr"),
            sa.func.sum(G.c.CrAmt).label("cr"),
            sa.func.sum(G.c.CuryDrAmt).label("cdr"),
            sa.func.sum(G.c.CuryCrAmt).label("ccr"),
        )
        .where(G.c.Module == "GL", G.c.BatNbr.in_(scope.batnbrs("GL")))
        .group_by(G.c.BatNbr)
        .subquery()
    )
    q = (
        sa.select(
            B.c.BatNbr,
            B.c.BaseCuryID,
            B.c.DrTot,
            B.c.CrTot,
            B.c.CtrlTot,
            B.c.CuryDrTot,
            B.c.CuryCrTot,
            sa.func.coalesce(sums.c.dr, 0.0),
            sa.func.coalesce(sums.c.cr, 0.0),
            sa.func.coalesce(sums.c.cdr, 0.0),
            sa.func.coalesce(sums.c.ccr, 0.0),
        )
        .select_from(B.outerjoin(sums, sums.c.BatNbr == B.c.BatNbr))
        .where(scope.batch_cond, B.c.Module == "GL")
    )
    out: list[Finding] = []
    for bat, cury, drtot, crtot, ctrl, cdrtot, ccrtot, dr, cr, cdr, ccr in conn.execute(q):
        dec = decimals[_s(cury)]
        if _differs(dr, cr, dec) or _differs(cdr, ccr, dec):
            out.append(
                Finding(
                    ERR_GL_UNBALANCED,
                    "GL",
                    _s(bat),
                    "",
                    "",
                    f"debits {float(dr):.{dec}f} <> credits {float(cr):.{dec}f}",
                )
            )
        for name, total, expected in (
            ("DrTot", drtot, dr),
            ("CrTot", crtot, cr),
            ("CtrlTot", ctrl, dr),
            ("CuryDrTot", cdrtot, cdr),
            ("CuryCrTot", ccrtot, ccr),
        ):
            if _differs(total, expected, dec):
                out.append(
                    Finding(
                        ERR_OUT_OF_BALANCE,
                        "GL",
                        _s(bat),
                        "",
                        "",
                        f"Batch.{name} {float(total):.{dec}f} <> lines {float(expected):.{dec}f}",
                    )
                )
    return out


def _gl_accounts(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    return _accounts(
        conn,
        (sa.literal("GL"), G.c.BatNbr, G.c.TranType, G.c.RefNbr, G.c.Id),
        G.c.Acct,
        G.c.Sub,
        sa.and_(G.c.Module == "GL", G.c.BatNbr.in_(scope.batnbrs("GL"))),
        "GLTran.Acct/Sub",
    )


def _gl_perpost(conn: sa.Connection, scope: _Scope) -> list[Finding]:
    gj = sa.and_(B.c.Module == G.c.Module, B.c.BatNbr == G.c.BatNbr)
    q = (
        sa.select(G.c.BatNbr, G.c.TranType, G.c.RefNbr, G.c.PerPost, B.c.PerPost)
        .select_from(G.join(B, gj))
        .where(scope.batch_cond, G.c.Module == "GL", G.c.PerPost != B.c.PerPost)
        .distinct()
    )
    return _perpost_findings(conn, q, "GL", "GLTran")
