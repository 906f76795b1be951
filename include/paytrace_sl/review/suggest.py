"""The workbench's suggester: :func:`default_suggester` is the customers matcher
(:func:`paytrace_sl.customers.suggest.build_suggester`: exact CustId, the ``xPTCustXref`` row, the quoted
invoice's customer, then fuzzy name/e-mail/phone/postal code/address), the same one the customers DAG
links with; :func:`merge` folds suggestions from several sources into one per customer.
"""

from __future__ import annotations

import sqlalchemy as sa

from paytrace_sl.suggestion import Suggester, Suggestion


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
