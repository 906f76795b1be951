"""One PayTrace id, one SL posting, whatever its type — enforced by the writer and the database.

The transform already turns a changed copy of a posted id into a review item; these tests cover what it
cannot see: a concurrent run posting the same id under the other kind. The writer re-checks under its
lock, and the unique ``xPTLedger.posted_txn_id`` makes the loser's insert fail and retry into a review.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, REFUNDS, count, fetch

from paytrace_sl.plan import PlannedBatch, PlannedPayment, PlannedRefund, PostingKind
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration


def _payment(txn: int) -> PlannedBatch:
    item = PlannedPayment(txn, CUST, Decimal("50.00"), DOC_DATE, CLEARING, paytrace_type="SALE")
    return PlannedBatch(PostingKind.PAYMENT, CPNY, (item,))


def _refunds(*txns: int) -> PlannedBatch:
    items = tuple(
        PlannedRefund(t, CUST, Decimal("50.00"), DOC_DATE, CLEARING, REFUNDS, paytrace_type="REFUND")
        for t in txns
    )
    return PlannedBatch(PostingKind.REFUND, CPNY, items)


def test_an_id_posted_as_payment_is_not_posted_again_as_refund(sl_engine: sa.Engine) -> None:
    SLWriter(sl_engine).write_batch(_payment(900))
    result = SLWriter(sl_engine).write_batch(_refunds(900, 901))
    assert (result.posted, result.conflicts) == (1, 1)
    assert result.outcomes["paytrace:900:refund"].outcome == "review"
    memos = fetch(sl_engine, catalog.ARDoc, catalog.ARDoc.c.DocType.in_(["CM", "DM"]))
    # only 901's memo: a refund on account is one DM crediting clearing (docs/accounting.md)
    assert len(memos) == 1 and {m["CustOrdNbr"].strip() for m in memos} == {"901"}
    ledger = fetch(sl_engine, xPTLedger, xPTLedger.c.transaction_id == 900)
    assert [(r["kind"], r["posted_txn_id"], r["paytrace_type"]) for r in ledger] == [("payment", 900, "SALE")]
    (review,) = fetch(sl_engine, xPTReview, xPTReview.c.transaction_id == 900)
    assert (
        review["reason_code"] == "posted_copy_changed"
        and "posted to SL once, as a payment" in review["reason"]
    )
    # the same conflicting refund alone: nothing written to SL, no batch number consumed
    before = count(sl_engine, catalog.Batch)
    again = SLWriter(sl_engine).write_batch(_refunds(900))
    assert (again.posted, again.conflicts, again.bat_nbr) == (0, 1, "")
    assert count(sl_engine, catalog.Batch) == before


def test_a_concurrent_posting_of_the_id_under_the_other_kind_loses_to_the_unique_key(
    sl_pg_engine: sa.Engine,
) -> None:
    """Another run commits the id's refund after our re-check under the lock: our ledger insert collides
    on ``posted_txn_id``, the batch is rolled back and retried, and the retry raises a review item."""
    engine = sl_pg_engine
    fired: list[str] = []

    def other_run_commits(step: str) -> None:
        if step == "numbered" and not fired:
            fired.append(step)
            now = dt.datetime.now(dt.UTC)
            row = {c.name: "" for c in xPTLedger.columns if isinstance(c.type, sa.String)}
            row.update(
                ledger_key="paytrace:905:refund",
                transaction_id=905,
                kind="refund",
                status="posted",
                amount=Decimal("50.00"),
                posted_at=now,
                updated_at=now,
                posted_txn_id=905,
            )
            with engine.begin() as conn:  # its own connection: commits while our transaction is open
                conn.execute(sa.insert(xPTLedger).values(row))

    result = SLWriter(engine, step_hook=other_run_commits).write_batch(_payment(905))
    assert fired and result.attempts == 2
    assert (result.posted, result.conflicts) == (0, 1)
    assert count(engine, catalog.ARDoc, catalog.ARDoc.c.RefNbr == "905") == 0
    assert count(engine, xPTLedger, xPTLedger.c.posted_txn_id == 905) == 1
    assert count(engine, xPTReview, xPTReview.c.reason_code == "posted_copy_changed") == 1
