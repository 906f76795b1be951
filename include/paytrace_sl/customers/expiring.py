"""Vault cards expiring soon, for customers with open invoices: the list an AR clerk chases.

A card is good through the last day of its expiry month. Listed: active, linked profiles whose card
expires within ``days`` of ``today`` (already expired ones too, flagged), whose SL customer has released,
open invoices, debit memos or finance charges (``ARDoc`` ``Rlsed = 1``, ``OpenDoc = 1``, ``DocBal > 0``).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTVaultProfile
from paytrace_sl.sl.rows import money_read

OPEN_DOC_TYPES = ("IN", "DM", "FI")
IN_CHUNK = 500  # customers per IN (...) list


@dataclass(frozen=True, slots=True)
class ExpiringCard:
    paytrace_customer_id: str
    name: str
    cust_id: str
    masked_card: str
    expires: dt.date  # last day the card is good
    expired: bool
    open_invoices: int
    open_balance: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "paytrace_customer_id": self.paytrace_customer_id,
            "name": self.name,
            "cust_id": self.cust_id,
            "masked_card": self.masked_card,
            "expires": self.expires.isoformat(),
            "expired": self.expired,
            "open_invoices": self.open_invoices,
            "open_balance": str(self.open_balance),
        }


def card_good_through(month: int, year: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def expiring_cards(conn: sa.Connection, today: dt.date, days: int) -> list[ExpiringCard]:
    v = xPTVaultProfile.c
    horizon = today + dt.timedelta(days=days)
    profiles = conn.execute(
        sa.select(v.paytrace_customer_id, v.name, v.cust_id, v.masked_card, v.exp_month, v.exp_year).where(
            v.active == 1,
            v.cust_id.isnot(None),
            v.exp_month.isnot(None),
            v.exp_year.isnot(None),
            # coarse filter on the year; the month is checked below
            v.exp_year <= horizon.year,
        )
    ).all()
    soon = []
    for pid, name, cust_id, masked, month, year in profiles:
        good = card_good_through(int(month), int(year))
        if good <= horizon:
            soon.append((str(pid), str(name), str(cust_id).strip(), str(masked), good))
    if not soon:
        return []
    d = catalog.ARDoc.c
    custs = sorted({s[2] for s in soon})
    open_docs: dict[str, tuple[int, Decimal]] = {}
    for start in range(0, len(custs), IN_CHUNK):  # SQL Server takes at most 2,100 parameters a statement
        open_docs.update(
            (str(cust).strip(), (int(n), money_read(bal)))
            for cust, n, bal in conn.execute(
                sa.select(d.CustId, sa.func.count(), sa.func.sum(d.DocBal))
                .where(
                    d.CustId.in_(custs[start : start + IN_CHUNK]),
                    d.DocType.in_(OPEN_DOC_TYPES),
                    d.Rlsed == 1,
                    d.OpenDoc == 1,
                    d.DocBal > 0,
                )
                .group_by(d.CustId)
            )
        )
    out = [
        ExpiringCard(pid, name, cust, masked, good, good < today, *open_docs[cust])
        for pid, name, cust, masked, good in soon
        if cust in open_docs
    ]
    return sorted(out, key=lambda e: (e.expires, e.cust_id, e.paytrace_customer_id))


REPORT_COLUMNS = (
    "cust_id",
    "name",
    "masked_card",
    "expires",
    "expired",
    "open_invoices",
    "open_balance",
    "paytrace_customer_id",
)


def expiring_report_rows(engine: sa.Engine, today: dt.date, days: int) -> list[tuple[str | int, ...]]:
    """Rows for the auditor report (:data:`REPORT_COLUMNS`); none before the vault table is installed."""
    from paytrace_sl.sl.catalog import live_table_names

    with engine.connect() as conn:
        if xPTVaultProfile.name.lower() not in live_table_names(conn):
            return []
        cards = expiring_cards(conn, today, days)
    return [
        (
            c.cust_id,
            c.name,
            c.masked_card,
            c.expires.isoformat(),
            "yes" if c.expired else "no",
            c.open_invoices,
            f"{c.open_balance:.2f}",
            c.paytrace_customer_id,
        )
        for c in cards
    ]
