"""check-schema: clean on SL's replica, and it catches drift (extra/missing columns, lengths, tables)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install
from paytrace_sl.sl.schema_check import SchemaDifference, blocking, check_schema

pytestmark = pytest.mark.integration


def _alter(url: str, *statements: str) -> None:
    engine = create_sl_engine(url)
    try:
        with engine.begin() as conn:
            for stmt in statements:
                conn.exec_driver_sql(stmt)
    finally:
        engine.dispose()


def _check(url: str, **kwargs: object) -> list[SchemaDifference]:
    engine = create_sl_engine(url)
    try:
        return check_schema(engine, **kwargs)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_clean_on_the_replica(replica_url: str) -> None:
    assert _check(replica_url, include_own=False) == []
    own = _check(replica_url)
    assert [(d.table, d.kind, d.severity) for d in own] == [("xPTSchemaVer", "own_schema", "warning")]
    engine = create_sl_engine(replica_url)
    install(engine)
    engine.dispose()
    assert _check(replica_url) == []


def test_detects_extra_not_null_column_in_a_written_table(replica_url: str) -> None:
    # SQLite cannot add NOT NULL without a default; both backends: a defaulted one is a warning.
    _alter(
        replica_url,
        "ALTER TABLE ARDoc ADD xCustomFlag CHAR(1) NOT NULL DEFAULT 'N'",
        "ALTER TABLE Customer ADD xLoyalty CHAR(10) NULL",
    )
    # Extra columns are reported as the database names them (PostgreSQL: lower case).
    diffs = {(d.table, str(d.column).lower(), d.kind): d for d in _check(replica_url, include_own=False)}
    assert diffs[("ARDoc", "xcustomflag", "extra_column")].severity == "warning"
    assert diffs[("Customer", "xloyalty", "extra_column")].severity == "info"  # a table we only read
    assert len(diffs) == 2


def test_detects_missing_column_length_type_and_uninsertable_columns(sl_pg_url: str) -> None:
    _alter(
        sl_pg_url,
        "ALTER TABLE GLTran ADD xProject CHAR(16)",
        "UPDATE GLTran SET xProject = ' '",
        "ALTER TABLE GLTran ALTER COLUMN xProject SET NOT NULL",  # our INSERT cannot supply it
        "ALTER TABLE ARDoc DROP COLUMN User8",
        "ALTER TABLE Batch DROP CONSTRAINT IF EXISTS batch_descr_check",
        "ALTER TABLE Batch ALTER COLUMN Descr TYPE CHAR(20)",
        "ALTER TABLE ARTran ALTER COLUMN TranDesc TYPE CHAR(40)",
        "ALTER TABLE GLTran ALTER COLUMN CuryRate TYPE REAL",
        "ALTER TABLE Customer ALTER COLUMN Name TYPE VARCHAR(60)",
    )
    diffs = {(d.table, d.column, d.kind): d for d in _check(sl_pg_url, include_own=False)}
    extra = diffs[("GLTran", "xproject", "extra_column")]  # reported as PostgreSQL stores it
    assert extra.severity == "error" and "[error] GLTran.xproject: extra_column" in str(extra)
    assert diffs[("ARDoc", "User8", "missing_column")].severity == "error"
    descr = diffs[("Batch", "Descr", "length")]
    assert (descr.expected, descr.actual, descr.severity) == ("char(30)", "char(20)", "error")
    assert diffs[("ARTran", "TranDesc", "length")].severity == "warning"  # longer: harmless but suspicious
    assert diffs[("GLTran", "CuryRate", "type")].actual == "real"
    assert diffs[("Customer", "Name", "type")].actual == "varchar(60)"
    assert len(diffs) == 6


def test_detects_missing_table_and_nullable_column(sl_sqlite_url: str) -> None:
    _alter(
        sl_sqlite_url,
        "DROP TABLE Currncy",
        "DROP TABLE RefNbr",
        "CREATE TABLE RefNbr (RefNbr CHAR(10) NOT NULL PRIMARY KEY, DocType CHAR(2) NULL, "
        "Crtd_DateTime TIMESTAMP NOT NULL, Crtd_Prog CHAR(8) NOT NULL, Crtd_User CHAR(10) NOT NULL, "
        "LUpd_DateTime TIMESTAMP NOT NULL, LUpd_Prog CHAR(8) NOT NULL, LUpd_User CHAR(10) NOT NULL)",
    )
    diffs = _check(sl_sqlite_url, include_own=False)
    # SL's RefNbr has 29 columns (ADG_Create_AR_RefNbr's list); the 8-column subset lacks 20 of them,
    # each NOT NULL without a default on a real SL, so an insert naming them would fail: errors.
    future = [f"S4Future{i:02d}" for i in range(1, 13)] + [f"User{i}" for i in range(1, 9)]
    assert {(d.table, d.column, d.kind, d.severity) for d in diffs} == {
        ("Currncy", None, "missing_table", "error"),
        ("RefNbr", "DocType", "nullable", "warning"),
        *(("RefNbr", col, "missing_column", "error") for col in future),
        ("RefNbr", "tstamp", "missing_column", "warning"),  # SQL Server fills it; we never write it
    }
    assert blocking(diffs) == diffs


def test_case_insensitive_names_and_views(sl_pg_url: str) -> None:
    """Production exposes vs_Company as a VIEW over the system database; a view satisfies the catalog."""
    _alter(
        sl_pg_url,
        "ALTER TABLE vs_Company RENAME TO company_base",
        "CREATE VIEW vs_Company AS SELECT * FROM company_base",
    )
    assert _check(sl_pg_url, include_own=False, tables=["vs_company", "BATCH"]) == []


def test_check_accepts_a_connection(sl_sqlite_url: str) -> None:
    engine = create_sl_engine(sl_sqlite_url)
    try:
        with engine.connect() as conn:
            assert check_schema(conn, include_own=False) == []
            assert isinstance(conn, sa.Connection)
    finally:
        engine.dispose()
