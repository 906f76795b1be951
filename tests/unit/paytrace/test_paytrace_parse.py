"""The v1 export parser: the documented example record, every state, and every way a record is refused."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.parse import (
    parse_amount,
    parse_batch,
    parse_customer,
    parse_transaction,
    transaction_state,
)
from paytrace_sl.paytrace.records import Transaction, TransactionState

LA = ZoneInfo("America/Los_Angeles")

# Reference §3.1, as the real JSON PayTrace sends (the doc shows amount as a number, tax_amount a string).
DOC_EXAMPLE_JSON = """
{
  "success": true,
  "response_code": 1,
  "status_message": "Your request has been successfully completed.",
  "transactions": [
    {
      "transaction_id": 81234567,
      "credit_card": {"masked_number": "************1111", "expiration_month": 12, "expiration_year": 27},
      "transaction_type": "SALE",
      "description": "",
      "amount": 110,
      "invoice_id": "INV-1001",
      "shipping_address": {"name": "", "street_address": "", "street_address2": "",
                           "city": "", "county": "", "state": "", "zip": "99201", "country": "US"},
      "billing_address":  {"name": "Pat Example", "street_address": "100 Main St.", "street_address2": "",
                           "city": "Spokane", "state": "WA", "zip": "99201", "country": "US"},
      "receipt_emailed_to": "",
      "tax_amount": "8.10",
      "customer_reference_id": "PO-77",
      "approval_code": "TAS123",
      "approval_message": "EXACT MATCH - Approved and completed",
      "avs_response": "Full Exact Match",
      "csc_response": "Match",
      "status_code": "GB571",
      "status_message": "GB571",
      "created": {"through": "API", "at": "4/10/2025 4:06:30 PM", "by": "apiuser123",
                  "from_ip": "203.0.113.7"},
      "settled": "4/10/2025 8:13:45 PM",
      "customer_id": ""
    }
  ],
  "external_transaction_id": ""
}
"""


def doc_record() -> dict[str, Any]:
    return copy.deepcopy(json.loads(DOC_EXAMPLE_JSON)["transactions"][0])


def test_documented_example_record_parses_field_by_field() -> None:
    tx = parse_transaction(doc_record(), LA)
    assert tx.transaction_id == 81234567
    assert tx.transaction_type == "SALE"
    assert tx.status is TransactionState.SETTLED
    assert tx.batch_number == 571
    assert tx.amount == Decimal("110.00") and str(tx.amount) == "110.00"
    assert tx.tax_amount == Decimal("8.10")
    assert tx.created_at == dt.datetime(2025, 4, 10, 16, 6, 30, tzinfo=LA)
    assert tx.created_at.utcoffset() == dt.timedelta(hours=-7)  # PDT in April
    assert tx.settled_at == dt.datetime(2025, 4, 10, 20, 13, 45, tzinfo=LA)
    assert tx.customer_id == "" and tx.invoice_id == "INV-1001"
    assert tx.card_masked == "************1111"
    assert (tx.customer_reference_id, tx.approval_code) == ("PO-77", "TAS123")
    assert (tx.created_through, tx.created_by, tx.billing_name) == ("API", "apiuser123", "Pat Example")


def test_documented_example_round_trips_through_the_jsonl_form() -> None:
    tx = parse_transaction(doc_record(), LA)
    line = json.dumps(tx.to_json_dict())
    assert Transaction.from_json_dict(json.loads(line)) == tx


def test_decimal_parsed_json_gives_the_same_record() -> None:
    raw = json.loads(DOC_EXAMPLE_JSON, parse_float=Decimal)["transactions"][0]
    raw["amount"] = Decimal("110.10")
    assert parse_transaction(raw, LA).amount == Decimal("110.10")


@pytest.mark.parametrize("settled", ["", None, "   ", "MISSING"])
def test_unsettled_value_variants_mean_none(settled: str | None) -> None:
    raw = doc_record()
    raw["status_code"], raw["status_message"] = "Y", "Pending Settlement"
    if settled == "MISSING":
        del raw["settled"]
    else:
        raw["settled"] = settled
    tx = parse_transaction(raw, LA)
    assert tx.settled_at is None
    assert tx.status is TransactionState.PENDING and tx.batch_number is None


@pytest.mark.parametrize(
    ("code", "message", "state", "batch"),
    [
        ("GB571", "GB571", TransactionState.SETTLED, 571),
        ("gb12", "", TransactionState.SETTLED, 12),
        ("Settled", "Settled", TransactionState.SETTLED, None),
        ("Settled 880", "", TransactionState.SETTLED, 880),
        ("Y", "Pending Settlement", TransactionState.PENDING, None),
        ("N", "Authorization Only", TransactionState.AUTHORIZED, None),
        ("N", "Voided", TransactionState.VOIDED, None),
        ("N", "Transaction VOIDED by user", TransactionState.VOIDED, None),
        ("N", "Declined", TransactionState.DECLINED, None),
        ("N", "DECLINE - Do not honor", TransactionState.DECLINED, None),
    ],
)
def test_state_mapping(code: str, message: str, state: TransactionState, batch: int | None) -> None:
    assert transaction_state(code, message) == (state, batch)
    raw = doc_record()
    raw["status_code"], raw["status_message"] = code, message
    tx = parse_transaction(raw, LA)
    assert (tx.status, tx.batch_number) == (state, batch)


def test_declined_export_filter_and_response_102_win() -> None:
    raw = doc_record()
    raw["status_code"], raw["status_message"] = "N", "something odd"
    assert parse_transaction(raw, LA, export_filter="DECLINED").status is TransactionState.DECLINED
    raw["response_code"] = 102
    assert parse_transaction(raw, LA).status is TransactionState.DECLINED


@pytest.mark.parametrize(("code", "message"), [("N", "something odd"), ("Q", ""), ("", ""), ("GBX", "")])
def test_unknown_state_is_an_error_naming_the_field(code: str, message: str) -> None:
    raw = doc_record()
    raw["status_code"], raw["status_message"] = code, message
    with pytest.raises(RecordParseError) as info:
        parse_transaction(raw, LA)
    assert info.value.field == "status_code" and info.value.transaction_id == 81234567
    assert "81234567" in str(info.value) and "status_code" in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.pop("amount"), "amount"),
        (lambda r: r.update(amount="abc"), "amount"),
        (lambda r: r.update(amount=True), "amount"),
        (lambda r: r.update(amount="NaN"), "amount"),
        (lambda r: r.update(amount="Infinity"), "amount"),
        (lambda r: r.update(amount="1.005"), "amount"),
        (lambda r: r.update(amount=[1]), "amount"),
        (lambda r: r.update(tax_amount="x"), "tax_amount"),
        (lambda r: r.update(transaction_id="abc"), "transaction_id"),
        (lambda r: r.update(transaction_id=None), "transaction_id"),
        (lambda r: r.update(transaction_type=""), "transaction_type"),
        (lambda r: r["created"].update(at="2025-04-10T16:06:30"), "created.at"),
        (lambda r: r["created"].pop("at"), "created.at"),
        (lambda r: r.pop("created"), "created.at"),
        (lambda r: r.update(created="yesterday"), "created"),
        (lambda r: r.update(settled="4/31/2025 1:00:00 PM"), "settled"),
        (lambda r: r.update(settled=12345), "settled"),
        (lambda r: r.update(invoice_id={"a": 1}), "invoice_id"),
        (lambda r: r["credit_card"].update(masked_number=1234), "credit_card.masked_number"),
    ],
)
def test_bad_fields_raise_record_parse_error_naming_record_and_field(mutate: Any, field: str) -> None:
    raw = doc_record()
    mutate(raw)
    with pytest.raises(RecordParseError) as info:
        parse_transaction(raw, LA)
    assert info.value.field == field
    assert f"{field!r}" in str(info.value)


def test_full_pan_in_masked_number_is_refused_without_echoing_it() -> None:
    for pan in (
        "4111111111111111",
        "4012000098765439",
        "371449635392376",
        "4111 1111 1111 1111",
        "1234567890123",
    ):
        raw = doc_record()
        raw["credit_card"]["masked_number"] = pan
        with pytest.raises(RecordParseError) as info:
            parse_transaction(raw, LA)
        assert info.value.field == "credit_card.masked_number"
        assert pan not in str(info.value) and pan.replace(" ", "") not in str(info.value)
        assert pan not in repr(info.value.args)


def test_masked_numbers_with_bin_are_kept() -> None:
    raw = doc_record()
    raw["credit_card"]["masked_number"] = "411111******1111"
    assert parse_transaction(raw, LA).card_masked == "411111******1111"
    raw["credit_card"]["masked_number"] = "xxxxxxxxxxxx5439"
    assert parse_transaction(raw, LA).card_masked == "xxxxxxxxxxxx5439"
    raw.pop("credit_card")
    assert parse_transaction(raw, LA).card_masked == ""


def test_pan_in_free_text_is_masked_not_kept() -> None:
    raw = doc_record()
    raw["description"] = "card 4111111111111111 per phone"
    tx = parse_transaction(raw, LA)
    assert "4111111111111111" not in json.dumps(tx.to_json_dict())
    assert tx.description.endswith("1111 per phone")


def test_error_for_garbage_transaction_id_does_not_echo_it() -> None:
    raw = doc_record()
    raw["transaction_id"] = "4111111111111111"
    raw["amount"] = "bad"
    with pytest.raises(RecordParseError) as info:
        parse_transaction(raw, LA)
    assert "4111111111111111" not in str(info.value)


def test_non_object_record() -> None:
    with pytest.raises(RecordParseError) as info:
        parse_transaction(["x"], LA)
    assert info.value.field == "<record>"


def test_transaction_type_is_normalized_to_upper_case() -> None:
    raw = doc_record()
    raw["transaction_type"] = "Authorization"
    assert parse_transaction(raw, LA).transaction_type == "AUTHORIZATION"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (110, "110.00"),
        ("110", "110.00"),
        (110.1, "110.10"),
        ("8.10", "8.10"),
        (Decimal("0.29"), "0.29"),
        ("1234.50", "1234.50"),
        (-5, "-5.00"),
        ("-5.5", "-5.50"),
        (Decimal("1.500"), "1.50"),  # a JSON number (parse_float=Decimal): trailing zeros are no cents
        (1e3, "1000.00"),  # a JSON number 1e3 is a number
    ],
)
def test_amounts(value: Any, expected: str) -> None:
    assert str(parse_amount(value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        "12,50",  # a decimal comma: was read as 1250.00
        "1,00",  # was 100.00
        "1,234.50",  # grouping
        "1_000",  # Python's digit separator
        "\u0661\u0662.\u0665\u0660",  # Arabic-Indic digits
        "\uff11\uff12.\uff15\uff10",  # full-width digits
        "1e3",  # exponent in a string
        "1E3",
        " 12.50",  # spaces
        "12.50 ",
        "+12.50",
        "12.",
        ".50",
        "1.500",  # a string with three decimals
        "12.5.0",
        "NaN",
        "Infinity",
        "0x10",
        "\u00b2",  # superscript two: str.isdigit accepts it
        "12\u00a0500",
    ],
)
def test_amount_strings_outside_paytraces_form_are_refused(value: str) -> None:
    for field in ("amount", "tax_amount"):
        raw = doc_record()
        raw[field] = value
        with pytest.raises(RecordParseError) as info:
            parse_transaction(raw, LA)
        assert info.value.field == field and info.value.transaction_id == 81234567
        assert value not in str(info.value)


def test_optional_tax_amount_defaults_to_zero() -> None:
    raw = doc_record()
    raw.pop("tax_amount")
    assert parse_transaction(raw, LA).tax_amount == Decimal("0.00")


def test_batch_summary_and_export_one_with_brands() -> None:
    summary = {
        "number": 571,
        "created": "4/10/2025 8:13:45 PM",
        "transaction_count": 42,
        "net_amount": 1234.56,
        "sales_count": 40,
        "sales_amount": "1300.00",
        "refund_count": 2,
        "refund_amount": 65.44,
    }
    batch = parse_batch(summary, LA)
    assert (batch.number, batch.transaction_count, batch.net_amount) == (571, 42, Decimal("1234.56"))
    assert batch.sales_amount - batch.refund_amount == batch.net_amount
    assert batch.created_at == dt.datetime(2025, 4, 10, 20, 13, 45, tzinfo=LA)
    one = {
        "number": 571,
        "created": "4/10/2025 8:13:45 PM",
        "visa": {"sales_count": 30, "sales_amount": 900.00, "refund_count": 1, "refund_amount": 20.00},
        "mastercard": {"sales_count": 10, "sales_amount": 400.00, "refund_count": 1, "refund_amount": 45.44},
    }
    detailed = parse_batch(one, LA)
    assert [b.brand for b in detailed.brands] == ["visa", "mastercard"]
    assert detailed.sales_amount == Decimal("1300.00") and detailed.refund_amount == Decimal("65.44")
    assert detailed.net_amount == Decimal("1234.56") and detailed.transaction_count == 42
    with pytest.raises(RecordParseError) as info:
        parse_batch({**summary, "sales_amount": "x"}, LA)
    assert info.value.field == "sales_amount" and "batch 571" in str(info.value)


def test_vault_customer() -> None:
    raw: dict[str, Any] = {
        "customer_id": "cust-1",
        "email": "a@example.com",
        "billing_address": {"name": "Ann"},
        "credit_card": {"masked_number": "************1111"},
        "created": {"at": "1/2/2025 9:00:00 AM"},
    }
    customer = parse_customer(raw, LA)
    assert (customer.customer_id, customer.name, customer.email, customer.card_masked) == (
        "cust-1",
        "Ann",
        "a@example.com",
        "************1111",
    )
    assert customer.created_at == dt.datetime(2025, 1, 2, 9, 0, tzinfo=LA)
    raw["credit_card"]["masked_number"] = "4111111111111111"
    with pytest.raises(RecordParseError):
        parse_customer(raw, LA)
