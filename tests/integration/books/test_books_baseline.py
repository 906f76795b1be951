"""Books scenarios the bridge already got right: the harness itself is proven on them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from scenario import Scenario

pytestmark = pytest.mark.integration


def test_invoice_paid_and_sale_on_account(scenario: Callable[..., Scenario]) -> None:
    sc = scenario()
    sc.invoice(0, "000451", "300.00")
    sc.at("2025-05-01T10:00")
    paid = sc.sale("300.00", customer=0, invoice="000451")
    on_account = sc.sale("120.00", customer=1)
    sc.at("2025-05-01T22:00")
    sc.settle()
    sc.sync("2025-05-01")
    sc.release()
    books = sc.books()
    books.assert_ok()
    assert sc.applications(str(paid)) == [("000451", 300.0)]
    assert sc.applications(str(on_account)) == []
    assert books.account_change("1010") == Decimal("420.00") and books.account_change("1020") == 0
    assert sc.doc("IN", "000451")["DocBal"] == 0.0
