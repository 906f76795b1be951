"""SL batch and reference numbers, taken the way SL takes them: under a lock, width preserved.

SL keeps the last number used in ``ARSetup.LastBatNbr`` (AR), ``GLSetup.LastBatNbr`` (GL) and
``ARSetup.LastRefNbr`` (AR documents). ``pp_NextGLBatNbr`` increments preserving the width
(``RIGHT(REPLICATE('0', LEN(x)) + (x + 1), LEN(x))``). We take the number inside the same transaction
as the inserts, holding a row lock on the setup row (``WITH (UPDLOCK, ROWLOCK)`` on SQL Server,
``FOR UPDATE`` on PostgreSQL; on SQLite the first write takes the database write lock), so SL users and a
second pipeline instance queue behind us instead of taking the same number.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.sl import catalog

DEFAULT_WIDTH = 6

SETUP_ROWS: dict[str, tuple[sa.Table, str]] = {
    "AR": (catalog.ARSetup, "AR"),
    "GL": (catalog.GLSetup, "GL"),
}


class NumberingError(PaytraceSlError, RuntimeError):
    """SL's number sequence cannot be continued (missing setup row, non-numeric value, overflow)."""


def increment(last: str, *, default_width: int = DEFAULT_WIDTH) -> str:
    """The next number after ``last``, zero-padded to ``last``'s width (blank → ``000001``).

    Unlike ``pp_NextGLBatNbr`` we refuse to wrap ``999999`` → ``000000``: that would reuse numbers.
    """
    text = last.strip()
    if not text:
        return "1".zfill(default_width)
    if not text.isdigit():
        raise NumberingError(f"last number {last!r} is not numeric; SL's sequence cannot be continued")
    width = len(text)
    nxt = str(int(text) + 1)
    if len(nxt) > width:
        raise NumberingError(f"number sequence {last!r} is exhausted at width {width}")
    return nxt.zfill(width)


def lock_setup_stmt(module: str, *columns: str) -> sa.Select[Any]:
    """``SELECT <columns> FROM <setup> WITH (UPDLOCK, ROWLOCK) | … FOR UPDATE WHERE SetupId = …``."""
    tbl, setup_id = SETUP_ROWS[module]
    cols = [tbl.c[name] for name in columns]
    return (
        sa.select(*cols)
        .where(tbl.c.SetupId == setup_id)
        .with_hint(tbl, "WITH (UPDLOCK, ROWLOCK)", "mssql")
        .with_for_update()
    )


def sqlite_write_lock_stmt(module: str) -> sa.Update:
    """SQLite has no row locks: a no-op write of the setup row takes the database write lock first."""
    tbl, setup_id = SETUP_ROWS[module]
    return sa.update(tbl).where(tbl.c.SetupId == setup_id).values(LastBatNbr=tbl.c.LastBatNbr)


def lock_setup(conn: sa.Connection, module: str, *columns: str) -> sa.Row[Any]:
    """Lock SL's setup row for ``module`` for the rest of the transaction and read ``columns``."""
    if conn.dialect.name == "sqlite":
        conn.execute(sqlite_write_lock_stmt(module))
    row = conn.execute(lock_setup_stmt(module, *columns)).first()
    if row is None:
        tbl, setup_id = SETUP_ROWS[module]
        raise NumberingError(f"{tbl.name} has no row SetupId={setup_id!r}: SL's {module} setup is missing")
    return row


def batch_exists_stmt(module: str, bat_nbr: str) -> sa.Select[Any]:
    b = catalog.Batch
    return sa.select(sa.func.count()).select_from(b).where(b.c.Module == module, b.c.BatNbr == bat_nbr)


def update_last_bat_nbr_stmt(module: str, bat_nbr: str) -> sa.Update:
    tbl, setup_id = SETUP_ROWS[module]
    return sa.update(tbl).where(tbl.c.SetupId == setup_id).values(LastBatNbr=bat_nbr)


def take_batch_number(conn: sa.Connection, module: str, last: str) -> str:
    """Next free batch number after ``last`` (setup row already locked); writes it back to the setup row.

    Skips numbers an SL user already has in ``Batch`` (e.g. a batch typed with a manual number).
    """
    candidate = increment(last)
    while conn.execute(batch_exists_stmt(module, candidate)).scalar_one():
        candidate = increment(candidate)
    conn.execute(update_last_bat_nbr_stmt(module, candidate))
    return candidate


def refnbr_used_stmt(ref_nbr: str) -> sa.Select[Any]:
    r = catalog.RefNbr
    return sa.select(sa.func.count()).select_from(r).where(r.c.RefNbr == ref_nbr)


def ardoc_refnbr_used_stmt(ref_nbr: str) -> sa.Select[Any]:
    d = catalog.ARDoc
    return (
        sa.select(sa.func.count())
        .select_from(d)
        .where(d.c.RefNbr == ref_nbr, d.c.DocType.in_(("IN", "CM", "DM", "CS", "FI", "NC")))
    )


def update_last_ref_nbr_stmt(ref_nbr: str) -> sa.Update:
    tbl = catalog.ARSetup
    return sa.update(tbl).where(tbl.c.SetupId == "AR").values(LastRefNbr=ref_nbr)


def take_ref_numbers(conn: sa.Connection, last: str, count: int) -> list[str]:
    """``count`` AR document numbers after ``ARSetup.LastRefNbr`` (row locked), free in RefNbr and ARDoc.

    Writes the last one back to ``ARSetup.LastRefNbr`` — the same sequence SL's Invoice & Memo screen
    uses when auto-numbering, so numbers never collide with documents SL users key in.
    """
    numbers: list[str] = []
    candidate = last
    while len(numbers) < count:
        candidate = increment(candidate)
        if conn.execute(refnbr_used_stmt(candidate)).scalar_one():
            continue
        if conn.execute(ardoc_refnbr_used_stmt(candidate)).scalar_one():
            continue
        numbers.append(candidate)
    if numbers:
        conn.execute(update_last_ref_nbr_stmt(numbers[-1]))
    return numbers
