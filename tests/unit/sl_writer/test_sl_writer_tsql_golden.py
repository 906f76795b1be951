"""The T-SQL the writer sends to SQL Server, compiled for mssql+pyodbc and pinned in golden files.

Regenerate after an intended change: ``PAYTRACE_SL_REGEN_GOLDEN=1 pytest tests/unit/sl_writer`` and
review the diff of ``tests/golden/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

from paytrace_sl.sl import writer_sql

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
REGENERATE = os.environ.get("PAYTRACE_SL_REGEN_GOLDEN") == "1"
STATEMENTS = writer_sql.golden_statements()


def mssql_dialect() -> sa.Dialect:
    dialect = mssql_pyodbc.dialect(paramstyle="qmark")  # what pyodbc sends
    dialect.server_version_info = (16, 0, 1000)  # SQL Server 2022
    dialect._setup_version_attributes()  # what a live connect would do for that version
    return dialect


def compile_tsql(stmt: sa.Executable, *, many: bool = True) -> str:
    """What the driver receives: an INSERT into one of our tables is compiled with the columns the writer
    sends (never the identity ``id``), for executemany (``many``) or for one row, where SQL Server's
    dialect adds ``OUTPUT inserted.id``. SL's tables are inserted with explicit column lists already.
    """
    kwargs: dict[str, Any] = {}
    table = getattr(stmt, "table", None)
    if isinstance(stmt, sa.Insert) and isinstance(table, sa.Table) and table.name.startswith("xPT"):
        kwargs["column_keys"] = [c.name for c in table.c if not (c.primary_key and c.autoincrement is True)]
        kwargs["for_executemany"] = many
    compiled = stmt.compile(dialect=mssql_dialect(), compile_kwargs={"render_postcompile": True}, **kwargs)  # type: ignore[attr-defined]
    return str(compiled).strip() + "\n"


# Our inserts as sent for a single row (SQLAlchemy asks SQL Server for the new id with OUTPUT).
ONE_ROW = {f"{name}_one_row": name for name in ("ledger_insert", "review_insert")}


@pytest.mark.parametrize("name", sorted(ONE_ROW))
def test_single_row_insert_matches_golden_tsql(name: str) -> None:
    sql = compile_tsql(STATEMENTS[ONE_ROW[name]], many=False)
    path = GOLDEN / f"sl_writer_{name}.sql"
    if REGENERATE:
        path.write_text(sql)
    assert path.exists(), f"missing golden file {path.name}: run with PAYTRACE_SL_REGEN_GOLDEN=1"
    assert sql == path.read_text()
    assert "OUTPUT inserted.id" in sql and "(id," not in sql


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_statement_matches_golden_tsql(name: str) -> None:
    sql = compile_tsql(STATEMENTS[name])
    path = GOLDEN / f"sl_writer_{name}.sql"
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(sql)
    assert path.exists(), f"missing golden file {path.name}: run with PAYTRACE_SL_REGEN_GOLDEN=1"
    assert sql == path.read_text()


def test_tsql_properties() -> None:
    lock = compile_tsql(STATEMENTS["lock_ar_setup"])
    assert "FROM ARSetup WITH (UPDLOCK, ROWLOCK)" in lock and "FOR UPDATE" not in lock
    artran = compile_tsql(STATEMENTS["insert_artran"])
    assert "RecordID" not in artran and "tstamp" not in artran  # SQL Server fills both
    assert "OUTPUT" not in artran  # no RETURNING/OUTPUT: breaks on tables with triggers
    ardoc = compile_tsql(STATEMENTS["insert_ardoc"])
    assert ardoc.count("?") == 125  # every ARDoc column but tstamp is sent
    ledger = compile_tsql(STATEMENTS["ledger_insert"])
    assert "(id," not in ledger and "OUTPUT" not in ledger  # executemany: SQL Server numbers the ids
    assert '"' not in ardoc and "[" not in ardoc  # SL's names unquoted


def test_golden_dir_has_no_stale_files() -> None:
    expected = {f"sl_writer_{n}.sql" for n in [*STATEMENTS, *ONE_ROW]} | {
        "sl_writer_preflight.sql",
        "sl_writer_preflight_findings.sql",
    }
    present = {p.name for p in GOLDEN.glob("sl_writer_*.sql")}
    assert present == expected


class _CompileOnlyConnection:
    """Compiles what preflight sends for SQL Server and answers "no rows" (there is no SQL Server here).

    It stands in for the database only so every preflight statement is compiled by the real mssql dialect.
    """

    def __init__(self) -> None:
        self.dialect = mssql_dialect()
        self.sql: list[str] = []

    def execute(self, stmt: sa.Executable) -> _NoRows:
        self.sql.append(compile_tsql(stmt))
        return _NoRows()


class _NoRows:
    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def all(self) -> list[object]:
        return []

    def scalar(self) -> None:
        return None


def test_preflight_statements_compile_for_sql_server() -> None:
    from paytrace_sl.sl.preflight import run_preflight

    conn = _CompileOnlyConnection()
    assert run_preflight(conn, module=None, bat_nbr="000101") == []  # type: ignore[arg-type]
    sql = "\n".join(conn.sql)
    path = GOLDEN / "sl_writer_preflight.sql"
    if REGENERATE:
        path.write_text(sql)
    assert sql == path.read_text()
    assert "LEN(" in sql and "LIMIT" not in sql and "FOR UPDATE" not in sql


class _CannedConnection(_CompileOnlyConnection):
    """Like :class:`_CompileOnlyConnection`, but every SELECT answers one row of typed placeholders.

    With something found everywhere (counts that differ from what was written, an inactive account, a
    suspect application), preflight also sends the statements that read the offending rows.
    """

    def execute(self, stmt: sa.Executable) -> _NoRows:
        self.sql.append(compile_tsql(stmt))
        return _OneRow(stmt)


class _OneRow(_NoRows):
    def __init__(self, stmt: sa.Executable) -> None:
        values: list[object] = []
        for col in stmt.selected_columns:  # type: ignore[attr-defined]
            kind = col.type._type_affinity if col.type is not None else None
            if kind is not None and issubclass(kind, sa.Integer):
                values.append(0)
            elif kind is not None and issubclass(kind, sa.Float | sa.Numeric):
                values.append(1.0)
            else:
                values.append("X")
        keys: list[str] = []
        for i, col in enumerate(stmt.selected_columns):  # type: ignore[attr-defined]
            key = col.key or f"c{i}"
            keys.append(key if key not in keys else f"{key}_{i}")
        result: sa.engine.result.IteratorResult[Any] = sa.engine.result.IteratorResult(
            sa.engine.result.SimpleResultMetaData(keys), iter([tuple(values)])
        )
        self.row = result.one()  # a real Row: preflight reads some rows by name

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter([self.row])

    def all(self) -> list[object]:
        return [self.row]

    def scalar(self) -> Any:
        return self.row[0]


def test_preflight_statements_reading_findings_compile_for_sql_server() -> None:
    """Every statement preflight sends when something is wrong, compiled for SQL Server and pinned."""
    from paytrace_sl.sl.preflight import run_preflight

    conn = _CannedConnection()
    written = {"Batch": 1, "ARDoc": 1, "ARTran": 1, "GLTran": 1}  # the canned count (0) differs: full check
    assert run_preflight(conn, module=None, bat_nbr="000101", written=written)  # type: ignore[arg-type]
    sql = "\n".join(conn.sql)
    path = GOLDEN / "sl_writer_preflight_findings.sql"
    if REGENERATE:
        path.write_text(sql)
    assert sql == path.read_text()
    assert "LIMIT" not in sql and "FOR UPDATE" not in sql
    assert "FROM Account" in sql and "ARTran.CustId IN (" in sql and "ARTran.SiteId IN (" in sql
    assert "ARTran.Acct IN (" in sql and "ARDoc.BankSub IN (" in sql  # the rows holding a bad account
