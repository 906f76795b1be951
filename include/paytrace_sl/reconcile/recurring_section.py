"""The auditor report's recurring-billing tables (issue 16 §3), from the ``xPTRecurSched`` mirror.

Upcoming: active schedules due in the 14 days after the report's range. Failed: schedules whose latest
charge attempt was not approved (as of the last refresh). Informational: recurring charges that were
approved are ordinary transactions, already counted once in the report's other tables.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paytrace_sl.pipeline.recurring import DEFAULT_HORIZON_DAYS, RecurringCharge, recurring_overview

Cell = str | int
COLUMNS = (
    "recurrence_id",
    "paytrace_customer",
    "sl_customer",
    "amount",
    "frequency",
    "status",
    "next_date",
    "last_attempt",
    "last_message",
)


def _row(c: RecurringCharge) -> tuple[Cell, ...]:
    return (
        c.recurrence_id,
        c.paytrace_customer_id,
        c.cust_id or "(unlinked)",
        str(c.amount),
        c.frequency,
        c.status,
        c.next_date.isoformat() if c.next_date else "",
        c.last_result_at.isoformat(timespec="seconds") if c.last_result_at else "",
        c.last_message,
    )


def recurring_rows(
    engine: sa.Engine, first_day: dt.date, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> tuple[tuple[str, ...], tuple[tuple[Cell, ...], ...], tuple[tuple[Cell, ...], ...], str] | None:
    """(columns, upcoming rows, failed rows, note), or None when the recurring tables are not installed."""
    with engine.connect() as conn:
        view = recurring_overview(conn, first_day, horizon_days)
    if view is None:
        return None
    until = first_day + dt.timedelta(days=horizon_days)
    note = (
        f"{view.schedules} schedule(s) mirrored, {view.unlinked} without an SL customer; upcoming = due "
        f"{first_day} to {until} (exclusive), totalling {view.upcoming_total}"
    )
    return COLUMNS, tuple(_row(c) for c in view.upcoming), tuple(_row(c) for c in view.failed), note
