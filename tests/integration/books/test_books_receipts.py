"""Issue 11 §2/§3/§4: cash that reached the bank is always recorded, applied as far as it can be, the same
whatever SL released when; any invoice (open or closed) identifies its customer."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from scenario import SL, START, Scenario

from paytrace_sl_sandbox import demo

pytestmark = pytest.mark.integration


def _codes(sc: Scenario, tid: int) -> list[str]:
    return [code for _, code, _ in sc.reviews(tid)]


@pytest.mark.parametrize("release_between", [False, True], ids=["held", "released-between"])
def test_payment_larger_than_invoice_is_split_the_same_whatever_was_released(
    scenario: Callable[..., Scenario], release_between: bool
) -> None:
    """§3: 60 + 80 against a 100 invoice: 60 applied, then 40 applied and 40 unapplied — with or without
    a release between the two runs."""
    sc = scenario()
    sc.invoice(0, "000451", "100.00")
    sc.at("2025-05-01T10:00")
    first = sc.sale("60.00", customer=0, invoice="000451")
    sc.at("2025-05-01T22:00")
    sc.settle()
    sc.sync("2025-05-01")
    if release_between:
        sc.release()
    sc.at("2025-05-02T10:00")
    second = sc.sale("80.00", customer=0, invoice="000451")
    sc.at("2025-05-02T22:00")
    sc.settle()
    sc.sync("2025-05-02")
    assert sc.applications(str(first)) == [("000451", 60.0)]
    assert sc.applications(str(second)) == [("000451", 40.0)]
    assert _codes(sc, second) == ["appl_partial"]
    assert "applied 40.00, 40.00 posted unapplied" in sc.reviews(second)[0][2]
    sc.release()
    books = sc.books()
    books.assert_ok()
    assert sc.doc("IN", "000451")["DocBal"] == 0.0 and sc.doc("IN", "000451")["OpenDoc"] == 0
    assert sc.doc("PA", str(second))["DocBal"] == 40.0  # the unapplied rest, on the customer's account
    assert books.customer_change(sc.customers[0][1]) == Decimal("-140.00")
    assert books.account_change("1020") == 0 and books.account_change("1010") == Decimal("140.00")


def test_payment_bigger_than_invoice_in_one_run(scenario: Callable[..., Scenario]) -> None:
    sc = scenario()
    sc.invoice(1, "000777", "100.00")
    sc.at("2025-05-01T10:00")
    tid = sc.sale("150.00", customer=1, invoice="000777")
    sc.settle()
    sc.sync("2025-05-01")
    assert sc.applications(str(tid)) == [("000777", 100.0)]
    assert _codes(sc, tid) == ["appl_partial"]
    sc.release()
    sc.books().assert_ok()


def test_receipt_for_a_paid_invoice_another_customers_invoice_or_an_unknown_one_is_posted(
    scenario: Callable[..., Scenario],
) -> None:
    """§2: the paying customer is known, so the receipt is posted unapplied with a review note; before,
    nothing was posted while the deposit emptied clearing."""
    sc = scenario()
    sc.invoice(0, "000451", "100.00")
    sc.invoice(1, "000452", "100.00")
    sc.at("2025-05-01T10:00")
    paid = sc.sale("100.00", customer=0, invoice="000451")
    sc.settle()
    sc.sync("2025-05-01")
    sc.release()  # the invoice is now closed in SL
    sc.at("2025-05-02T10:00")
    again = sc.sale("100.00", customer=0, invoice="000451")  # already paid
    foreign = sc.sale("30.00", customer=0, invoice="000452")  # customer 1's invoice
    unknown = sc.sale("20.00", customer=0, invoice="NO-SUCH")
    keyed_closed = sc.sale("10.00", invoice="000451")  # keyed: the (closed) invoice names its customer
    sc.settle()
    sc.sync("2025-05-02")
    cust0 = sc.customers[0][1]
    for tid in (again, foreign, unknown, keyed_closed):
        assert sc.doc("PA", str(tid))["CustId"].strip() == cust0
        assert sc.applications(str(tid)) == []
    assert _codes(sc, again) == ["appl_invoice_closed"]
    assert _codes(sc, keyed_closed) == ["appl_invoice_closed"]
    assert "invoice_other_customer: invoice '000452' belongs to" in sc.reviews(foreign)[0][2]
    assert "invoice_not_found" in sc.reviews(unknown)[0][2]
    assert sc.applications(str(paid)) == [("000451", 100.0)]
    sc.release()
    books = sc.books()
    books.assert_ok()
    assert books.customer_change(cust0) == Decimal("-260.00")
    assert books.account_change("1020") == 0  # everything that reached the bank is in SL
    assert "card clearing: every PayTrace cent that moved money in the range is in SL (no open items)" in (
        sc.reconcile("2025-05-01", "2025-05-02").notes
    )


def test_unidentified_customer_posts_even_with_an_invoice_id(scenario: Callable[..., Scenario]) -> None:
    """§2: with ``unmatched: unidentified`` an unknown payer quoting an unknown invoice posts to the
    unidentified-receipts customer."""
    sc = scenario(unidentified=True)
    sc.at("2025-05-01T10:00")
    tid = sc.sale("45.00", invoice="NO-SUCH")
    sc.settle()
    sc.sync("2025-05-01")
    assert sc.doc("PA", str(tid))["CustId"].strip() == SL.unidentified_cust_id
    sc.release()
    sc.books().assert_ok()


def test_money_with_no_customer_waits_in_review_and_clearing_shows_it(
    scenario: Callable[..., Scenario],
) -> None:
    """Only money with no customer at all waits in review: clearing then holds exactly that, named."""
    sc = scenario()
    sc.at("2025-05-01T10:00")
    tid = sc.sale("45.00", invoice="NO-SUCH")
    sc.settle()
    sc.sync("2025-05-01")
    assert _codes(sc, tid) == ["unknown_customer"]
    notes = sc.reconcile("2025-05-01", "2025-05-01").notes  # reconciliation names it, before any release
    assert any(
        n.startswith(
            f"card clearing: 45.00 of PayTrace money is not in SL and waits in 1 named open item(s): {tid}"
        )
        for n in notes
    ), notes
    summary = demo.books_summary(sc.url, sc.cfg.landing_dir, sc.cfg.mapping_path, START, START)
    assert summary[0].startswith("card clearing: 45.00 of PayTrace money is not in SL") and summary[
        1
    ].startswith("settlement batches: 1, unexplained differences: 0"), summary
    sc.release()
    books = sc.books()
    books.assert_ok()
    assert books.open_review == {tid: "unknown_customer"}
    assert books.account_change("1020") == Decimal("-45.00")
