"""SQLAlchemy Core catalog of the Dynamics SL tables we read or write, with SL's real names.

Built from :mod:`paytrace_sl.sl.catalog_spec`, which ``tools/gen_catalog.py`` generates from SL's replica
DDL (``sl/ddl/dynamics-sl-replica.sql``) — one source of truth for names, types, lengths and keys.

Naming: every table and column is declared with ``quote=False``, so SQL renders SL's real mixed-case
names *unquoted* (``INSERT INTO Batch (Acct, …)``). That is how the DDL creates them: PostgreSQL folds
unquoted names to lower case (``batch.batnbr``), SQL Server's SL databases use a case-insensitive collation
and SQLite identifiers are case-insensitive — so the same statement works on all three. Quoting
("Batch") would fail on PostgreSQL.

Per-column facts the writer needs live in ``Column.info``:

* ``sl_kind``: ``char`` | ``float`` | ``smallint`` | ``int`` | ``datetime`` | ``rowversion``
* ``length``: char length (``None`` for non-char)
* ``blank``: SL's "empty" value — ``' '``, ``0``, ``0.0`` or 1900-01-01 (SL never stores NULL)
* ``identity``: SQL Server ``IDENTITY`` (``ARTran.RecordID``, ``ARAdjust.RecordID``)
* ``rowversion``: the ``tstamp`` column, filled by SQL Server, never written
* ``ddl_default``: the DDL's ``DEFAULT`` text, or ``None`` (ARDoc/ARTran/ARAdjust/GLTran have none)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from paytrace_sl.sl.catalog_spec import TABLE_SPECS

BLANK_DATE = dt.datetime(1900, 1, 1)
"""SL's blank date (``'01/01/1900'``); smalldatetime cannot be NULL."""

BLANK_CHAR = " "

metadata = sa.MetaData()


def _sa_type(kind: str, length: int | None) -> sa.types.TypeEngine[Any]:
    if kind == "char":
        return sa.CHAR(length)
    if kind == "float":
        return sa.Float(precision=53)  # SQL Server float(53); PG double precision
    if kind == "smallint":
        return sa.SmallInteger()
    if kind == "int":
        return sa.Integer()
    if kind == "datetime":
        return sa.DateTime().with_variant(mssql.SMALLDATETIME(), "mssql")
    if kind == "rowversion":
        return sa.LargeBinary().with_variant(mssql.ROWVERSION(), "mssql")
    raise ValueError(f"unknown SL column kind {kind!r}")


def _blank(kind: str) -> object:
    return {
        "char": BLANK_CHAR,
        "float": 0.0,
        "smallint": 0,
        "int": 0,
        "datetime": BLANK_DATE,
        "rowversion": None,
    }[kind]


def _build_tables() -> dict[str, sa.Table]:
    tables: dict[str, sa.Table] = {}
    for name, pk_name, pk_cols, columns in TABLE_SPECS:
        cols = [
            sa.Column(
                col_name,
                _sa_type(kind, length),
                nullable=nullable,
                autoincrement=False,
                # Filled by SQL Server (IDENTITY / ROWVERSION): tells SQLAlchemy an omitted value is fine.
                server_default=sa.FetchedValue() if identity or kind == "rowversion" else None,
                quote=False,
                info={
                    "sl_kind": kind,
                    "length": length,
                    "blank": _blank(kind),
                    "identity": identity,
                    "rowversion": kind == "rowversion",
                    "ddl_default": default,
                },
            )
            for col_name, kind, length, nullable, default, identity in columns
        ]
        # implicit_returning=False: on SQL Server RETURNING becomes OUTPUT, which fails on tables with
        # triggers — and customers' SL databases may have them.
        tables[name] = sa.Table(
            name,
            metadata,
            *cols,
            sa.PrimaryKeyConstraint(*pk_cols, name=pk_name),
            quote=False,
            implicit_returning=False,
        )
    return tables


TABLES: dict[str, sa.Table] = _build_tables()
"""Every catalog table by SL's real name."""

Batch = TABLES["Batch"]
ARDoc = TABLES["ARDoc"]
ARTran = TABLES["ARTran"]
ARAdjust = TABLES["ARAdjust"]
GLTran = TABLES["GLTran"]
Customer = TABLES["Customer"]
AR_Balances = TABLES["AR_Balances"]
SOHeader = TABLES["SOHeader"]
SOShipHeader = TABLES["SOShipHeader"]
WrkRelease = TABLES["WrkRelease"]
ARSetup = TABLES["ARSetup"]
GLSetup = TABLES["GLSetup"]
Account = TABLES["Account"]
SubAcct = TABLES["SubAcct"]
RefNbr = TABLES["RefNbr"]
Currncy = TABLES["Currncy"]
vs_Company = TABLES["vs_Company"]


def table(name: str) -> sa.Table:
    """A catalog table by name, case-insensitively (``'ardoc'`` → ``ARDoc``)."""
    for real, tbl in TABLES.items():
        if real.lower() == name.lower():
            return tbl
    raise KeyError(f"{name!r} is not an SL table in the catalog (known: {', '.join(TABLES)})")


def column_info(column: sa.Column[Any]) -> dict[str, Any]:
    """The SL facts (``sl_kind``, ``length``, ``blank``, ``identity``, ``rowversion``) of a catalog column."""
    return dict(column.info)


def char_length(column: sa.Column[Any]) -> int | None:
    """Declared ``char(n)`` length of an SL column, ``None`` if not a char column."""
    length = column.info.get("length")
    return int(length) if length is not None else None


def blank_value(column: sa.Column[Any]) -> object:
    """The value SL uses for "empty" in this column (``' '``, ``0``, ``0.0`` or 1900-01-01)."""
    return column.info["blank"]


def writable_columns(tbl: sa.Table, *, include_identity: bool) -> list[sa.Column[Any]]:
    """Columns an INSERT must list: all except ``tstamp``, and except the identity unless we supply it."""
    return [
        c for c in tbl.columns if not c.info["rowversion"] and (include_identity or not c.info["identity"])
    ]


def blank_row(tbl: sa.Table, *, include_identity: bool = False) -> dict[str, object]:
    """A full row of SL blanks for ``tbl`` (every writable column), to be overlaid with real values.

    SL has no NULLs and ARDoc/ARTran/ARAdjust/GLTran have no DEFAULTs, so an insert must name every column.
    """
    return {c.name: c.info["blank"] for c in writable_columns(tbl, include_identity=include_identity)}


def identity_column(tbl: sa.Table) -> sa.Column[Any] | None:
    """The SQL Server IDENTITY column of ``tbl`` (``RecordID``), or ``None``."""
    for c in tbl.columns:
        if c.info["identity"]:
            return c
    return None


def live_table_names(conn: sa.Connection, *, include_views: bool = True) -> dict[str, str]:
    """Tables (and views) in the connected database: lower-cased name → name as the database stores it.

    Views count because production SL exposes ``vs_Company`` as a view over the system database.
    """
    inspector = sa.inspect(conn)
    names = list(inspector.get_table_names())
    if include_views:
        names += inspector.get_view_names()
    return {name.lower(): name for name in names}


def identity_supplied_by_db(conn: sa.Connection, tbl: sa.Table | str) -> bool:
    """Whether the live database fills ``tbl``'s identity column itself (so INSERTs must leave it out).

    True on SQL Server (``IDENTITY``) and on the PostgreSQL replica (``GENERATED … AS IDENTITY`` from
    ``dynamics-sl-replica-postgres.sql``); False on SQLite, where the writer must supply ``RecordID``
    (``max+1`` under its write lock), and for tables without an identity column. Decided by inspecting
    the live column, not by dialect name, so a PostgreSQL copy made without the identity script is
    handled too. Costs a catalog query: call once per run and keep the answer.
    """
    sl_table = table(tbl) if isinstance(tbl, str) else tbl
    ident = identity_column(sl_table)
    if ident is None:
        return False
    live = live_table_names(conn).get(sl_table.name.lower())
    if live is None:
        raise LookupError(f"SL table {sl_table.name} does not exist in the connected database")
    for col in sa.inspect(conn).get_columns(live):
        if str(col["name"]).lower() != ident.name.lower():
            continue
        if col.get("identity"):
            return True
        default = str(col.get("default") or "").lower()
        if "nextval(" in default:  # a serial-style sequence default also fills it
            return True
        if conn.dialect.name == "mssql" and col.get("autoincrement") is True:
            return True
        return False
    raise LookupError(f"SL table {sl_table.name} has no column {ident.name} in the connected database")
