"""Redaction: sensitive keys, text patterns, registered secrets, card numbers, and the logging filter."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paytrace_sl.logging_setup import configure_logging, install_redaction
from paytrace_sl.redaction import (
    MASK,
    RedactingFilter,
    find_pans,
    find_secrets,
    forget_secret,
    luhn_valid,
    mask_pans,
    redact,
    redact_text,
    register_secret,
)

TEST_PANS = [
    "4012000098765439",
    "5499740000000057",
    "6011000993026909",
    "371449635392376",
    "4111111111111111",
]


@pytest.mark.parametrize("pan", TEST_PANS)
def test_luhn_and_find_pans(pan: str) -> None:
    assert luhn_valid(pan)
    assert find_pans(f"x {pan} y") == [pan]
    assert find_pans(f"id={pan}&z") == [pan]
    masked = mask_pans(f"card {pan}.")
    assert pan not in masked and masked.endswith(pan[-4:] + ".")


def test_find_pans_ignores_non_cards() -> None:
    assert find_pans("4111111111111112") == []  # Luhn fails
    assert find_pans("************1111 411111******1111 81234567 2025-04-10 12:00") == []
    assert find_pans("41111111111111110") == []  # 17 digits, Luhn fails
    assert find_pans("4111 1111 1111 1111") == ["4111 1111 1111 1111"]
    assert find_pans("3714-496353-92376") == ["3714-496353-92376"]


def test_redact_masks_sensitive_keys_at_any_depth_and_keeps_username() -> None:
    payload = {
        "username": "apiuser",
        "password": "pw-secret",
        "integrator_id": "ABC123XYZ",
        "credit_card": {"number": "4111111111111111", "expiration_month": 12},
        "csc": "999",
        "Authorization": "Bearer abc:def:0123",
        "items": [{"access_token": "t0k3nvalue"}, {"X-Integrator-Id": "ZZZ"}],
        "amount": 10,
        "note": "call me re 4012000098765439",
    }
    out = redact(payload)
    text = json.dumps(out)
    for secret in (
        "pw-secret",
        "ABC123XYZ",
        "4111111111111111",
        "abc:def:0123",
        "t0k3nvalue",
        "ZZZ",
        "4012000098765439",
    ):
        assert secret not in text
    assert out["username"] == "apiuser" and out["amount"] == 10
    assert out["credit_card"]["expiration_month"] == 12 and out["csc"] == MASK
    assert payload["password"] == "pw-secret"  # the input is not modified


def test_redact_text_patterns() -> None:
    form = "grant_type=password&username=u&password=p%40ss%21"
    assert redact_text(form) == f"grant_type=password&username=u&password={MASK}"
    js = '{"access_token": "a1:b2:c3", "token_type": "bearer", "integrator_id":"Q9"}'
    assert "a1:b2:c3" not in redact_text(js) and '"token_type": "bearer"' in redact_text(js)
    assert "Q9" not in redact_text(js)
    assert redact_text("Authorization: Bearer aa:bb:cc") == f"Authorization: Bearer {MASK}"
    assert redact_text("{'password': 'x y z'}") == f"{{'password': '{MASK}'}}"


def test_registered_secrets_are_scrubbed_in_any_context() -> None:
    secret = "Zq!93 weird/secret"
    register_secret(secret)
    try:
        for text in (f"oops {secret} here", "enc=Zq%2193+weird%2Fsecret", "Zq%2193%20weird%2Fsecret"):
            assert find_secrets(text, [secret]) == [secret]
            assert find_secrets(redact_text(text), [secret]) == []
    finally:
        forget_secret(secret)
    assert redact_text(f"oops {secret}") == f"oops {secret}"


def test_find_secrets_skips_empty_and_tiny() -> None:
    assert find_secrets("anything", ["", "an"]) == []
    assert find_secrets("has sandbox-password in it", ["sandbox-password", "nope1"]) == ["sandbox-password"]


def test_filter_scrubs_message_args_and_exception() -> None:
    logger = logging.getLogger("test.redaction.filter")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("body %s", {"password": "hunter22", "card": "4111111111111111"})
        try:
            raise ValueError("card 4012000098765439 token=abcdef")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    formatter = logging.Formatter()
    rendered = "\n".join(formatter.format(r) for r in records)
    assert "hunter22" not in rendered and "4111111111111111" not in rendered
    assert "4012000098765439" not in rendered and "abcdef" not in rendered
    assert "ValueError" in rendered  # the exception is still reported, just scrubbed


def test_configure_logging_installs_filter_on_root_handlers(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    old_level = root.level
    try:
        configure_logging("INFO")
        install_redaction()
        logging.getLogger("paytrace_sl.test").info("pw %s", "password=letmein1")
        err = capsys.readouterr().err
        assert "letmein1" not in err and f"password={MASK}" in err
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
        root.setLevel(old_level)


NON_DIGITS = st.characters(exclude_categories=["Nd"])


def _luhn_complete(body: str) -> str:
    """Append the check digit that makes ``body`` Luhn-valid."""
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=12, max_value=18).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
    st.text(alphabet=NON_DIGITS, max_size=20),
    st.text(alphabet=NON_DIGITS, max_size=20),
)
def test_any_card_number_in_any_text_is_found_and_masked(body: str, before: str, after: str) -> None:
    pan = _luhn_complete(body)
    text = f"{before}{pan}{after}"
    assert find_pans(text) == [pan]
    masked = mask_pans(text)
    assert masked == f"{before}{'*' * (len(pan) - 4)}{pan[-4:]}{after}"
    scrubbed = redact_text(text)
    assert pan not in scrubbed and find_pans(scrubbed) == []
