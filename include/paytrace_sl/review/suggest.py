"""Exact suggestions for a payer: the SL customers the pipeline itself would match, best first.

``exact`` — PayTrace's customer id is an SL ``Customer.CustId``; ``xref`` — an active ``xPTCustXref``
row names the SL customer; ``invoice`` — the payer quoted an SL invoice (any status) with one owner (an
ambiguous RefNbr suggests each owner at a low score), or an open sales order's number. Fuzzy matching on
name/e-mail/phone is another :class:`~paytrace_sl.suggestion.Suggester`
(``paytrace_sl.customers.suggest``); the workbench takes any.
"""

from __future__ import annotations

import sqlalchemy as sa

from paytrace_sl.suggestion import PayerFacts, Suggester, Suggestion

_SCORES = {"exact": 1.0, "xref": 1.0, "invoice": 0.9, "order": 0.85}
_AMBIGUOUS_INVOICE = 0.4


class ExactSuggester:
    """Suggests from exact facts only; every suggestion is one the transform would accept."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def suggest(self, payer: PayerFacts, limit: int = 3) -> list[Suggestion]:
        from paytrace_sl.sl import catalog
        from paytrace_sl.sl.own_tables import xPTCustXref

        found: list[Suggestion] = []
        pt_id = (payer.paytrace_customer_id or "").strip()
        invoice = (payer.invoice or "").strip()
        cu, ar, x = catalog.Customer, catalog.ARDoc, xPTCustXref
        with self.engine.connect() as conn:
            if pt_id:
                if conn.execute(sa.select(cu.c.CustId).where(cu.c.CustId == pt_id)).first():
                    found.append(Suggestion(pt_id, _SCORES["exact"], ("customer_id",), True, "exact"))
                row = conn.execute(
                    sa.select(x.c.cust_id).where(x.c.paytrace_customer_id == pt_id, x.c.active == 1)
                ).first()
                if row is not None:
                    found.append(
                        Suggestion(str(row[0]).strip(), _SCORES["xref"], ("customer_id",), True, "xref")
                    )
            if invoice:
                owners = sorted(
                    {
                        str(r[0]).strip()
                        for r in conn.execute(
                            sa.select(ar.c.CustId).where(ar.c.DocType == "IN", ar.c.RefNbr == invoice)
                        )
                    }
                )
                score = _SCORES["invoice"] if len(owners) == 1 else _AMBIGUOUS_INVOICE
                found += [Suggestion(c, score, ("invoice",), len(owners) == 1, "invoice") for c in owners]
                if not owners:  # a sales order number (the payer paid an order not invoiced yet)
                    so = catalog.SOHeader
                    buyers = sorted(
                        {
                            str(r[0]).strip()
                            for r in conn.execute(
                                sa.select(so.c.CustID).where(so.c.OrdNbr == invoice, so.c.Cancelled == 0)
                            )
                        }
                    )
                    score = _SCORES["order"] if len(buyers) == 1 else _AMBIGUOUS_INVOICE
                    found += [Suggestion(c, score, ("invoice",), False, "invoice") for c in buyers]
        return merge(found)[:limit]


def merge(found: list[Suggestion]) -> list[Suggestion]:
    """One suggestion per customer: the best source, every agreeing field, and a bonus when two agree."""
    best: dict[str, Suggestion] = {}
    for s in found:
        prior = best.get(s.cust_id)
        if prior is None:
            best[s.cust_id] = s
            continue
        agreed = tuple(dict.fromkeys((*prior.agreed, *s.agreed)))
        top = prior if prior.score >= s.score else s
        best[s.cust_id] = Suggestion(
            s.cust_id,
            min(1.0, max(prior.score, s.score) + (0.05 if agreed != prior.agreed else 0.0)),
            agreed,
            prior.auto_link or s.auto_link,
            top.source,
        )
    return sorted(best.values(), key=lambda s: (-s.score, s.cust_id))


def default_suggester(engine: sa.Engine) -> Suggester:
    """The workbench's suggester: exact id, cross-reference, invoice owner, then rapidfuzz-scored matches
    on name, e-mail, phone, postal code and address
    (:func:`paytrace_sl.customers.suggest.build_suggester`)."""
    from paytrace_sl.customers.suggest import build_suggester

    return build_suggester(engine)
