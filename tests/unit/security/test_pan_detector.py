"""The one PAN detector (``paytrace_sl.pan_detector``): every separator style, Luhn negatives, JSON
escapes, our own digests, and the users that share it (redaction, landing guard, GX scrubber, pci-scan)."""

from __future__ import annotations

import hashlib
import json
import random
import time

import pytest

from paytrace_sl.pan_detector import (
    PAN_RUN,
    contains_pan,
    find_pans,
    is_masked_card,
    luhn_valid,
    mask_pans,
    pan_spans,
)
from paytrace_sl.pci_scan import scan_text
from paytrace_sl.pipeline.checks import PAN_MARK, _scrub_pan
from paytrace_sl.pipeline.dead_letters import record_digest
from paytrace_sl.pipeline.landing import Landing, LandingError
from paytrace_sl.pipeline.posted_copies import customer_digest
from paytrace_sl.redaction import redact, redact_text

VISA = "4111111111111111"
AMEX = "378282246310005"

# (style, the PAN written that way): every one of these must be found, masked and scrubbed
STYLES: list[tuple[str, str]] = [
    ("contiguous", VISA),
    ("spaces", "4111 1111 1111 1111"),
    ("dashes", "4111-1111-1111-1111"),
    ("dots", "4111.1111.1111.1111"),
    ("slashes", "4111/1111/1111/1111"),
    ("backslashes", "4111\\1111\\1111\\1111"),
    ("underscores", "4111_1111_1111_1111"),
    ("double spaces", "4111  1111  1111  1111"),
    ("space dash space", "4111 - 1111 - 1111 - 1111"),
    ("tabs", "4111\t1111\t1111\t1111"),
    ("no-break spaces", "4111\u00a01111\u00a01111\u00a01111"),
    ("narrow no-break, thin, ideographic", "4111\u202f1111\u20091111\u30001111"),
    ("zero-width space", "4111\u200b1111\u200b1111\u200b1111"),
    ("soft hyphen", "4111\u00ad1111\u00ad1111\u00ad1111"),
    ("en dash and minus sign", "4111\u20131111\u22121111\u20131111"),
    ("middle dots", "4111\u00b71111\u00b71111\u00b71111"),
    ("full-width dashes", "4111\uff0d1111\uff0d1111\uff0d1111"),
    ("8+8", "41111111 11111111"),
    ("one digit each", " ".join(VISA)),
    ("mixed", "41.11-11_11/1111 1111"),
    ("amex 4-6-5", "3782 822463 10005"),
    ("amex dots", "3782.822463.10005"),
    ("full-width digits", "４１１１１１１１１１１１１１１１"),
    ("arabic-indic digits", "٤١١١١١١١١١١١١١١١"),
]


@pytest.mark.parametrize(("style", "written"), STYLES, ids=[s for s, _ in STYLES])
def test_every_separator_style_is_found_masked_and_scrubbed(style: str, written: str) -> None:
    text = f"note: card {written} thanks"
    assert contains_pan(text), style
    assert find_pans(text) == [written]
    masked = mask_pans(text)
    last4 = "0005" if written.startswith("378") else "1111"
    assert masked.startswith("note: card *") and masked.endswith(f"{last4} thanks")
    assert not contains_pan(masked) and not contains_pan(redact_text(text))
    assert _scrub_pan(text) == f"note: card {PAN_MARK} thanks"  # the GX scrubber
    assert [f.kind for f in scan_text(text)] == ["pan"]  # pci-scan
    scanned = scan_text(text)[0]
    assert written not in str(scanned) and scanned.excerpt.count(last4) == 1


@pytest.mark.parametrize(("style", "written"), STYLES, ids=[s for s, _ in STYLES])
def test_json_escaped_forms_are_found_too(style: str, written: str) -> None:
    """Landing files and dead-letter payloads are ASCII JSON: ``\\u00a0``, ``\\t``, ``\\uff14``."""
    line = json.dumps({"description": f"card {written}"})
    assert contains_pan(line), (style, line)
    assert not contains_pan(mask_pans(line))
    assert [f.kind for f in scan_text(line)] == ["pan"]


def test_digits_of_other_json_escapes_are_not_card_digits() -> None:
    """``\u2192`` (an arrow in an ASCII-escaped window label) holds the digits 2192: not a card's."""
    label = json.dumps({"window": "2025-04-02 12:00-0700 \u2192 2025-04-03 12:00-0700"}, indent=1)
    assert "\\u2192 2025-04-03 12" in label and not contains_pan(label, json=True)
    for n in range(200):  # JSON text reads as the text it encodes, whatever digits follow an escape
        text = f"\u2192 {n:03d}5-04-03 12 {n:04d}\u00e9{n}"
        assert contains_pan(json.dumps(text), json=True) is contains_pan(text, json=False), text
    assert find_pans(json.dumps("\u2192 4111 1111 1111 1111"), json=True) == ["4111 1111 1111 1111"]


def test_a_literal_backslash_u_does_not_hide_a_card() -> None:
    r"""``\\u4111111111111111`` typed into a description: literally a card after ``\u``; as JSON an
    escape of U+4111 and 12 digits. A decoded value is read both ways (the parser masks it), and its
    JSON encoding (escaped backslash) is read by the landing guard as the literal text it is."""
    for value in ("\\u4111111111111111", "\\\\u4111111111111111", "x\\u41114111111111111111"):
        assert contains_pan(value) and not contains_pan(mask_pans(value)), value
    for value in ("\\u4111111111111111", "\\\\u4111111111111111"):
        assert contains_pan(json.dumps(value), json=True), value
    # a card that only the JSON reading shows (escapes typed literally) is masked by the parser too
    literal = "4111\\u00a01111\\u00a01111\\u00a01111"
    assert contains_pan(literal) and not contains_pan(literal, json=False)
    assert not contains_pan(mask_pans(literal))


def test_a_card_number_next_to_other_numbers_is_still_found() -> None:
    assert find_pans("ref 12 4111 1111 1111 1111") == ["4111 1111 1111 1111"]
    assert find_pans(f"order 2025.04 {VISA} 7") == [VISA]
    # two cards in one run of groups are both masked, nothing in between left readable
    text = "4111 1111 1111 1111 5555 5555 5555 4444"
    assert mask_pans(text).count("*") >= 24 and not contains_pan(mask_pans(text))


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "4111 1111 1111 1112",
        "4111.1111.1111.1112",
        "41111111111111110",  # one 17-digit number, not Luhn-valid
        "94111111111111111",  # a card glued to another digit is one other number
        "12345678901234567890123",  # too long for a card
        "4111    1111 1111 1111",  # 4 separators: no longer one number
        "4111,1111,1111,1111",  # commas separate list items, not card digit groups
        "4111;1111;1111;1111",
        "4111:1111:1111:1111",  # colons: clock times
        "4111\n1111\n1111\n1111",  # line breaks: never inside one number
        "4111\u20281111\u20281111\u20281111",
        "411111******1111",
        "************1111",
        "xxxxxxxxxxxx5439",
        "4111 11** **** 1111",
        "2025-04-10T16:06:30-07:00",
        "81234567",
        "",
    ],
)
def test_not_card_numbers(text: str) -> None:
    assert not contains_pan(text) and find_pans(text) == [] and mask_pans(text) == text


def test_luhn() -> None:
    assert luhn_valid(VISA) and luhn_valid(AMEX) and luhn_valid("٤١١١١١١١١١١١١١١١")
    assert not luhn_valid("4111111111111112") and not luhn_valid("") and not luhn_valid("41a1")
    assert not luhn_valid("²")


def test_our_record_digests_are_never_card_numbers() -> None:
    """A hex digest held a Luhn-valid 13+ digit run about once in 550 records, and the landing guard
    then refused every later run: our digests are letters only."""
    hex_hits = 0
    for i in range(5000):
        text = json.dumps({"transaction_id": None, "n": i})
        hex_hits += contains_pan(hashlib.sha256(text.encode()).hexdigest()[:30])
        digest = record_digest(text)
        assert len(digest) == 32 and digest.isalpha() and digest.islower()
    assert hex_hits > 0  # a bare hex stretch (not a whole digest) would have been refused: the old bug
    assert record_digest("a") == record_digest("a") != record_digest("b")


def test_the_landing_guard_refuses_every_style_and_lands_our_digests(tmp_path: object) -> None:
    from pathlib import Path

    landing = Landing(Path(str(tmp_path)), "run-1")
    for style, written in STYLES:
        with pytest.raises(LandingError) as info:
            landing.write_jsonl("x.jsonl", [{"description": f"card {written}"}])
        assert written not in str(info.value), style
    rows = [{"record_digest": record_digest(str(i)), "reason": "could not parse"} for i in range(2000)]
    assert landing.write_jsonl("rejects.jsonl", rows) == 2000


def test_masked_card_shape() -> None:
    for good in ("************1111", "411111******1111", "xxxxxxxxxxxx5439", "***********0005"):
        assert is_masked_card(good)
    for bad in (VISA, "4111 1111 1111 1111", "4111.1111.1111.1111", "", "1111", "**** **** 1111", "４***1"):
        assert not is_masked_card(bad)


def test_redact_hides_a_masked_number_field_without_mask_characters() -> None:
    raw = {
        "transaction_id": 5,
        "credit_card": {"masked_number": "4111 11 11 1111 11 11"},  # not Luhn-split, no mask: hidden
        "description": "card 4111.1111.1111.1111",
        "amount": 4111111111111111.0,
    }
    safe = redact(raw)
    assert safe["credit_card"]["masked_number"] == "***"
    assert not contains_pan(json.dumps(safe)) and "4111.1111" not in json.dumps(safe)
    assert redact({"credit_card": {"masked_number": "411111******1111"}}) == {
        "credit_card": {"masked_number": "411111******1111"}
    }


def test_pre_filter_is_cheap_on_a_landing_sized_text() -> None:
    """Performance sanity without timing asserts: the pre-filter leaves nothing for Python to look at in
    ordinary landing lines (timestamps, amounts, ids), and one pass over a few MB completes."""
    rng = random.Random(3)
    line = json.dumps(
        {
            "amount": "110.00",
            "created_at": "2025-04-10T16:06:30-07:00",
            "transaction_id": 81234567,
            "description": "Order 12 of 2025-04-10 ref 1234567",
            "card_masked": "411111******1111",
        }
    )
    text = "\n".join(line.replace("81234567", str(rng.randint(10**7, 10**9))) for _ in range(20000))
    started = time.perf_counter()
    assert not contains_pan(text)
    elapsed = time.perf_counter() - started
    assert PAN_RUN.search(text) is None  # nothing reached the Python part
    print(f"contains_pan over {len(text) / 1e6:.1f} MB: {elapsed:.3f} s")


def test_binary_files_count_only_printed_card_layouts() -> None:
    """A SQLite file read byte for byte packs timestamps together (``00.000000`` + ``1900-01-01``):
    18 digits with separators, a Luhn hit one time in ten. There only a card's layout counts."""
    texts = [
        f"\x00\x01USDM 1900-01-01 00:00:00.000000{2000 + n}-12-{day:02d} 17:35:17.863484\x02"
        for n in range(30)
        for day in (1, 2, 17)
    ]
    assert any(contains_pan(t) for t in texts)  # as text: some of these are Luhn-valid runs
    assert not any(scan_text(t, binary=True) for t in texts)
    for card in (
        "4111 1111 1111 1111",
        "4111.1111.1111.1111",
        VISA,
        "3782 822463 10005",
        "41111111 11111111",
    ):
        assert [f.kind for f in scan_text(f"\x00\x01 {card} \x02", binary=True)] == ["pan"], card


def _luhn_complete(prefix: str) -> str:
    from paytrace_sl.pan_detector import luhn_valid

    return next(prefix + d for d in "0123456789" if luhn_valid(prefix + d))


def test_whole_hex_digests_are_never_card_numbers() -> None:
    """The ledger's ``customer_digest`` is a SHA-256 hex digest: ~1 % of them hold 13+ decimals in a row
    that pass Luhn, and the landing guard refused every plan of such a customer. A whole MD5/SHA token
    is an id; the same digits elsewhere, or glued into a token of another length, are still found."""
    hits = {"bare": 0, "digest": 0, "json": 0}
    for i in range(5000):
        digest = customer_digest(f"CUST{i}")
        assert len(digest) == 64
        hits["digest"] += contains_pan(digest)
        hits["json"] += contains_pan(json.dumps({"customer_digest": digest, "amount": "1.00"}), json=True)
        hits["bare"] += contains_pan(digest[:60])
    assert hits["digest"] == hits["json"] == 0
    assert hits["bare"] > 0  # the same text cut to another length is no digest: still refused
    pan = _luhn_complete("411111111111111")
    for length in (32, 40, 64, 128):
        token = ("ab" * 64)[: length - len(pan)] + pan
        assert list(pan_spans(token)) == []
        assert [s[2] for s in pan_spans(f"{token}c")] == [pan]  # 1 more: no digest length
        assert [s[2] for s in pan_spans(f"{token} {pan}")] == [pan]  # beside a digest: found
        assert [s[2] for s in pan_spans(f"x{token}")] == [pan]  # glued to a letter: no whole token


def test_uuids_are_never_card_numbers() -> None:
    """GX writes UUIDs into every suite and result: their digit groups joined by dashes can pass Luhn
    (seen in CI: ``6e…4483-87cc-…``), but a UUID is 32 hex digits, never a card."""
    digits = _luhn_complete("1234567890448")  # 14 digits, Luhn-valid
    uuid_text = f'"id": "6e{digits[:6]}-{digits[6:10]}-{digits[10:]}-87cc-5bd8ba8135fe"'
    assert list(pan_spans(uuid_text)) == []
    assert list(pan_spans(uuid_text, json=True)) == []
    # the same digits outside a UUID's shape are a card number
    loose = f"ref {digits[:6]}-{digits[6:10]}-{digits[10:]} end"
    assert [s[2] for s in pan_spans(loose)] == [digits]


def test_an_invalid_json_escape_is_a_literal_backslash() -> None:
    """``\\0`` is no JSON escape: the backslash stays a separator, not the digit 0 (found by hypothesis)."""
    text = "\\" + "0" * 13
    assert [(text[s:e], d) for s, e, d in pan_spans(text)] == [("0" * 13, "0" * 13)]
