"""The PayTrace customer → SL customer cross-reference (``xPTCustXref``): one way to write a person's link.

A manual link (``customers link``) and a review resolve with ``--remember`` both insert the row or
re-point it, active, with their own ``source``.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paytrace_sl.sl.own_tables import xPTCustXref


def remember_xref(
    conn: sa.Connection, paytrace_customer_id: str, cust_id: str, *, source: str, now: dt.datetime
) -> None:
    """Insert or re-point (and reactivate) the row of ``paytrace_customer_id`` in the caller's transaction."""
    x = xPTCustXref.c
    found = conn.execute(
        sa.select(x.paytrace_customer_id).where(x.paytrace_customer_id == paytrace_customer_id)
    ).first()
    if found is None:
        conn.execute(
            sa.insert(xPTCustXref).values(
                paytrace_customer_id=paytrace_customer_id,
                cust_id=cust_id,
                source=source,
                active=1,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        conn.execute(
            sa.update(xPTCustXref)
            .where(x.paytrace_customer_id == paytrace_customer_id)
            .values(cust_id=cust_id, source=source, active=1, updated_at=now)
        )
