"""The streamed parse of one PayTrace answer gives exactly what ``json.loads(body, parse_float=Decimal)``
gives, whatever the chunking, and refuses what ``json.loads`` refuses, naming no body text."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paytrace_sl.paytrace.stream import EnvelopeStream, StreamFormatError

KEY = "transactions"
SECRET = "SECRET-BODY-TEXT"


def _chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)] or [b""]


def _stream(body: bytes, size: int) -> tuple[list[Any], dict[str, Any]]:
    stream = EnvelopeStream(_chunks(body, size), KEY)
    records = list(stream.records())
    return records, stream.envelope


def _whole(body: bytes) -> tuple[list[Any], dict[str, Any]]:
    parsed = json.loads(body, parse_float=Decimal)
    records = parsed.pop(KEY, None)
    return (records if isinstance(records, list) else []), parsed


RECORDS = [
    {
        "transaction_id": 1000 + i,
        "amount": 12.34 + i,  # Decimal after the parse: exact, never a binary float
        "tax": 0.1,
        "created": {"at": "4/1/2025 9:15:02 AM", "by": "API"},
        "billing_address": {"name": 'Zoë Ångström 日本 \\" ,]}'},
        "big": 123456789012345678901234567890,
        "list": [1, [2, {"x": None}], True, False],
    }
    for i in range(40)
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000, 1 << 20])
@pytest.mark.parametrize(
    "layout",
    ["before", "after", "split", "pretty", "empty", "absent", "null", "bom"],
)
def test_records_and_envelope_equal_the_whole_parse_at_every_chunking(layout: str, size: int) -> None:
    records: list[Any] = [] if layout == "empty" else RECORDS
    head = {"success": True, "response_code": 1, "status_message": "Ok 1.5"}
    if layout == "before":
        doc: dict[str, Any] = {**head, KEY: records}
    elif layout in ("after", "empty"):
        doc = {KEY: records, **head}
    elif layout == "split":
        doc = {"success": True, KEY: records, "response_code": 1, "external_transaction_id": ""}
    elif layout == "pretty":
        doc = {**head, KEY: records}
    elif layout == "absent":
        doc = dict(head)
    elif layout == "null":
        doc = {**head, KEY: None}
    else:
        doc = {KEY: records, **head}
    text = json.dumps(doc, indent=2 if layout == "pretty" else None, ensure_ascii=layout != "split")
    body = (b"\xef\xbb\xbf" if layout == "bom" else b"") + text.encode()
    got_records, got_envelope = _stream(body, size)
    want_records, want_envelope = _whole(body)
    assert got_records == want_records
    if layout == "null":
        want_envelope[KEY] = None  # a non-array member stays in the envelope for the caller to judge
    assert got_envelope == want_envelope
    for record in got_records:
        assert isinstance(record["amount"], Decimal) and isinstance(record["big"], int)


@given(
    st.lists(
        st.dictionaries(
            st.text(max_size=5),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.decimals(allow_nan=False, allow_infinity=False, places=4),
                st.text(max_size=8),
            ),
            max_size=4,
        ),
        max_size=6,
    ),
    st.integers(min_value=1, max_value=40),
    st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_any_document_streams_like_the_whole_parse(records: list[Any], size: int, after: bool) -> None:
    rows = [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in records]
    doc = {KEY: rows, "success": True} if after else {"success": True, KEY: rows}
    body = json.dumps(doc).encode()
    assert _stream(body, size) == _whole(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[1, 2]",
        b'{"success": true, "transactions": [{"a": 1}',  # truncated inside the array
        b'{"success": true, "transactions": [{"a": 1}]',  # truncated before the closing brace
        b'{"success": true, "transactions": [{"a": 1},]}',  # trailing comma
        b'{"success": true, "transactions": [{"a": 1}]} {"more": 1}',  # extra data
        b'{"success": true, "transactions": [{"a": 1}], "transactions": []}',  # the array twice
        b'{"success": true, "transactions": [{"a": "' + SECRET.encode() + b"}]}",  # unterminated
        b'{"success": true, "transactions": [{"a": 1} {"b": 2}]}',  # missing comma
        b'{"success": true "transactions": []}',
        b'{"success": true, "transactions": [1e]}',
        b'{"success": tru}',
        b'{"success": true, "transactions": [{"a": "\xff\xfe"}]}',  # not UTF-8
    ],
)
@pytest.mark.parametrize("size", [1, 5, 4096])
def test_invalid_or_truncated_bodies_are_refused_without_their_text(body: bytes, size: int) -> None:
    with pytest.raises(StreamFormatError) as caught:
        _stream(body, size)
    assert SECRET not in str(caught.value)


def test_a_number_cut_by_a_chunk_boundary_is_read_whole() -> None:
    body = b'{"transactions": [], "response_code": 123456, "success": true}'
    cut = body.index(b"123") + 2  # the chunk ends after "12"
    stream = EnvelopeStream([body[:cut], body[cut:]], KEY)
    assert list(stream.records()) == [] and stream.envelope["response_code"] == 123456


def test_records_are_handed_out_before_the_rest_of_the_body_is_read() -> None:
    """The parse pulls chunks only as far as the record it hands out: the day is never read whole."""
    pulled: list[int] = []
    record = json.dumps({"transaction_id": 1, "pad": "x" * 500})
    body = ('{"success": true, "transactions": [' + ",".join([record] * 2000) + "]}").encode()

    def source() -> Any:
        for i, chunk in enumerate(_chunks(body, 4096)):
            pulled.append(i)
            yield chunk

    stream = EnvelopeStream(source(), KEY)
    records = stream.records()
    next(records)
    assert len(pulled) <= 3, "the first record needed the whole body"
    for _ in range(999):
        next(records)
    half = len(pulled)
    assert half < len(_chunks(body, 4096)) * 0.6
    assert sum(1 for _ in records) == 1000
