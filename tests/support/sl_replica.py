"""SL replica databases built from SL's own DDL script (never from our metadata), shared by all tests.

The DDL is the copy packaged for ``paytrace-sl sl init-sandbox`` (``include/paytrace_sl/sl/ddl``), taken
verbatim from the reference replica script, so the tests and the sandbox use one file.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DDL_DIR = Path(__file__).resolve().parents[2] / "include" / "paytrace_sl" / "sl" / "ddl"
REPLICA_DDL = DDL_DIR / "dynamics-sl-replica.sql"
REPLICA_PG_DDL = DDL_DIR / "dynamics-sl-replica-postgres.sql"
PG_ADMIN_DSN = os.environ.get("PAYTRACE_SL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def new_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards."""
    import psycopg

    name = f"ptsl_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]


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
