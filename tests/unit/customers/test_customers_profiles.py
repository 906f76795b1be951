"""Vault profile parsing: both answer shapes, last four digits only, bad fields named."""

from __future__ import annotations

from typing import Any

import pytest

from paytrace_sl.customers.profiles import ProfileError, parse_profile
from paytrace_sl.customers.sync import parse_all
from paytrace_sl.redaction import contains_pan


def export_row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": "PT123456",
        "credit_card": {"masked_number": "411111xxxxxx1111", "expiration_month": 4, "expiration_year": 2027},
        "billing_address": {
            "name": "Garcia  Builders, LLC",
            "street_address": "12 Main St",
            "street_address2": "",
            "city": "Spokane",
            "state": "WA",
            "zip": "99201",
            "country": "US",
        },
        "email": "billing@garcia.example.com",
        "phone": "(509) 555-0101",
    }
    row.update(over)
    return row


def test_export_shape_keeps_last_four_only() -> None:
    p = parse_profile(export_row())
    assert p.masked_card == "xxxxxxxxxxxx1111"  # the BIN is dropped
    assert (p.exp_month, p.exp_year) == (4, 2027)
    assert p.name == "Garcia Builders, LLC" and p.postal_code == "99201" and p.address == "12 Main St"


def test_create_customer_answer_shape_with_top_level_card() -> None:
    row = export_row(masked_card_number="xxxxxxxxxxxx4242", expiration_month="12", expiration_year="27")
    del row["credit_card"]
    p = parse_profile(row)
    assert p.masked_card == "xxxxxxxxxxxx4242" and (p.exp_month, p.exp_year) == (12, 2027)


def test_profile_without_card_is_kept() -> None:
    row = export_row()
    del row["credit_card"]
    p = parse_profile(row)
    assert p.masked_card == "" and p.exp_month is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"credit_card": {"masked_number": "4111111111111111"}}, "credit_card.masked_number"),
        (
            {"credit_card": {"masked_number": "xxxx1111", "expiration_month": 13}},
            "credit_card.expiration_month",
        ),
        ({"email": "card 4111 1111 1111 1111"}, "email"),
        ({"billing_address": "12 Main St"}, "billing_address"),
        ({"customer_id": ""}, "customer_id"),
    ],
)
def test_bad_field_is_named_never_shown(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(export_row(**change))
    assert caught.value.field == field
    assert not contains_pan(str(caught.value))
    profiles, result = parse_all([export_row(**change), export_row(customer_id="OK1")])
    assert [p.customer_id for p in profiles] == ["OK1"]
    (letter,) = result.dead_letters
    assert letter.payload["field"] == field and letter.source == "paytrace-customer"
    assert not contains_pan(str(letter.payload)) and not contains_pan(letter.reason)


def test_content_hash_changes_with_content_and_has_no_digits() -> None:
    a, b = parse_profile(export_row()), parse_profile(export_row(email="new@example.com"))
    assert a.content_hash() != b.content_hash()
    assert not any(ch.isdigit() for ch in a.content_hash())
