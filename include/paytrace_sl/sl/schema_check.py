"""Compare our SL catalog with a live SL database — the go-live check (``paytrace-sl sl check-schema``).

SL's schema drifts between versions and add-ons (reference §4.6/§8): a column the writer does not know
that is ``NOT NULL`` without a default breaks every INSERT; a shorter ``char`` truncates; a missing
column breaks reads. This module reflects the live database through SQLAlchemy (``INFORMATION_SCHEMA``
on SQL Server, ``pg_catalog`` on PostgreSQL, ``PRAGMA`` on SQLite) and compares names
case-insensitively, types by family (``char``, ``float``, ``smallint``, ``int``, ``datetime``) and
``char`` lengths.

Severities: ``error`` — will break or corrupt postings; ``warning`` — suspicious, review before go-live;
``info`` — harmless (e.g. the many extra columns production SL has in tables we only read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.reflection import ObjectKind

from paytrace_sl.sl import catalog
from paytrace_sl.sl.catalog import live_table_names
from paytrace_sl.sl.own_tables import OWN_TABLES, SCHEMA_VERSION, current_version

WRITTEN_TABLES = frozenset({"Batch", "ARDoc", "ARTran", "GLTran", "RefNbr"})
"""Tables the writer INSERTs into: an unknown NOT NULL column without default there is an error."""

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class SchemaDifference:
    table: str
    column: str | None
    kind: str  # missing_table | missing_column | extra_column | type | length | nullable | own_schema
    expected: str
    actual: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"[{self.severity}] {where}: {self.kind} (expected {self.expected}, found {self.actual})"


def _family(type_: Any, dialect: str) -> str:
    """Type family of a reflected column type."""
    name = type(type_).__name__.upper()
    if dialect == "mssql" and name in ("TIMESTAMP", "ROWVERSION"):
        return "rowversion"
    if name in ("CHAR", "NCHAR"):
        return "char"
    if name in ("VARCHAR", "NVARCHAR", "TEXT", "NTEXT", "STRING", "UNICODE", "CLOB"):
        return "varchar"
    if name in ("FLOAT", "DOUBLE", "DOUBLE_PRECISION", "REAL"):
        if dialect == "sqlite":
            return "float"  # SQLite's REAL is an 8-byte double; the DDL's DOUBLE PRECISION reflects as REAL
        if name == "REAL" or getattr(type_, "precision", None) in range(1, 25):
            return "real"
        return "float"
    if name in ("SMALLINT", "TINYINT"):
        return "smallint"
    if name in ("INTEGER", "INT"):
        return "int"
    if name == "BIGINT":
        return "bigint"
    if name in ("DATETIME", "SMALLDATETIME", "TIMESTAMP", "DATETIME2", "DATE"):
        return "datetime"
    if name in ("BYTEA", "LARGEBINARY", "BLOB", "BINARY", "VARBINARY"):
        return "binary"
    if name in ("NUMERIC", "DECIMAL"):
        return "numeric"
    return name.lower()


def _expected(column: sa.Column[Any]) -> str:
    kind = str(column.info["sl_kind"])
    return f"char({column.info['length']})" if kind == "char" else kind


def _actual(live: Mapping[str, Any], dialect: str) -> str:
    family = _family(live["type"], dialect)
    length = getattr(live["type"], "length", None)
    return f"{family}({length})" if family in ("char", "varchar") and length else family


def _compare_table(
    tbl: sa.Table, live_cols: Sequence[Mapping[str, Any]], dialect: str, *, is_view: bool = False
) -> list[SchemaDifference]:
    diffs: list[SchemaDifference] = []
    live_by_name = {str(c["name"]).lower(): c for c in live_cols}
    expected_names = {c.name.lower() for c in tbl.columns}
    for column in tbl.columns:
        live = live_by_name.get(column.name.lower())
        if live is None:
            severity = "warning" if column.info["rowversion"] else "error"
            diffs.append(
                SchemaDifference(
                    tbl.name, column.name, "missing_column", _expected(column), "absent", severity
                )
            )
            continue
        if column.info["rowversion"]:
            continue  # filled by SQL Server, never read or written: any binary-ish type will do
        expected_kind = str(column.info["sl_kind"])
        family = _family(live["type"], dialect)
        if family != expected_kind:
            diffs.append(
                SchemaDifference(tbl.name, column.name, "type", _expected(column), _actual(live, dialect))
            )
            continue
        if expected_kind == "char":
            live_len = getattr(live["type"], "length", None)
            if live_len != column.info["length"]:
                severity = "error" if live_len is None or live_len < column.info["length"] else "warning"
                diffs.append(
                    SchemaDifference(
                        tbl.name, column.name, "length", _expected(column), _actual(live, dialect), severity
                    )
                )
        if live.get("nullable") and not column.nullable and not is_view:  # view columns report NULL-able
            diffs.append(SchemaDifference(tbl.name, column.name, "nullable", "NOT NULL", "NULL", "warning"))
    for name, live in live_by_name.items():
        if name in expected_names:
            continue
        has_default = live.get("default") is not None or bool(live.get("autoincrement") is True)
        if tbl.name in WRITTEN_TABLES and not live.get("nullable") and not has_default:
            severity = "error"  # our INSERT cannot supply it
        elif tbl.name in WRITTEN_TABLES:
            severity = "warning"
        else:
            severity = "info"
        diffs.append(
            SchemaDifference(
                tbl.name, str(live["name"]), "extra_column", "absent", _actual(live, dialect), severity
            )
        )
    return diffs


def check_schema(
    bind: sa.Engine | sa.Connection, *, tables: list[str] | None = None, include_own: bool = True
) -> list[SchemaDifference]:
    """Differences between the catalog (and, with ``include_own``, our installed xPT* tables) and the live DB.

    ``tables`` limits the SL tables checked (default: the whole catalog). An empty list means "no
    differences" — a clean go-live check.
    """
    if isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            return check_schema(conn, tables=tables, include_own=include_own)
    conn = bind
    dialect = conn.dialect.name
    live = live_table_names(conn)
    inspector = sa.inspect(conn)
    views = {name.lower() for name in inspector.get_view_names()}
    # One catalog query for all tables and views (per-table reflection is ~20 round trips on PostgreSQL).
    all_columns = {
        name: list(cols) for (_schema, name), cols in inspector.get_multi_columns(kind=ObjectKind.ANY).items()
    }
    diffs: list[SchemaDifference] = []
    wanted = [catalog.table(t) for t in tables] if tables else list(catalog.TABLES.values())
    for tbl in wanted:
        live_name = live.get(tbl.name.lower())
        if live_name is None:
            diffs.append(SchemaDifference(tbl.name, None, "missing_table", "table", "absent"))
            continue
        columns = all_columns.get(live_name)
        if columns is None:  # not returned by the bulk query (e.g. another schema): ask for this one
            columns = inspector.get_columns(live_name)
        diffs.extend(_compare_table(tbl, columns, dialect, is_view=live_name.lower() in views))
    if include_own:
        diffs.extend(_check_own(conn, live))
    return diffs


def _check_own(conn: sa.Connection, live: dict[str, str]) -> list[SchemaDifference]:
    diffs: list[SchemaDifference] = []
    version = current_version(conn)
    if version < SCHEMA_VERSION:
        diffs.append(
            SchemaDifference(
                "xPTSchemaVer",
                None,
                "own_schema",
                f"version {SCHEMA_VERSION}",
                f"version {version}",
                "warning",
            )
        )
        return diffs  # `paytrace-sl sl install` fixes everything below at once
    inspector = sa.inspect(conn)
    for name, tbl in OWN_TABLES.items():
        live_name = live.get(name.lower())
        if live_name is None:
            diffs.append(SchemaDifference(name, None, "missing_table", "table", "absent", "warning"))
            continue
        present = {str(c["name"]).lower() for c in inspector.get_columns(live_name)}
        for column in tbl.columns:
            if column.name.lower() not in present:
                diffs.append(
                    SchemaDifference(name, column.name, "missing_column", "column", "absent", "warning")
                )
    return diffs


def blocking(diffs: list[SchemaDifference]) -> list[SchemaDifference]:
    """The differences that should stop a go-live: errors and warnings (not ``info``)."""
    return [d for d in diffs if d.severity in ("error", "warning")]
