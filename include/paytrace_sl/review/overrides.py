"""A person's choice (SL customer, invoice) for one transaction, carried from a review resolve into the
transform step through the run's landing folder (``review_overrides.json``).

Only a resolve run writes the file, so every other run's transform is unchanged. The chosen customer and
invoice are read from SL like any matched one (the transform uses them only when SL knows them).
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from paytrace_sl.pipeline.landing import Landing
    from paytrace_sl.pipeline.sl_context import SLContext

OVERRIDES_FILE = "review_overrides.json"


def write_overrides(landing: Landing, choices: dict[int, tuple[str, str]]) -> None:
    """Land ``{transaction id: (SL CustId, invoice RefNbr or "")}`` for the run's transform step."""
    landing.write_json(
        OVERRIDES_FILE,
        {str(tid): {"cust_id": cust, "invoice": ref} for tid, (cust, ref) in sorted(choices.items())},
    )


def read_overrides(landing: Landing) -> dict[int, tuple[str, str]]:
    if not landing.exists(OVERRIDES_FILE):
        return {}
    data = landing.read_json(OVERRIDES_FILE)
    return {
        int(tid): (str(v.get("cust_id") or "").strip(), str(v.get("invoice") or "").strip())
        for tid, v in (data or {}).items()
    }


def with_overrides(conn: sa.Connection, ctx: SLContext, landing: Landing) -> SLContext:
    """``ctx`` plus the run's overrides and what SL knows of the chosen customers and invoices."""
    from paytrace_sl.pipeline.sl_context import load_sl_context

    choices = read_overrides(landing)
    if not choices:
        return ctx
    extra = load_sl_context(
        conn,
        transaction_ids=(),
        customer_ids=[c for c, _ in choices.values()],
        invoice_ids=[r for _, r in choices.values() if r],
        cpny_id=ctx.cpny_id or "-",
    )
    owners = {ref: set(custs) for ref, custs in ctx.invoice_owners.items()}
    for ref, custs in extra.invoice_owners.items():
        owners.setdefault(ref, set()).update(custs)
    return replace(
        ctx,
        customers=ctx.customers | extra.customers,
        open_invoices=MappingProxyType({**extra.open_invoices, **ctx.open_invoices}),
        orders=MappingProxyType({**extra.orders, **ctx.orders}),
        invoice_owners=MappingProxyType({ref: frozenset(c) for ref, c in owners.items()}),
        overrides=MappingProxyType(dict(choices)),
    )
