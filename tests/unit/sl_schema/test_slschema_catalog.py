"""The catalog: generated from SL's DDL, SL's real names rendered unquoted on every dialect."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

from paytrace_sl.sl import catalog

ROOT = Path(__file__).resolve().parents[3]
MSSQL = mssql_pyodbc.dialect()


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_catalog", ROOT / "tools" / "gen_catalog.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_catalog"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_spec_is_up_to_date_with_the_vendored_ddl() -> None:
    gen = _generator()
    assert (ROOT / "include/paytrace_sl/sl/catalog_spec.py").read_text() == gen.render(
        gen.DDL_PATH.read_text()
    ), "catalog_spec.py is stale: run `python tools/gen_catalog.py`"


def test_catalog_has_the_required_tables_with_sl_primary_keys() -> None:
    required = {
        "Batch": ("Module", "BatNbr"),
        "ARDoc": ("CustId", "DocType", "RefNbr", "BatNbr", "BatSeq"),
        "ARTran": ("CustId", "TranType", "RefNbr", "LineNbr", "RecordID"),
        "ARAdjust": ("AdjdRefNbr", "RecordID"),
        "GLTran": ("Module", "BatNbr", "LineNbr"),
        "Customer": ("CustId",),
        "AR_Balances": ("CpnyID", "CustID"),
        "SOHeader": ("CpnyID", "OrdNbr"),
        "ARSetup": ("SetupId",),
        "GLSetup": ("SetupId",),
        "Account": ("Acct",),
        "SubAcct": ("Sub",),
        "RefNbr": ("RefNbr",),
        "Currncy": ("CuryId",),
        "vs_Company": ("CpnyID",),
    }
    for name, pk in required.items():
        tbl = catalog.TABLES[name]
        assert getattr(catalog, name) is tbl
        assert tuple(c.name for c in tbl.primary_key.columns) == pk, name


def test_every_column_is_not_null_except_rowversion() -> None:
    for tbl in catalog.TABLES.values():
        for col in tbl.columns:
            assert col.nullable is col.info["rowversion"], f"{tbl.name}.{col.name}"


def test_column_facts_for_the_writer() -> None:
    assert catalog.char_length(catalog.ARDoc.c.CustId) == 15
    assert catalog.char_length(catalog.ARDoc.c.BankSub) == 24
    assert catalog.char_length(catalog.ARDoc.c.DocBal) is None
    assert catalog.blank_value(catalog.ARDoc.c.DocDate) == catalog.BLANK_DATE
    assert catalog.blank_value(catalog.ARDoc.c.CuryDocBal) == 0.0
    assert catalog.blank_value(catalog.ARDoc.c.RefNbr) == " "
    assert catalog.identity_column(catalog.ARTran) is catalog.ARTran.c.RecordID
    assert catalog.identity_column(catalog.ARAdjust) is catalog.ARAdjust.c.RecordID
    assert catalog.identity_column(catalog.ARDoc) is None
    assert catalog.ARDoc.c.tstamp.info["rowversion"]
    assert catalog.ARDoc.c.DocDate.info["ddl_default"] is None
    assert catalog.Batch.c.DateEnt.info["ddl_default"] == "'1900-01-01 00:00:00'"
    assert len(catalog.ARDoc.columns) == 126  # 106 listed + S4Future01–12 + User1–8 (reference §2.10)
    assert len(catalog.Batch.columns) == 72  # 52 listed + 20


def test_blank_row_omits_rowversion_and_identity_unless_asked() -> None:
    row = catalog.blank_row(catalog.ARTran)
    assert "tstamp" not in row and "RecordID" not in row
    assert "RecordID" in catalog.blank_row(catalog.ARTran, include_identity=True)
    assert len(row) == len(catalog.ARTran.columns) - 2


def test_lookup_is_case_insensitive() -> None:
    assert catalog.table("ardoc") is catalog.ARDoc
    assert catalog.table("VS_COMPANY") is catalog.vs_Company
    with pytest.raises(KeyError, match="APDoc"):
        catalog.table("APDoc")


def test_mssql_insert_renders_sl_real_names_unquoted() -> None:
    stmt = sa.insert(catalog.Batch).values(catalog.blank_row(catalog.Batch))
    sql = str(stmt.compile(dialect=MSSQL))
    assert sql.startswith("INSERT INTO Batch (Acct, AutoRev, AutoRevCopy, BalanceType, BankAcct,")
    assert "[" not in sql and '"' not in sql
    assert "OUTPUT" not in sql  # implicit_returning off: SL databases may have triggers
    artran = str(sa.insert(catalog.ARTran).values(catalog.blank_row(catalog.ARTran)).compile(dialect=MSSQL))
    assert "RecordID" not in artran and "tstamp" not in artran


@pytest.mark.parametrize(
    "dialect", [MSSQL, postgresql.dialect(), sqlite.dialect()], ids=["mssql", "pg", "sqlite"]
)
def test_select_and_update_render_unquoted_on_every_dialect(dialect: sa.Dialect) -> None:
    d = catalog.ARDoc
    sql = str(
        sa.select(d.c.RefNbr, d.c.DocBal)
        .where(d.c.CustId == "C1", d.c.DocType == "IN")
        .compile(dialect=dialect)
    )
    assert "SELECT ARDoc.RefNbr, ARDoc.DocBal" in sql and "FROM ARDoc" in sql
    upd = str(sa.update(catalog.ARSetup).values(LastBatNbr="000101").compile(dialect=dialect))
    assert upd.startswith("UPDATE ARSetup SET LastBatNbr=")
    assert '"' not in sql + upd and "[" not in sql + upd


def test_mssql_column_types_are_sl_types() -> None:
    ddl = str(sa.schema.CreateTable(catalog.ARDoc).compile(dialect=MSSQL))
    assert "CustId CHAR(15) NOT NULL" in ddl
    assert "DocDate SMALLDATETIME NOT NULL" in ddl
    assert "DocBal FLOAT(53) NOT NULL" in ddl
    assert "tstamp ROWVERSION NULL" in ddl


def test_refnbr_has_the_29_columns_sl_itself_inserts() -> None:
    """SL's ``ADG_Create_AR_RefNbr`` inserts 29 columns, all NOT NULL without defaults but ``tstamp``
    (reference §2.9): a RefNbr row naming only the 8 audit/key columns is rejected by a real SL."""
    future = [f"S4Future{i:02d}" for i in range(1, 13)] + [f"User{i}" for i in range(1, 9)]
    audit = ["Crtd_DateTime", "Crtd_Prog", "Crtd_User", "LUpd_DateTime", "LUpd_Prog", "LUpd_User"]
    expected = {"RefNbr", "DocType", *audit, *future, "tstamp"}
    tbl = catalog.RefNbr
    assert {c.name for c in tbl.columns} == expected and len(expected) == 29
    assert {c.name for c in catalog.writable_columns(tbl, include_identity=False)} == expected - {"tstamp"}
    for col in tbl.columns:
        assert col.info["ddl_default"] is None, col.name  # SL supplies every column; so must we
    assert catalog.char_length(tbl.c.S4Future01) == 30 and catalog.char_length(tbl.c.User5) == 10
    assert catalog.blank_value(tbl.c.S4Future03) == 0.0
    assert catalog.blank_value(tbl.c.User7) == catalog.BLANK_DATE
