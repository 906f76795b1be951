"""The "expiring vault cards" section of the PayTrace → SL UI page (read-only).

Kept apart from :mod:`paytrace_sl_airflow.ui_plugin` so the page only gains two calls: the data
(:func:`expiring_status`, inside the page's status read) and its HTML (:func:`expiring_section`).
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

import sqlalchemy as sa

from paytrace_sl.sl.catalog import live_table_names


def expiring_status(conn: sa.Connection, today: dt.date | None = None) -> dict[str, Any]:
    """Vault cards expiring within ``customers.expiring_days`` (mapping) for customers with open invoices."""
    from paytrace_sl.customers.expiring import expiring_cards
    from paytrace_sl.pipeline.mapping import load_mapping
    from paytrace_sl.settings import mapping_path
    from paytrace_sl.sl.own_tables import xPTVaultProfile

    if xPTVaultProfile.name.lower() not in live_table_names(conn):
        return {"days": 0, "as_of": "", "cards": []}
    mapping = load_mapping(mapping_path(None))
    as_of = today or dt.datetime.now(mapping.tz).date()
    days = mapping.customers.expiring_days
    return {
        "days": days,
        "as_of": as_of.isoformat(),
        "cards": [c.as_dict() for c in expiring_cards(conn, as_of, days)],
    }


def expiring_section(expiring: dict[str, Any] | None) -> str:
    if not expiring or not expiring.get("as_of"):
        return ""
    cards = expiring["cards"]
    parts = [f"<h2>Vault cards expiring within {int(expiring['days'])} days (open invoices)</h2>"]
    if not cards:
        parts.append("<p class='muted'>None: no customer with open invoices has a card expiring soon.</p>")
        return "".join(parts)
    parts.append(
        "<table id='expiring-cards'><thead><tr><th>SL customer</th><th>name</th><th>card</th>"
        "<th>good through</th><th>open invoices</th><th>open balance</th><th>PayTrace id</th>"
        "</tr></thead><tbody>"
    )
    for c in cards:
        cls = " class='difference'" if c["expired"] else ""
        parts.append(
            f"<tr><td>{escape(c['cust_id'])}</td><td>{escape(c['name'])}</td>"
            f"<td>{escape(c['masked_card'])}</td><td{cls}>{escape(c['expires'])}"
            f"{' (expired)' if c['expired'] else ''}</td><td>{int(c['open_invoices'])}</td>"
            f"<td>{escape(c['open_balance'])}</td>"
            f"<td class='muted'>{escape(c['paytrace_customer_id'])}</td></tr>"
        )
    parts.append("</tbody></table>")
    return "".join(parts)
