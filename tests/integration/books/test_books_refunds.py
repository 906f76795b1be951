"""Issue 11 §1: the refund of a payment posted on account is a DM crediting clearing (the customer's
unapplied payment pays it), never a CM against sales returns; a CM only when the refund reverses an
invoice the sale paid."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from scenario import SL, Scenario

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("invoice", ["", "SO-100"], ids=["no-invoice", "sales-order-id"])
def test_full_refund_of_a_payment_on_account_leaves_the_customer_at_zero(
    scenario: Callable[..., Scenario], invoice: str
) -> None:
    sc = scenario()
    sc.at("2025-05-01T10:00")
    sale = sc.sale("50.00", customer=2, invoice=invoice)
    sc.at("2025-05-01T22:00")
    sc.settle()
    sc.sync("2025-05-01")
    sc.at("2025-05-02T09:00")
    refund = sc.refund(sale, "50.00")
    sc.at("2025-05-02T22:00")
    sc.settle()
    sc.sync("2025-05-02")
    cust = sc.customers[2][1]
    assert sc.docs("CM") == []
    dm = [d for d in sc.docs("DM") if d["DocDesc"].strip() == f"PayTrace refund {refund}"]
    assert len(dm) == 1 and dm[0]["CustId"].strip() == cust
    (review,) = sc.reviews(refund)
    assert review[1] == "refund_apply_credit"
    assert f"apply PA {sale} of customer {cust} to DM {dm[0]['RefNbr'].strip()}" in review[2]
    sc.release()
    books = sc.books()
    books.assert_ok()
    assert books.customer_change(cust) == 0  # PA −50 + DM +50
    assert books.revenue_change() == 0 and books.account_change("4900") == 0
    assert books.account_change("1020") == 0 and books.account_change("1010") == 0


def test_refund_of_an_unidentified_receipt_is_a_dm_of_the_unidentified_customer(
    scenario: Callable[..., Scenario],
) -> None:
    sc = scenario(unidentified=True)
    sc.at("2025-05-01T10:00")
    sale = sc.sale("70.00")  # keyed, nobody known
    sc.settle()
    sc.sync("2025-05-01")
    sc.at("2025-05-03T10:00")
    refund = sc.refund(sale, "30.00")
    sc.settle()
    sc.sync("2025-05-03")
    sc.release()
    books = sc.books()
    books.assert_ok()
    assert books.customer_change(SL.unidentified_cust_id) == Decimal("-40.00")  # 70 received, 30 back
    assert books.revenue_change() == 0
    assert {code for _, code, _ in sc.reviews(refund)} == {"plan_review", "refund_apply_credit"}


@pytest.mark.parametrize("release_between", [False, True], ids=["payment-on-hold", "payment-released"])
def test_refund_reversing_a_paid_invoice_is_a_cm_against_sales_returns(
    scenario: Callable[..., Scenario], release_between: bool
) -> None:
    """§1/§4: the keyed sale paid invoice 000451; the refund quotes it: CM + DM for the invoice's customer,
    whether SL released (closed) the invoice in between or the payment is still on Hold."""
    sc = scenario()
    sc.invoice(3, "000451", "80.00")
    sc.at("2025-05-01T10:00")
    sale = sc.sale("80.00", invoice="000451")
    sc.settle()
    sc.sync("2025-05-01")
    if release_between:
        sc.release()
    sc.at("2025-05-02T10:00")
    sc.refund(sale, "80.00")
    sc.settle()
    sc.sync("2025-05-02")
    assert len(sc.docs("CM")) == 1 and len(sc.docs("DM")) == 1
    assert {d["CustId"].strip() for d in sc.docs("CM") + sc.docs("DM")} == {sc.customers[3][1]}
    sc.release()
    books = sc.books()
    books.assert_ok()
    assert books.account_change("4900") == Decimal("80.00")  # the sale is reversed: returns
    assert books.customer_change(sc.customers[3][1]) == Decimal("-80.00")  # the invoice stays paid
