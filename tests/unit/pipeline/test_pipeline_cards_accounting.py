"""Card brand from masked BINs; row accounting arithmetic."""

from __future__ import annotations

import pytest

from paytrace_sl.pipeline.accounting import RowAccount, RowAccountingError
from paytrace_sl.pipeline.cards import brand_from_masked


@pytest.mark.parametrize(
    ("masked", "brand"),
    [
        ("411111******1111", "visa"),
        ("555555******4444", "mastercard"),
        ("222300******0000", "mastercard"),
        ("378282*****0005", "amex"),
        ("341111*****1111", "amex"),
        ("601111******1117", "discover"),
        ("650000******0000", "discover"),
        ("353011******0000", "jcb"),
        ("305693****5904", "diners"),
        ("411111XXXXXX1111", "visa"),
        ("************1111", "unknown"),
        ("999999******9999", "unknown"),
        ("", "unknown"),
    ],
)
def test_brand_from_masked(masked: str, brand: str) -> None:
    assert brand_from_masked(masked) == brand


def test_full_pan_is_not_read_as_a_bin() -> None:
    assert brand_from_masked("4111111111111111") == "unknown"


def test_row_account_adds_up() -> None:
    account = RowAccount(
        10,
        posted=4,
        already_posted=2,
        skipped_by_reason={"declined": 1, "zero_amount": 1},
        review=1,
        dead_lettered=1,
    )
    assert account.check() is account
    assert account.skipped == 2
    assert account.as_dict()["skipped_by_reason"] == {"declined": 1, "zero_amount": 1}
    assert "extracted 10 = posted 4" in account.summary()


def test_row_account_mismatch_lists_numbers() -> None:
    account = RowAccount(
        10, posted=4, already_posted=2, skipped_by_reason={"declined": 1}, review=1, dead_lettered=1
    )
    with pytest.raises(RowAccountingError) as info:
        account.check()
    message = str(info.value)
    for part in (
        "extracted 10",
        "posted 4",
        "already posted 2",
        "skipped 1",
        "review 1",
        "dead-lettered 1",
        "= 9",
    ):
        assert part in message


def test_negative_bucket_rejected_even_when_sum_matches() -> None:
    with pytest.raises(RowAccountingError, match="negative"):
        RowAccount(1, posted=2, already_posted=-1).check()


def test_settlement_totals_invariants() -> None:
    import pandas as pd

    from paytrace_sl.pipeline.checks import TableCheckError, check_settlement_totals

    good = {
        "number": 571,
        "transaction_count": 3,
        "net_amount": "80.00",
        "sales_count": 2,
        "sales_amount": "100.00",
        "refund_count": 1,
        "refund_amount": "20.00",
    }
    check_settlement_totals(pd.DataFrame([good]))
    bad = dict(good, number=572, net_amount="80.01", transaction_count=4)
    with pytest.raises(TableCheckError, match=r"batch 572: net_amount 80.01 != sales 100.00 - refunds 20.00"):
        check_settlement_totals(pd.DataFrame([good, bad]))
