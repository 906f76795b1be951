"""SQLAlchemy engines for the SL database: SQL Server in production, PostgreSQL/SQLite replicas elsewhere."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_sl_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine tuned per dialect.

    * ``mssql+pyodbc``: ``fast_executemany=True`` (one round trip per batch of rows instead of per row).
    * ``sqlite``: ``foreign_keys=ON``, WAL journal and a busy timeout, so a CLI run and a test reading the
      same file wait instead of failing with "database is locked".
    * ``postgresql``: the ``psycopg`` (v3) driver when the URL names none.

    The password is registered for redaction and percent-encoded first (``normalize_sl_url``).
    """
    from paytrace_sl.secret_inputs import normalize_sl_url

    parsed = make_url(normalize_sl_url(url))
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "mssql":
        if parsed.get_driver_name() == "pyodbc":
            options["fast_executemany"] = True
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        options.pop("pool_pre_ping")
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    options.update(kwargs)
    engine = sa.create_engine(parsed, **options)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def dialect_name(bind: sa.Engine | sa.Connection) -> str:
    """``'mssql'``, ``'postgresql'`` or ``'sqlite'`` (SQLAlchemy's dialect name)."""
    return str(bind.dialect.name)
