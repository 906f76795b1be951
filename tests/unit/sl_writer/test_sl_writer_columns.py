"""The payments path's column-wise pieces: ``ColumnRows``/``check_columns`` against ``complete_row``,
the payment content hash against the dataclass ``repr``, and the SQL Server ``fast_executemany``
statement and parameter tuples (compiled with the mssql dialect: there is no SQL Server here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

from paytrace_sl.plan import Account, InvoiceApplication, PlannedPayment
from paytrace_sl.sl import catalog
from paytrace_sl.sl.rows import ColumnRows, SLValueError, check_columns, complete_row
from paytrace_sl.sl.writer import model
from paytrace_sl.sl.writer.bulk import fast_executemany_params
from paytrace_sl.sl.writer.model import content_hash, payment_content_hash

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
DAY = dt.date(2025, 4, 1)
NOW = dt.datetime(2025, 4, 1, 9, 30)


def mssql_dialect() -> sa.Dialect:
    """What a live pyodbc connection to SQL Server 2022 would use (as the golden T-SQL test compiles)."""
    dialect = mssql_pyodbc.dialect(paramstyle="qmark")
    dialect.server_version_info = (16, 0, 1000)
    dialect._setup_version_attributes()
    return dialect


def _ardoc_columns(n: int = 3, **constant: object) -> ColumnRows:
    return ColumnRows(
        n,
        {
            "CustId": [f"C{i}" for i in range(n)],
            "RefNbr": [str(1000 + i) for i in range(n)],
            "DocDate": [DAY] * n,
            "CuryOrigDocAmt": [1.5 + i for i in range(n)],
            "DocDesc": ["a\tb", "", "x "][:n] + ["d"] * max(0, n - 3),
            "LineCntr": list(range(n)),
        },
        {"DocType": "PA", "CpnyID": "CO1", "Crtd_DateTime": NOW, "Rlsed": 0, **constant},
    )


def test_column_rows_give_the_same_rows_and_check_like_complete_row() -> None:
    cols = _ardoc_columns()
    rows = cols.rows()
    assert len(cols) == 3 and rows[1]["CustId"] == "C1" and rows[2]["DocType"] == "PA"
    varying, constant, blanks = check_columns(catalog.ARDoc, cols, include_identity=False)
    assert set(dict(varying)) | set(constant) | set(blanks) == set(
        complete_row(catalog.ARDoc, {}, include_identity=False)
    )
    for index, row in enumerate(rows):
        expected = complete_row(catalog.ARDoc, row, include_identity=False)
        got = {k: v[index] for k, v in varying} | constant | blanks
        assert got == expected
    cols.set_constant("PerEnt", "202504")
    assert cols.distinct("PerEnt") == {"202504"} and cols.distinct("NoSuch") == {None}


@pytest.mark.parametrize(
    ("where", "key", "value", "problem"),
    [
        ("varying", "CustId", "C" * 16, r"ARDoc\.CustId: longer than char\(15\)"),
        ("constant", "CpnyID", "X" * 11, r"ARDoc\.CpnyID: longer than char\(10\)"),
        ("constant", "Rlsed", 70_000, r"ARDoc\.Rlsed: outside smallint"),
        ("constant", "NoSuchColumn", 1, r"ARDoc\.NoSuchColumn: not a writable column"),
        ("varying", "DocDate", None, r"ARDoc\.DocDate: SL columns are NOT NULL"),
    ],
)
def test_check_columns_refuses_what_complete_row_refuses(
    where: str, key: str, value: object, problem: str
) -> None:
    cols = _ardoc_columns()
    if where == "varying":
        cols.set_varying(key, [*cols.column(key)[:2], value] if key in cols.varying else [value] * 3)
    else:
        cols.set_constant(key, value)
    with pytest.raises(SLValueError, match=problem):
        check_columns(catalog.ARDoc, cols, include_identity=False)
    with pytest.raises(SLValueError, match=problem):
        complete_row(catalog.ARDoc, cols.rows()[2], include_identity=False)


def test_column_rows_refuse_ragged_or_doubled_columns() -> None:
    with pytest.raises(ValueError, match="2 values for 3 rows"):
        ColumnRows(3, {"CustId": ["a", "b"]}, {})
    with pytest.raises(ValueError, match="both varying and constant"):
        ColumnRows(1, {"CustId": ["a"]}, {"CustId": "b"})


@pytest.mark.parametrize(
    "pay",
    [
        PlannedPayment(1, "C1", Decimal("1.00"), DAY, Account("1020", "000000")),
        PlannedPayment(
            4_294_967_296,
            'O\'Brien "x"',
            Decimal("1234.5670"),
            DAY,
            Account("1020", "0\\0"),
            (InvoiceApplication("INV1", Decimal("1")), InvoiceApplication("INV'2", Decimal("2.50"), "DM")),
            "Visa ****1234 «ü»\t\n",
            "ext\\ref",
            Account("1200", "000000"),
            "review: why",
            paytrace_state="settled",
            paytrace_type="SALE",
            customer_digest="abc",
        ),
        PlannedPayment(
            7,
            "C7",
            Decimal("-0"),
            dt.date(1999, 12, 31),
            Account("", ""),
            (InvoiceApplication("", Decimal("0")),),
        ),
    ],
)
def test_payment_content_hash_is_the_repr_hash(pay: PlannedPayment) -> None:
    assert model._FAST_REPR  # the written-out repr is in use (else this compares content_hash with itself)
    assert payment_content_hash(pay) == content_hash(pay)


def test_fast_executemany_sends_the_golden_statement_and_complete_rows() -> None:
    cols = _ardoc_columns()
    sql, params = fast_executemany_params(mssql_dialect(), catalog.ARDoc, cols, include_identity=False)
    assert sql.strip() == (GOLDEN / "sl_writer_insert_ardoc.sql").read_text().strip()
    names = [c.strip() for c in sql[sql.index("(") + 1 : sql.index(")")].split(",")]
    assert len(params) == 3 and all(len(p) == len(names) == 125 for p in params)
    for values, row in zip(params, cols.rows(), strict=True):
        assert dict(zip(names, values, strict=True)) == complete_row(
            catalog.ARDoc, row, include_identity=False
        )
    # the dict rows of the other document kinds take the same path
    sql2, params2 = fast_executemany_params(
        mssql_dialect(), catalog.ARDoc, cols.rows(), include_identity=False
    )
    assert (sql2, params2) == (sql, params)
