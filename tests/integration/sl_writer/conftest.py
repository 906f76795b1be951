"""Fixtures: SL replicas (from SL's DDL) seeded with the minimal setup rows the writer needs.

Building a replica (DDL + seed + our tables) takes seconds, so each backend is built once per session:
PostgreSQL tests share one database that is emptied and re-seeded before each test; SQLite tests get a
copy of a seeded file.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sl_replica import PG_ADMIN_DSN, create_pg_replica, create_sqlite_replica
from slw_support import reset_sl, seed_sl

from paytrace_sl.sl.engine import create_sl_engine


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_DSN, autocommit=True)


def _pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def _drop(name: str) -> None:
    with _admin() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def sl_pg_template() -> Iterator[str]:
    """Name of the session's seeded SL replica database on PostgreSQL."""
    name = f"ptsl_slw_tmpl_{uuid.uuid4().hex[:10]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        create_pg_replica(_pg_url(name))
        engine = create_sl_engine(_pg_url(name))
        seed_sl(engine)
        engine.dispose()
        yield name
    finally:
        _drop(name)


@pytest.fixture
def sl_pg_engine(sl_pg_template: str) -> Iterator[sa.Engine]:
    """The session's seeded PostgreSQL replica, reset to the seed before each test.

    (A database per test costs > 1 s on this machine; emptying and re-seeding costs milliseconds.)
    """
    engine = create_sl_engine(_pg_url(sl_pg_template))
    reset_sl(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sl_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slw_tmpl") / "sl.db"
    engine = create_sl_engine(create_sqlite_replica(path))
    seed_sl(engine)
    with engine.connect() as conn:  # fold the WAL into the main file so a plain copy is complete
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def sl_sqlite_engine(sl_sqlite_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    path = tmp_path / "sl.db"
    shutil.copyfile(sl_sqlite_template, path)
    engine = create_sl_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def sl_engine(request: pytest.FixtureRequest) -> sa.Engine:
    """The seeded replica on each backend."""
    name = "sl_pg_engine" if request.param == "postgresql" else "sl_sqlite_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]
