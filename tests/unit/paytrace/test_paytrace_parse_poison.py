"""Poison values: each is refused by the parser with a RecordParseError naming the record and the field
(never echoing the value), so it becomes one dead letter instead of an exception later in the day."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.parse import (
    MAX_BATCH_NUMBER,
    MAX_TRANSACTION_ID,
    parse_batch,
    parse_transaction,
)
from paytrace_sl.redaction import contains_pan

LA = ZoneInfo("America/Los_Angeles")

GOOD: dict[str, Any] = {
    "transaction_id": 81234567,
    "credit_card": {"masked_number": "411111******1111", "expiration_month": 12, "expiration_year": 27},
    "transaction_type": "SALE",
    "description": "",
    "amount": 110,
    "invoice_id": "INV-1001",
    "billing_address": {"name": "Pat Example"},
    "tax_amount": "8.10",
    "customer_reference_id": "PO-77",
    "approval_code": "TAS123",
    "status_code": "GB571",
    "status_message": "GB571",
    "created": {"through": "API", "at": "4/10/2025 4:06:30 PM", "by": "apiuser123"},
    "settled": "4/10/2025 8:13:45 PM",
    "customer_id": "CUST-1",
}


def record(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(GOOD)
    for path, value in changes.items():
        node = raw
        *parents, last = path.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return raw


def refused(raw: dict[str, Any], field: str, label: object = 81234567) -> RecordParseError:
    with pytest.raises(RecordParseError) as info:
        parse_transaction(raw, LA)
    err = info.value
    assert (err.field, err.transaction_id) == (field, label), err
    assert not contains_pan(str(err)) and "\x00" not in str(err)
    return err


def test_the_good_record_parses() -> None:
    tx = parse_transaction(record(), LA)
    assert (tx.transaction_id, tx.batch_number, tx.customer_id) == (81234567, 571, "CUST-1")


@pytest.mark.parametrize(
    "value",
    [
        "²",
        "8123²567",  # str.isdigit accepts superscripts; int() then raised outside the error path
        "８１２３４５６７",  # full-width
        "٨١٢٣٤٥٦٧",  # Arabic-Indic
        "81234567\x00",
        "\ud800",
        10**25,
        str(10**25),
        "9" * 5000,  # int() refuses > 4300 digits with a ValueError
        Decimal("1E+999999"),
        1e300,
        MAX_TRANSACTION_ID + 1,  # SL's RefNbr is char(10)
        "12345678901",
        4111111111111111,  # a 16-digit Luhn-valid id: a PAN in every file it would reach
        "4111111111111111",
        0,
        -81234567,
        "-81234567",
        81234567.5,
        "81234567.0",
        "1e7",
        " ",
        None,
        True,
    ],
)
def test_poison_transaction_ids_are_refused(value: object) -> None:
    err = refused(record(transaction_id=value), "transaction_id", "<unknown>")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and len(str(value)) >= 4:
        assert str(value) not in str(err)


def test_largest_transaction_id_still_parses() -> None:
    assert (
        parse_transaction(record(transaction_id=MAX_TRANSACTION_ID), LA).transaction_id == MAX_TRANSACTION_ID
    )
    assert parse_transaction(record(transaction_id="81234567"), LA).transaction_id == 81234567


@pytest.mark.parametrize("field", ["customer_id", "invoice_id"])
@pytest.mark.parametrize(
    "value",
    [
        "CUST\x00-1",  # PostgreSQL refuses NUL in text
        "\x00",
        "CUST-\ud83d",  # a lone surrogate: UTF-8 cannot encode it
        "ab\x07c",
        "4111111111111111",  # an id that is a card number is refused, not masked into another id
        "4111.1111.1111.1111",
        "C 4111 1111 1111 1111",
    ],
)
def test_poison_ids_are_refused(field: str, value: str) -> None:
    err = refused(record(**{field: value}), field)
    assert value not in str(err)


@pytest.mark.parametrize(
    "path",
    ["description", "billing_address__name", "customer_reference_id", "approval_code", "created__by"],
)
@pytest.mark.parametrize("value", ["a\x00b", "x\udc00y"])
def test_unstorable_text_is_refused(path: str, value: str) -> None:
    refused(record(**{path: value}), path.replace("__", "."))


def test_unstorable_transaction_type_is_refused() -> None:
    refused(record(transaction_type="SALE\ud800"), "transaction_type")


def test_a_card_number_in_free_text_is_masked_not_refused() -> None:
    tx = parse_transaction(record(description="card 4111.1111.1111.1111 thanks"), LA)
    assert tx.description == "card ************1111 thanks"


@pytest.mark.parametrize(
    "status_code",
    [
        "GB12345678901234567890",  # a 20-digit batch number: bigint out of range in reports
        f"GB{MAX_BATCH_NUMBER + 1}",
        "GB0",
        "GB²",
        "GB٥٧١",
        "Settled 12345678901234567890",
    ],
)
def test_poison_batch_numbers_are_refused(status_code: str) -> None:
    refused(record(status_code=status_code), "status_code")


@pytest.mark.parametrize(
    "masked",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111.1111.1111.1111",
        "4111/1111/1111/1111",
        "4111_1111_1111_1111",
        "4111\u00a01111\u00a01111\u00a01111",
        "41111111 11111111",
        "٤١١١١١١١١١١١١١١١",
        "4111111111111112",  # not Luhn-valid, still not masked
        "1111",
        "VISA",
        "411111******1111\x00",
        "411111**\ud800****1111",
        "4111111111111111 ****",  # a mask character somewhere does not excuse a PAN
    ],
)
def test_a_masked_number_that_is_not_masked_is_refused(masked: str) -> None:
    err = refused(record(credit_card__masked_number=masked), "credit_card.masked_number")
    assert masked not in str(err)


def test_masked_numbers_as_paytrace_writes_them_parse() -> None:
    for masked in ("************1111", "411111******1111", "xxxxxxxxxxxx5439", "***********0005"):
        assert parse_transaction(record(credit_card__masked_number=masked), LA).card_masked == masked


@pytest.mark.parametrize("number", [10**20, "12345678901234567890", "٥٧١", 0, "²"])
def test_poison_settlement_batch_numbers_are_refused(number: object) -> None:
    with pytest.raises(RecordParseError) as info:
        parse_batch({"number": number, "created": "4/10/2025 8:13:45 PM"}, LA)
    assert info.value.field == "number" and info.value.transaction_id == "batch <unknown>"


def test_counts_beyond_their_column_are_refused() -> None:
    with pytest.raises(RecordParseError) as info:
        parse_batch({"number": 571, "created": "4/10/2025 8:13:45 PM", "sales_count": 2**31}, LA)
    assert info.value.field == "sales_count" and info.value.transaction_id == "batch 571"
