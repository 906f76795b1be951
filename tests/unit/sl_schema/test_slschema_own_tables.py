"""Our xPT* table definitions: portable, short names, guarded installer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

from paytrace_sl.sl import own_tables
from paytrace_sl.sl.own_tables import INDEXES, MIGRATIONS, OWN_TABLES, InstallError


def test_names_are_prefixed_and_short() -> None:
    for name, tbl in OWN_TABLES.items():
        assert name.startswith("xPT") and len(name) <= 30
        for col in tbl.columns:
            assert len(col.name) <= 30 and col.name == col.name.lower()
    for ix in INDEXES:
        assert len(ix.name) <= 30 and ix.name == ix.name.lower()
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_ledger_has_the_contract_columns() -> None:
    cols = own_tables.xPTLedger.c
    for name in (
        "ledger_key",
        "transaction_id",
        "kind",
        "cpny_id",
        "module",
        "bat_nbr",
        "doc_type",
        "ref_nbr",
        "cust_id",
        "amount",
        "paytrace_state",
        "content_hash",
        "run_id",
        "posted_at",
        "status",
    ):
        assert name in cols, name
    assert cols.transaction_id.nullable
    assert isinstance(cols.amount.type, sa.Numeric) and (
        cols.amount.type.precision,
        cols.amount.type.scale,
    ) == (18, 2)


@pytest.mark.parametrize(
    "dialect", [mssql_pyodbc.dialect(), postgresql.dialect(), sqlite.dialect()], ids=["mssql", "pg", "sqlite"]
)
def test_ddl_compiles_unquoted_on_every_dialect(dialect: sa.Dialect) -> None:
    for tbl in OWN_TABLES.values():
        ddl = str(sa.schema.CreateTable(tbl).compile(dialect=dialect))
        assert ddl.strip().startswith(f"CREATE TABLE {tbl.name} (")
        assert '"' not in ddl and "[" not in ddl


def test_mssql_types_are_sensible() -> None:
    ddl = str(sa.schema.CreateTable(own_tables.xPTReview).compile(dialect=mssql_pyodbc.dialect()))
    assert "id BIGINT NOT NULL IDENTITY" in ddl
    assert "reason NVARCHAR(500) NOT NULL" in ddl
    assert "details NVARCHAR(max)" in ddl
    assert "created_at DATETIME2 NOT NULL" in ddl


def test_guard_refuses_non_own_tables() -> None:
    with pytest.raises(InstallError, match="ARDoc"):
        own_tables._assert_ours("ARDoc")
    with pytest.raises(InstallError):
        own_tables._assert_ours("xPT" + "x" * 40)
