"""One PayTrace transaction id is posted to SL once, whatever its type.

The ledger keeps, for the one posting of an id (its payment or its refund row), what PayTrace said when
we posted it: the document kind, the amount, the PayTrace type and a digest of the PayTrace customer id
(never the value). A later copy of the same id that differs in type, amount or customer is not "already
posted": it is an exception for a person (review item :data:`REASON_CODE`), and nothing is posted again.
A refund's CM + DM, a void removing an unreleased payment and settlement rows keyed by batch are one
event each and are not affected (docs/accounting.md).

The reason names *which* facts changed (and the PayTrace types, which are not card data), never an
amount or a customer id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "POSTING_KINDS",
    "REASON_CODE",
    "PostedFacts",
    "changed_copies",
    "changed_fields",
    "customer_digest",
]

REASON_CODE = "posted_copy_changed"
POSTING_KINDS = ("payment", "refund")


@dataclass(frozen=True, slots=True)
class PostedFacts:
    """What was posted for a transaction id. ``paytrace_type``/``customer_digest`` are "" for ledger rows
    written before schema v3 (then only kind and amount are compared)."""

    kind: str  # payment | refund
    amount: Decimal
    paytrace_type: str = ""
    customer_digest: str = ""


def customer_digest(customer_id: str) -> str:
    """SHA-256 of the PayTrace customer id as PayTrace sent it (stripped): compared, never shown."""
    return hashlib.sha256((customer_id or "").strip().encode("utf-8", "surrogatepass")).hexdigest()


def changed_fields(
    facts: PostedFacts, *, action: str, paytrace_type: str, cents: int, customer_id: str
) -> list[str]:
    """Names of what differs between the posted facts and a new copy (``type``, ``amount``, ``customer``)."""
    fields: list[str] = []
    if facts.paytrace_type:
        type_changed = paytrace_type != facts.paytrace_type
    else:  # pre-v3 row: only the document kind is known
        type_changed = action != facts.kind and action != "ignore"
    if type_changed:
        fields.append("type")
    if cents != int((facts.amount * 100).to_integral_value()):
        fields.append("amount")
    if facts.customer_digest and customer_digest(customer_id) != facts.customer_digest:
        fields.append("customer")
    return fields


def reason_text(txid: int, facts: PostedFacts, fields: list[str], paytrace_type: str) -> str:
    was = f"{facts.kind} ({facts.paytrace_type})" if facts.paytrace_type else facts.kind
    change = ""
    if "type" in fields and facts.paytrace_type:
        change = f" (type {facts.paytrace_type} → {paytrace_type})"
    return (
        f"transaction {txid} was posted to SL once, as a {was}; PayTrace now returns it with a different "
        f"{', '.join(fields)}{change}. Not posted again: check the transaction in PayTrace, correct SL by "
        "hand if needed, then resolve this item"
    )


def changed_copies(frame: pd.DataFrame, posted: Mapping[int, PostedFacts]) -> pd.Series:
    """Per row of the transform's frame (``tid``, ``action``, ``ttype``, ``cents``, ``customer_id``): the
    review reason when the id was posted before and this copy differs, else "".

    Vectorised (a look-back window re-reads hundreds of thousands of posted ids); the same rules as
    :func:`changed_fields`, which words the few changed rows.
    """
    import pandas as pd

    out = pd.Series("", index=frame.index, dtype="str")
    if not posted:
        return out
    facts = list(posted.values())
    table = pd.DataFrame(
        {
            "p_kind": [f.kind for f in facts],
            "p_type": [f.paytrace_type for f in facts],
            "p_cents": [int(f.amount * 100) for f in facts],  # NUMERIC(18,2): exact
            "p_digest": [f.customer_digest for f in facts],
        },
        index=pd.Index(list(posted), dtype="int64", name="tid"),
    )
    rows = frame[["tid", "action", "ttype", "cents", "customer_id"]].join(table, on="tid", how="inner")
    if rows.empty:
        return out
    ptype, digest = rows["p_type"], rows["p_digest"]
    type_changed = (ptype != "") & (rows["ttype"] != ptype)
    type_changed |= (ptype == "") & (rows["action"] != rows["p_kind"]) & (rows["action"] != "ignore")
    amount_changed = rows["cents"] != rows["p_cents"]
    known = digest != ""
    digests = {c: customer_digest(c) for c in rows.loc[known, "customer_id"].unique()}
    customer_changed = known & (rows["customer_id"].map(digests).astype(object).fillna("") != digest)
    changed = rows[type_changed | amount_changed | customer_changed]
    for idx, tid, action, ttype, cents_now, cust in zip(
        changed.index.tolist(),
        changed["tid"].tolist(),
        changed["action"].tolist(),
        changed["ttype"].tolist(),
        changed["cents"].tolist(),
        changed["customer_id"].tolist(),
        strict=True,
    ):
        posted_facts = posted[int(tid)]
        fields = changed_fields(
            posted_facts,
            action=str(action),
            paytrace_type=str(ttype),
            cents=int(cents_now),
            customer_id=str(cust),
        )
        out[idx] = reason_text(int(tid), posted_facts, fields, str(ttype))
    return out
