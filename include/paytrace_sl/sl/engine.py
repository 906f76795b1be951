"""SQLAlchemy engines for the SL database: SQL Server in production, PostgreSQL/SQLite replicas elsewhere."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from paytrace_sl import settings
from paytrace_sl.errors import PaytraceSlError, Transient

SQLITE_BUSY_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_ENV = settings.SL_LOCK_TIMEOUT_ENV
STATEMENT_TIMEOUT_ENV = settings.SL_STATEMENT_TIMEOUT_ENV

# How each SL dialect says "gave up waiting for a lock": PostgreSQL's SQLSTATE, SQL Server's error
# number 1222 ("Lock request time out period exceeded"), SQLite's busy message.
_PG_LOCK_NOT_AVAILABLE = "55P03"
_PG_QUERY_CANCELED = "57014"
_MSSQL_LOCK_TIMEOUT = "1222"


class SLLockTimeout(Transient):
    """Another SL session held a row or table lock longer than our lock timeout; retry later."""


class SLStatementTimeout(Transient):
    """One SL statement ran longer than the statement timeout; retry later or raise the timeout."""


def lock_timeout_s() -> float:
    """How long an SL statement waits for a lock (settings: ``PAYTRACE_SL_SL_LOCK_TIMEOUT_S``)."""
    return settings.sl_lock_timeout_s()


def statement_timeout_s() -> float:
    """How long one SL statement may run (settings: ``PAYTRACE_SL_SL_STATEMENT_TIMEOUT_S``)."""
    return settings.sl_statement_timeout_s()


def create_sl_engine(
    url: str,
    *,
    lock_timeout: float | None = None,
    statement_timeout: float | None = None,
    **kwargs: Any,
) -> sa.Engine:
    """An engine tuned per dialect, with a lock and a statement timeout on every connection.

    Without them a writer queued behind an SL user's open transaction on ``ARSetup`` would wait forever
    and hold an Airflow worker slot; with them it gives up with :class:`SLLockTimeout` (retryable).
    Timeouts default to ``PAYTRACE_SL_SL_LOCK_TIMEOUT_S`` / ``PAYTRACE_SL_SL_STATEMENT_TIMEOUT_S``
    (60 s / 3600 s; 0 = no limit).

    * ``mssql+pyodbc``: ``fast_executemany=True`` (one round trip per batch of rows instead of per row);
      ``SET LOCK_TIMEOUT`` per connection, the statement timeout as pyodbc's query timeout.
    * ``sqlite``: ``foreign_keys=ON``, WAL journal and a busy timeout (the lock timeout), so a CLI run and
      a test reading the same file wait instead of failing with "database is locked".
    * ``postgresql``: the ``psycopg`` (v3) driver when the URL names none; ``lock_timeout`` and
      ``statement_timeout`` as session settings.

    The password is registered for redaction and percent-encoded first (``normalize_sl_url``).
    """
    from paytrace_sl.secret_inputs import normalize_sl_url

    lock_s = lock_timeout_s() if lock_timeout is None else lock_timeout
    statement_s = statement_timeout_s() if statement_timeout is None else statement_timeout
    lock_ms, statement_ms = int(lock_s * 1000), int(statement_s * 1000)
    parsed = make_url(normalize_sl_url(url))
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "mssql":
        if parsed.get_driver_name() == "pyodbc":
            options["fast_executemany"] = True
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        options["connect_args"] = {
            "options": f"-c lock_timeout={lock_ms} -c statement_timeout={statement_ms}"
        }
    elif backend == "sqlite":
        options.pop("pool_pre_ping")
        busy_ms = lock_ms or SQLITE_BUSY_TIMEOUT_MS
        options["connect_args"] = {"timeout": busy_ms / 1000}
    options.update(kwargs)
    engine = sa.create_engine(parsed, **options)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas(lock_ms or SQLITE_BUSY_TIMEOUT_MS))
    elif backend == "mssql":
        sa.event.listen(engine, "connect", _mssql_timeouts(lock_ms, statement_s))
    return engine


def _sqlite_pragmas(busy_ms: int) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    return on_connect


def _mssql_timeouts(lock_ms: int, statement_s: float) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"SET LOCK_TIMEOUT {int(lock_ms) if lock_ms else -1}")
        finally:
            cursor.close()
        if statement_s and hasattr(dbapi_conn, "timeout"):
            dbapi_conn.timeout = max(1, round(statement_s))  # pyodbc: query timeout in whole seconds

    return on_connect


def timeout_error(exc: BaseException, doing: str) -> PaytraceSlError | None:
    """The clear, retryable error for a lock or statement timeout inside ``exc``, else None.

    ``doing`` names the step (e.g. ``"numbering the batch (ARSetup)"``); the message never carries the
    statement's parameters.
    """
    if not isinstance(exc, sa.exc.DBAPIError):
        return None
    orig = exc.orig
    state = str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")
    text = str(orig)
    args = " ".join(str(a) for a in getattr(orig, "args", ()))
    if state == _PG_LOCK_NOT_AVAILABLE or f"({_MSSQL_LOCK_TIMEOUT})" in args or "database is locked" in text:
        return SLLockTimeout(
            f"SL database: gave up waiting for a lock while {doing} after {lock_timeout_s():g} s "
            f"({LOCK_TIMEOUT_ENV}); another session holds it. Nothing was written; the task will retry."
        )
    if state == _PG_QUERY_CANCELED and "statement timeout" in text:
        return SLStatementTimeout(
            f"SL database: a statement ran longer than {statement_timeout_s():g} s while {doing} "
            f"({STATEMENT_TIMEOUT_ENV}). Nothing was written; the task will retry."
        )
    return None


def dialect_name(bind: sa.Engine | sa.Connection) -> str:
    """``'mssql'``, ``'postgresql'`` or ``'sqlite'`` (SQLAlchemy's dialect name)."""
    return str(bind.dialect.name)
