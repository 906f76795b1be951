"""Insert and read every catalog table on real replicas built from SL's DDL (not from our metadata)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sl_replica import REPLICA_DDL

from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine, dialect_name

pytestmark = pytest.mark.integration


def _key_values(tbl: sa.Table) -> dict[str, object]:
    """Distinct non-blank values for primary-key columns (so PK constraints are exercised)."""
    values: dict[str, object] = {}
    for col in tbl.primary_key.columns:
        kind = col.info["sl_kind"]
        if kind == "char":
            values[col.name] = "K1"[: col.info["length"]]
        elif kind in ("smallint", "int"):
            values[col.name] = 7
    return values


def test_every_catalog_table_round_trips(replica_url: str) -> None:
    engine = create_sl_engine(replica_url)
    try:
        with engine.begin() as conn:
            identity = {
                name: catalog.identity_supplied_by_db(conn, tbl)
                for name, tbl in catalog.TABLES.items()
                if catalog.identity_column(tbl) is not None
            }
            expected = dialect_name(engine) == "postgresql"
            assert identity == {"ARTran": expected, "ARAdjust": expected}
            when = dt.datetime(2025, 4, 1, 13, 45)
            for name, tbl in catalog.TABLES.items():
                row = catalog.blank_row(tbl, include_identity=not identity.get(name, True))
                row.update(_key_values(tbl))
                if "RecordID" in row:
                    row["RecordID"] = 1
                first_char = next(c for c in tbl.columns if c.info["sl_kind"] == "char" and not c.primary_key)
                row[first_char.name] = "X" * first_char.info["length"]  # full declared length fits
                first_float = next((c for c in tbl.columns if c.info["sl_kind"] == "float"), None)
                if first_float is not None:
                    row[first_float.name] = 1234.56
                first_date = next((c for c in tbl.columns if c.info["sl_kind"] == "datetime"), None)
                if first_date is not None:
                    row[first_date.name] = when
                conn.execute(sa.insert(tbl), [row])
                got = conn.execute(sa.select(tbl)).mappings().one()
                assert got[first_char.name].rstrip() == "X" * first_char.info["length"], name
                if first_float is not None:
                    assert got[first_float.name] == pytest.approx(1234.56), name
                if first_date is not None:
                    assert got[first_date.name] == when, name
                if identity.get(name):
                    assert got["RecordID"] >= 1  # filled by the database
                for col in tbl.columns:
                    assert col.name in got  # result keys are SL's real names on every dialect
    finally:
        engine.dispose()


def test_over_length_char_is_rejected_like_sql_server(sl_sqlite_url: str) -> None:
    """SQLite does not enforce CHAR(n); the replica's CHECKs make it fail like SQL Server."""
    engine = create_sl_engine(sl_sqlite_url)
    try:
        row = catalog.blank_row(catalog.Batch)
        row.update(Module="AR", BatNbr="X" * 11)  # char(10)
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(sa.insert(catalog.Batch), [row])
    finally:
        engine.dispose()


def test_identity_detection_inspects_the_live_column(pg_database: str) -> None:
    """A PostgreSQL copy made without the identity script: the writer must supply RecordID."""
    with psycopg.connect(pg_database.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
        c.execute(REPLICA_DDL.read_text())  # type: ignore[arg-type]
    engine = create_sl_engine(pg_database)
    try:
        with engine.connect() as conn:
            assert catalog.identity_supplied_by_db(conn, "ARTran") is False
            assert catalog.identity_supplied_by_db(conn, catalog.ARDoc) is False  # no identity column at all
    finally:
        engine.dispose()


def test_identity_detection_names_a_missing_table(tmp_path: Path) -> None:
    engine = create_sl_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with engine.connect() as conn, pytest.raises(LookupError, match="ARTran"):
            catalog.identity_supplied_by_db(conn, catalog.ARTran)
    finally:
        engine.dispose()
