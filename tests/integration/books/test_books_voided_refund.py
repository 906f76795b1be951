"""Issue 11 §5: a voided refund leaves no memo in SL while its batch is unreleased; once released, the
books are wrong until someone reverses it, and our review queue and the books checker both say so."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from scenario import Scenario

pytestmark = pytest.mark.integration


def _refund_then_void(sc: Scenario, *, release_first: bool) -> int:
    sc.at("2025-05-01T10:00")
    sale = sc.sale("50.00", customer=1)
    sc.at("2025-05-01T22:00")
    sc.settle()
    sc.sync("2025-05-01")
    sc.at("2025-05-02T09:00")
    refund = sc.refund(sale, "20.00")
    sc.sync("2025-05-02", settlements=False)
    assert len(sc.docs("DM")) == 1
    if release_first:
        sc.release()
    sc.at("2025-05-02T15:00")
    sc.void(refund)  # nothing else happened that day: no settlement batch
    sc.sync("2025-05-03")  # the look-back sees the refund voided
    return refund


def test_voided_refund_is_removed_from_its_unreleased_batch(scenario: Callable[..., Scenario]) -> None:
    sc = scenario()
    refund = _refund_then_void(sc, release_first=False)
    assert sc.docs("DM") == [] and sc.docs("CM") == []
    assert [r["status"] for r in sc.ledger(refund) if r["kind"] == "refund"] == ["removed"]
    assert sc.reviews(refund) == [(refund, "refund_apply_credit", sc.reviews(refund)[0][2])]
    assert "voided_document_in_sl" not in {
        e.kind for e in sc.reconcile("2025-05-01", "2025-05-03").exceptions
    }
    sc.release()
    sc.books().assert_ok()


def test_voided_refund_after_release_stays_an_exception(scenario: Callable[..., Scenario]) -> None:
    sc = scenario()
    refund = _refund_then_void(sc, release_first=True)
    assert len(sc.docs("DM")) == 1  # released: SL's documents are not ours to delete
    assert "refund_void_after_release" in [code for _, code, _ in sc.reviews(refund)]
    report = sc.reconcile("2025-05-01", "2025-05-03")  # no release needed to see it
    (voided,) = [e for e in report.exceptions if e.kind == "voided_document_in_sl"]
    assert (voided.transaction_id, voided.explained) == (refund, False) and not report.ok
    sc.release()
    books = sc.books()
    assert any(p.startswith("clearing changed -20.00") for p in books.problems), books.problems
