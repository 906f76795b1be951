"""Plans and settings the writer refuses before touching SL (it never releases, never guesses)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from paytrace_sl.plan import Account, PlannedBatch, PlannedPayment, PlannedRefund, PostingKind
from paytrace_sl.sl.writer import SLWriter, WriterError, content_hash

ENGINE = sa.create_engine("sqlite://")
CLEARING = Account("1020", "000000")


def pay(txn: int) -> PlannedPayment:
    return PlannedPayment(txn, "C100", Decimal("1.00"), dt.date(2025, 4, 3), CLEARING)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"user": "ELEVENCHARS"}, "user"),
        ({"program": "NINECHARS"}, "program"),
        ({"batch_status": "U"}, "only creates H"),
        ({"gl_journal_type": "GJXX"}, "gl_journal_type"),
    ],
)
def test_bad_settings_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(WriterError, match=match):
        SLWriter(ENGINE, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        (PlannedBatch(PostingKind.PAYMENT, "CO1", ()), "has no items"),
        (PlannedBatch(PostingKind.PAYMENT, "CO1", (pay(1), pay(1))), "repeats ledger key"),
        (
            PlannedBatch(
                PostingKind.PAYMENT,
                "CO1",
                (PlannedRefund(2, "C", Decimal(1), dt.date.today(), CLEARING, CLEARING),),
            ),
            "holds a PlannedRefund",
        ),
        (PlannedBatch(PostingKind.PAYMENT, "CO1", (pay(1),), status="U"), "never released"),
    ],
)
def test_bad_plans_refused_before_any_sql(batch: PlannedBatch, match: str) -> None:
    statements: list[str] = []
    sa.event.listen(ENGINE, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with pytest.raises(WriterError, match=match):
        SLWriter(ENGINE).write_batch(batch)
    assert statements == []


def test_content_hash_changes_with_what_is_posted() -> None:
    assert content_hash(pay(1)) == content_hash(pay(1))
    assert content_hash(pay(1)) != content_hash(pay(2))
    changed = PlannedPayment(1, "C100", Decimal("1.01"), dt.date(2025, 4, 3), CLEARING)
    assert content_hash(changed) != content_hash(pay(1))
