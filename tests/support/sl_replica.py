"""SL replica databases built from SL's own DDL script (never from our metadata), shared by all tests.

The DDL is the copy packaged for ``paytrace-sl sl init-sandbox`` (``include/paytrace_sl/sl/ddl``), taken
verbatim from the reference replica script, so the tests and the sandbox use one file.

The script runs once per test session and backend (:class:`ReplicaTemplates`): on PostgreSQL into a
template database that each test's database is created from (``CREATE DATABASE … TEMPLATE``), on
SQLite into a file each test gets a copy of. A copy is the database the script made, byte for byte,
and costs a fraction of running the script again (~0.5 s on PostgreSQL, ~0.15 s on SQLite, per test).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DDL_DIR = Path(__file__).resolve().parents[2] / "include" / "paytrace_sl" / "sl" / "ddl"
REPLICA_DDL = DDL_DIR / "dynamics-sl-replica.sql"
REPLICA_PG_DDL = DDL_DIR / "dynamics-sl-replica-postgres.sql"
PG_ADMIN_DSN = os.environ.get("PAYTRACE_SL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_url(name: str) -> str:
    """SQLAlchemy URL of database ``name`` on the test server."""
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def create_pg_database(name: str, template: str | None = None) -> None:
    """``CREATE DATABASE name`` (a copy of ``template`` if given; nobody may be connected to it)."""
    import psycopg

    sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def drop_pg_database(name: str) -> None:
    """Drop ``name``, ending any session still connected to it (a test's pooled connections)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]


@contextmanager
def new_pg_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (empty, or a copy of ``template``); yields its URL, drops it afterwards."""
    name = f"ptsl_test_{uuid.uuid4().hex[:12]}"
    create_pg_database(name, template)
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


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
    conn.close()
    return f"sqlite:///{path}"


class ReplicaTemplates:
    """SL's replica DDL run once per backend (on first use); new replicas are copies of that result.

    ``close()`` drops the PostgreSQL template. Each pytest process (xdist worker) has its own, under a
    unique name, so workers never copy from a template another one is connected to.
    """

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._pg: str | None = None
        self._sqlite: Path | None = None

    def pg_template(self) -> str:
        """Name of the template database holding SL's replica DDL (made on the first call)."""
        if self._pg is None:
            name = f"ptsl_tmpl_{uuid.uuid4().hex[:12]}"
            create_pg_database(name)
            try:
                create_pg_replica(pg_url(name))
            except BaseException:
                drop_pg_database(name)
                raise
            self._pg = name
        return self._pg

    @contextmanager
    def pg_replica(self) -> Iterator[str]:
        """A new PostgreSQL database holding the replica DDL's tables; yields its URL, drops it after."""
        with new_pg_database(template=self.pg_template()) as url:
            yield url

    def sqlite_replica(self, path: Path) -> str:
        """A copy of the SQLite replica file at ``path``; returns its SQLAlchemy URL."""
        if self._sqlite is None:
            self._workdir.mkdir(parents=True, exist_ok=True)
            create_sqlite_replica(self._workdir / "sl-replica.db")
            self._sqlite = self._workdir / "sl-replica.db"
        shutil.copyfile(self._sqlite, path)
        return f"sqlite:///{path}"

    def close(self) -> None:
        if self._pg is not None:
            drop_pg_database(self._pg)
            self._pg = None
