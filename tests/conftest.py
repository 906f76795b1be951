"""Shared fixtures: real PostgreSQL databases and SL replicas built from SL's own DDL script."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPLICA_DDL = FIXTURES / "dynamics-sl-replica.sql"
REPLICA_PG_DDL = FIXTURES / "dynamics-sl-replica-postgres.sql"
PG_ADMIN_DSN = os.environ.get("PAYTRACE_SL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN_DSN, autocommit=True)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards."""
    name = f"ptsl_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_admin_connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def create_pg_replica(url: str) -> None:
    """Run SL's replica DDL (and the identity fix-up) on an empty PostgreSQL database, as a DBA would."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(REPLICA_DDL.read_text())  # type: ignore[arg-type]
        conn.execute(REPLICA_PG_DDL.read_text())  # type: ignore[arg-type]


def create_sqlite_replica(path: Path) -> str:
    """Run SL's replica DDL on a new SQLite file; returns its SQLAlchemy URL."""
    with sqlite3.connect(path) as conn:
        conn.executescript(REPLICA_DDL.read_text())
    return f"sqlite:///{path}"


@pytest.fixture
def sl_pg_url(pg_database: str) -> str:
    """An empty SL replica on PostgreSQL created from ``dynamics-sl-replica.sql`` (not our metadata)."""
    create_pg_replica(pg_database)
    return pg_database


@pytest.fixture
def sl_sqlite_url(tmp_path: Path) -> str:
    """An empty SL replica on SQLite created from ``dynamics-sl-replica.sql``."""
    return create_sqlite_replica(tmp_path / "sl.db")
