"""A books checker over an SL replica after the release model (``sl_release``) ran: are the books right?

``snapshot`` before a scenario, ``check_books`` after releasing its batches. The checks (issue 11):

1. Dr = Cr in every released batch (GLTran per Module/BatNbr).
2. A/R control change (GLTran on the A/R accounts) = customer balance change (``AR_Balances.CurrBal``)
   = change of the open balances of the customers' released documents.
3. Clearing account change = money PayTrace moved − money PayTrace deposited − money waiting in open
   review items, and every such item is named (an open ``xPTReview`` row for the transaction).
4. Every PayTrace cent that moved money appears exactly once in SL: a sale/capture as one released PA
   (RefNbr = PayTrace id, debiting a clearing account), a refund as one released DM crediting a clearing
   account (``DocDesc`` "PayTrace refund <id>", the writer's description).
5. No document balance below zero.

Scenario-specific expectations ("a fully refunded payment leaves its customer at zero and touches no
revenue account") use ``customer_change`` / ``account_change`` / ``revenue_change``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview

__all__ = ["Books", "Moved", "Snapshot", "check_books", "snapshot"]

CENT = Decimal("0.01")
DEBIT_DOCS = ("IN", "DM", "CS", "NC", "AD", "FI", "SC")


def _d(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _s(value: Any) -> str:
    return str(value or "").strip()


@dataclass(frozen=True)
class Moved:
    """A PayTrace transaction that moved money (captured sale or refund, not voided)."""

    transaction_id: int
    kind: str  # "payment" | "refund"
    amount: Decimal

    @property
    def signed(self) -> Decimal:
        return self.amount if self.kind == "payment" else -self.amount


@dataclass
class Snapshot:
    accounts: dict[str, Decimal] = field(default_factory=dict)  # released GLTran Dr − Cr per account
    customers: dict[str, Decimal] = field(default_factory=dict)  # AR_Balances.CurrBal per customer
    open_docs: dict[str, Decimal] = field(default_factory=dict)  # Σ signed DocBal of released docs


def snapshot(engine: sa.Engine) -> Snapshot:
    g, b, a = catalog.GLTran, catalog.AR_Balances, catalog.ARDoc
    snap = Snapshot()
    with engine.connect() as conn:
        for acct, dr, cr in conn.execute(
            sa.select(g.c.Acct, sa.func.sum(g.c.DrAmt), sa.func.sum(g.c.CrAmt))
            .where(g.c.Rlsed == 1)
            .group_by(g.c.Acct)
        ):
            snap.accounts[_s(acct)] = _d(dr) - _d(cr)
        for cust, bal in conn.execute(sa.select(b.c.CustID, b.c.CurrBal)):
            snap.customers[_s(cust)] = snap.customers.get(_s(cust), Decimal(0)) + _d(bal)
        for cust, dtype, bal in conn.execute(
            sa.select(a.c.CustId, a.c.DocType, a.c.DocBal).where(a.c.Rlsed == 1)
        ):
            sign = 1 if _s(dtype) in DEBIT_DOCS else -1
            snap.open_docs[_s(cust)] = snap.open_docs.get(_s(cust), Decimal(0)) + sign * _d(bal)
    return snap


@dataclass
class Books:
    before: Snapshot
    after: Snapshot
    problems: list[str]
    ar_accounts: set[str]
    clearing_accounts: set[str]
    revenue_accounts: set[str]
    open_review: dict[int, str]  # transaction id → reason code of its open review item (money not posted)

    def account_change(self, acct: str) -> Decimal:
        return self.after.accounts.get(acct, Decimal(0)) - self.before.accounts.get(acct, Decimal(0))

    def customer_change(self, cust: str) -> Decimal:
        return self.after.customers.get(cust, Decimal(0)) - self.before.customers.get(cust, Decimal(0))

    def revenue_change(self) -> Decimal:
        return sum((self.account_change(a) for a in self.revenue_accounts), Decimal(0))

    def assert_ok(self) -> None:
        assert not self.problems, "books are wrong:\n  " + "\n  ".join(self.problems)


def check_books(
    engine: sa.Engine,
    before: Snapshot,
    *,
    moved: Iterable[Moved],
    deposited: Decimal,
    clearing_accounts: Iterable[str] = ("1020",),
) -> Books:
    """All the checks of the module docstring; ``problems`` lists every failure in words."""
    moved = list(moved)
    after = snapshot(engine)
    problems: list[str] = []
    g, a, t = catalog.GLTran, catalog.ARDoc, catalog.ARTran
    clearing = set(clearing_accounts)
    with engine.connect() as conn:
        accounts = {_s(r.Acct): _s(r.AcctType) for r in conn.execute(sa.select(catalog.Account))}
        revenue = {acct for acct, kind in accounts.items() if kind[1:2] == "I"}
        ar_accounts = {_s(r.ArAcct) for r in conn.execute(sa.select(catalog.Customer.c.ArAcct))}
        ar_accounts |= {_s(r.ArAcct) for r in conn.execute(sa.select(catalog.ARSetup.c.ArAcct))}
        ar_accounts.discard("")
        # 1. Dr = Cr per released batch
        for module, bat, dr, cr in conn.execute(
            sa.select(g.c.Module, g.c.BatNbr, sa.func.sum(g.c.DrAmt), sa.func.sum(g.c.CrAmt))
            .where(g.c.Rlsed == 1)
            .group_by(g.c.Module, g.c.BatNbr)
        ):
            if _d(dr) != _d(cr):
                problems.append(f"batch {_s(module)} {_s(bat)}: debits {_d(dr)} ≠ credits {_d(cr)}")
        # 4. every PayTrace cent exactly once
        docs = conn.execute(sa.select(a).where(a.c.Rlsed == 1)).all()
        lines = conn.execute(sa.select(t).where(t.c.Rlsed == 1)).all()
        lines_of: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
        for line in lines:
            lines_of[(_s(line.CustId), _s(line.TranType), _s(line.RefNbr))].append(line)
        reviews = conn.execute(
            sa.select(xPTReview.c.transaction_id, xPTReview.c.reason_code).where(
                xPTReview.c.resolved_at.is_(None)
            )
        ).all()
        posted = {
            int(r.transaction_id)
            for r in conn.execute(
                sa.select(xPTLedger.c.transaction_id).where(
                    xPTLedger.c.status == "posted", xPTLedger.c.transaction_id.is_not(None)
                )
            )
        }
    review_of: dict[int, str] = {}
    for tid, code in reviews:
        if tid is not None:
            review_of.setdefault(int(tid), _s(code))
    open_review: dict[int, str] = {}
    waiting = Decimal(0)
    for m in moved:
        if m.kind == "payment":
            found = [d for d in docs if _s(d.DocType) == "PA" and _s(d.RefNbr) == str(m.transaction_id)]
            ok = [d for d in found if _d(d.OrigDocAmt) == m.amount and _s(d.BankAcct) in clearing]
        else:
            desc = f"PayTrace refund {m.transaction_id}"
            found = [d for d in docs if _s(d.DocType) == "DM" and _s(d.DocDesc) == desc]
            ok = [
                d
                for d in found
                if _d(d.OrigDocAmt) == m.amount
                and any(
                    _s(x.Acct) in clearing and _s(x.DrCr) == "C" and _d(x.TranAmt) == m.amount
                    for x in lines_of[(_s(d.CustId), "DM", _s(d.RefNbr))]
                )
            ]
        if len(found) > 1:
            problems.append(f"PayTrace {m.kind} {m.transaction_id} appears {len(found)} times in SL")
        elif not found:
            if m.transaction_id in posted:
                problems.append(
                    f"PayTrace {m.kind} {m.transaction_id} is in our ledger but not released in SL"
                )
            elif m.transaction_id in review_of:
                open_review[m.transaction_id] = review_of[m.transaction_id]
                waiting += m.signed
            else:
                problems.append(
                    f"PayTrace {m.kind} {m.transaction_id} ({m.amount}) moved money but is neither in SL "
                    "nor in an open review item"
                )
        elif not ok:
            problems.append(
                f"PayTrace {m.kind} {m.transaction_id}: SL document has the wrong amount or account"
            )
    # 2. A/R control = customer balances = open documents
    ar_change = sum(
        (after.accounts.get(x, Decimal(0)) - before.accounts.get(x, Decimal(0)) for x in ar_accounts),
        Decimal(0),
    )
    cust_change = sum(after.customers.values(), Decimal(0)) - sum(before.customers.values(), Decimal(0))
    docs_change = sum(after.open_docs.values(), Decimal(0)) - sum(before.open_docs.values(), Decimal(0))
    if not ar_change == cust_change == docs_change:
        problems.append(
            f"A/R control changed {ar_change}, customer balances {cust_change}, open documents {docs_change}"
        )
    for cust in set(after.customers) | set(after.open_docs):
        bal_change = after.customers.get(cust, Decimal(0)) - before.customers.get(cust, Decimal(0))
        doc_change = after.open_docs.get(cust, Decimal(0)) - before.open_docs.get(cust, Decimal(0))
        if bal_change != doc_change:
            problems.append(f"customer {cust}: balance changed {bal_change}, open documents {doc_change}")
    # 3. clearing = undeposited money − open review money (named above)
    clearing_change = sum(
        (after.accounts.get(x, Decimal(0)) - before.accounts.get(x, Decimal(0)) for x in clearing), Decimal(0)
    )
    expected = sum((m.signed for m in moved), Decimal(0)) - deposited - waiting
    if clearing_change != expected:
        problems.append(
            f"clearing changed {clearing_change}, expected {expected} (moved − deposited {deposited} − "
            f"open review {waiting}: {sorted(open_review)})"
        )
    # 5. no balance below zero
    for d in docs:
        if _d(d.DocBal) < 0:
            problems.append(
                f"{_s(d.DocType)} {_s(d.RefNbr)} of {_s(d.CustId)} has balance {_d(d.DocBal)} < 0"
            )
    return Books(before, after, problems, ar_accounts, clearing, revenue, open_review)


def moved_from(records: Mapping[int, tuple[str, Decimal]]) -> list[Moved]:
    """``{id: (kind, amount)}`` → ``Moved`` list (a shorthand for scenario tests)."""
    return [Moved(tid, kind, amount) for tid, (kind, amount) in sorted(records.items())]
