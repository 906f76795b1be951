"""Streamed exports (``stream_exports=True``, what the extract steps use) over real HTTP.

The streamed path hands out the same records as the whole-document path, on the sandbox's answers and
on hostile ones (repeats, differing copies, broken records, envelope after the array); the size cap,
the decompression check and the total deadline still stop an answer part-way; transient faults part-way
are retried without handing a record on twice; and the client never holds the day (memory probe).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import tracemalloc
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from drip_server import DripServer
from hostile_paytrace import HostilePayTrace
from paytrace_settings import fast_settings

from paytrace_sl.paytrace.client import (
    EXPORT_BY_DATE,
    PayTraceAnswerChangedError,
    PayTraceClient,
)
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.errors import (
    PayTraceMalformedResponseError,
    PayTraceResponseTooLargeError,
    PayTraceTimeoutError,
    PayTraceValidationError,
)
from paytrace_sl.paytrace.extract import extract_window, rejects_path_for
from paytrace_sl.paytrace.parse import DECLINED_FILTER
from paytrace_sl_sandbox.faults import FaultConfig
from paytrace_sl_sandbox.server import SandboxServer

pytestmark = pytest.mark.integration

MakeClient = Callable[..., PayTraceClient]
LA = "America/Los_Angeles"
DAY = dt.date(2025, 4, 1)
SECRET_BODY = "SECRET-BODY-TEXT"


def _settings(url: str, **overrides: Any) -> PayTraceSettings:
    return fast_settings(url, **{"timezone": LA, "max_attempts": 3, **overrides})


def _both(make_client: MakeClient, **overrides: Any) -> tuple[PayTraceClient, PayTraceClient]:
    whole, streamed = make_client(**overrides), make_client(**overrides)
    streamed.stream_exports = True
    return whole, streamed


def _export(client: PayTraceClient, start: dt.date, days: int, export_filter: str | None = None) -> list[Any]:
    end = start + dt.timedelta(days=days)
    return list(client.export_transactions_raw(start, end, transaction_type=export_filter, include_bin=True))


# ------------------------------------------------------------------------------ same records, same order


@pytest.mark.parametrize("export_filter", [None, DECLINED_FILTER])
def test_streamed_export_equals_the_whole_parse_on_the_sandbox(
    make_client: MakeClient, paytrace_sandbox: SandboxServer, export_filter: str | None
) -> None:
    whole, streamed = _both(make_client, max_span_days=2)  # several requests, overlapping none
    start = paytrace_sandbox.sim.config.start
    want = _export(whole, start, 5, export_filter)
    got = _export(streamed, start, 5, export_filter)
    assert got == want and len(got) >= 10


def _plain(value: Any) -> Any:
    """The parsed records back as JSON numbers (the whole parse gave Decimal; 2-place amounts round-trip)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _hostile_records(base: list[dict[str, Any]]) -> list[Any]:
    """The sandbox's records with what PayTrace must not send but might: repeats, a differing copy of an
    id, records that do not parse, one without an id, ids out of order."""
    records = copy.deepcopy(base[:60])
    records.append(copy.deepcopy(records[3]))  # exact repeat
    changed = copy.deepcopy(records[5])
    changed["amount"] = 9999.99
    records.append(changed)  # same id, different content
    broken = copy.deepcopy(records[7])
    broken["amount"] = "not a number"
    records.append(broken)  # a copy of a good id that does not parse
    records.append({"transaction_id": 1, "amount": "x"})  # does not parse, own id
    records.append({"no_id": True, "description": SECRET_BODY})  # no id at all
    records.append("not even an object")
    records.reverse()  # out of id order: the landing file must still come out in id order
    return records


def test_streamed_extract_lands_what_the_whole_parse_lands(
    make_client: MakeClient, paytrace_sandbox: SandboxServer, tmp_path: Path
) -> None:
    """extract_window streamed against the old way — whole parse, then Copies/resolve_copies — on the same
    hostile answer: the same landing file byte for byte, the same rejects, the same counts."""
    start = paytrace_sandbox.sim.config.start
    base = _export(make_client(), start, 1)
    hostile = _plain(_hostile_records(base))
    body = json.dumps({"transactions": hostile, "success": True, "response_code": 1}).encode()
    with HostilePayTrace() as server:
        server.responder = lambda path, b: (
            (200, {}, body) if path == EXPORT_BY_DATE and not b.get("transaction_type") else None
        )
        with PayTraceClient(_settings(server.url), stream_exports=True) as client:
            streamed = extract_window(client, start, start + dt.timedelta(days=1), tmp_path / "s.jsonl")
        with PayTraceClient(_settings(server.url)) as client:
            raw = list(client.export_transactions_raw(start, start + dt.timedelta(days=1)))
    assert len(raw) == len(hostile) - 1  # the exact repeat dropped by the client, on both paths
    # the old write_transactions, verbatim in effect: every record parsed and held, then resolved
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import parse_transaction
    from paytrace_sl.pipeline.copies import Copies, resolve_copies
    from paytrace_sl.pipeline.dead_letters import parse_failure_letter

    tz = PayTraceSettings(timezone=LA).tz
    copies = Copies()
    for record in raw:
        try:
            copies.add(parse_transaction(record, tz))
        except RecordParseError as exc:
            copies.add_failure(parse_failure_letter(record, exc, "paytrace-transaction"))
    resolved = resolve_copies(copies)
    want = "".join(json.dumps(t.to_json_dict(), separators=(",", ":")) + "\n" for t in resolved.records)
    assert (tmp_path / "s.jsonl").read_text() == want
    assert streamed.count == len(resolved.records)
    assert streamed.duplicates == resolved.repeats and streamed.conflicts == len(resolved.conflicts) == 2
    assert len(streamed.failures) == len(resolved.parse_failures) + len(resolved.conflicts)
    rejects = [json.loads(line) for line in rejects_path_for(tmp_path / "s.jsonl").read_text().splitlines()]
    want_rejected = [
        *(letter.transaction_id for letter in resolved.parse_failures),
        *(letter.transaction_id for letter in resolved.conflicts),
    ]
    assert [
        r["transaction_id"] if r["transaction_id"] != "<unknown>" else None for r in rejects
    ] == want_rejected
    assert SECRET_BODY not in json.dumps(rejects)
    # the summary's totals count exactly the landed lines (first copies of conflicting ids taken out)
    assert streamed.count_by_type == dict(Counter(t.transaction_type for t in resolved.records))
    assert sum(streamed.amount_by_type.values()) == sum(t.amount for t in resolved.records)
    assert streamed.records_read == len(raw)


# ------------------------------------------------------------------------------ the envelope, either side


def _answer(records: list[Any], envelope: dict[str, Any], after: bool) -> bytes:
    doc = {"transactions": records, **envelope} if after else {**envelope, "transactions": records}
    return json.dumps(doc).encode()


RECORDS = [{"transaction_id": 70_000_000 + i, "description": SECRET_BODY} for i in range(50)]


@pytest.mark.parametrize("after", [False, True])
def test_envelope_after_the_array_is_judged_like_before(after: bool) -> None:
    ok = _answer(RECORDS, {"success": True, "response_code": 1}, after)
    failed = _answer(RECORDS, {"success": False, "response_code": 1, "errors": {"35": ["bad day"]}}, after)
    no_code = _answer(RECORDS, {"success": True}, after)
    with HostilePayTrace() as server:
        body = ok
        server.responder = lambda path, _b: (200, {}, body) if path == EXPORT_BY_DATE else None
        with PayTraceClient(_settings(server.url), stream_exports=True) as client:
            got = list(client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)))
            assert [r["transaction_id"] for r in got] == [r["transaction_id"] for r in RECORDS]

            body = failed
            with pytest.raises(PayTraceValidationError) as caught:
                list(client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)))
            assert list(caught.value.errors) == ["35"] and SECRET_BODY not in str(caught.value)

            body = no_code
            with pytest.raises(PayTraceMalformedResponseError, match="response_code"):
                list(client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)))


def test_a_failed_answer_hands_on_nothing_when_success_comes_first() -> None:
    failed = _answer(RECORDS, {"success": False, "errors": {"35": ["bad day"]}}, after=False)
    late = _answer(RECORDS, {"success": False, "errors": {"35": ["bad day"]}}, after=True)
    seen: dict[bool, int] = {}
    with HostilePayTrace() as server:
        for after, body in ((False, failed), (True, late)):
            server.responder = lambda path, _b, body=body: (200, {}, body) if path == EXPORT_BY_DATE else None
            with PayTraceClient(_settings(server.url), stream_exports=True) as client:
                records = client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1))
                count = 0
                with pytest.raises(PayTraceValidationError):
                    for _ in records:
                        count += 1
                seen[after] = count
    assert seen == {False: 0, True: len(RECORDS)}  # after the array: provisional, then the error


def test_failed_answer_after_the_array_leaves_no_landing_file(tmp_path: Path) -> None:
    late = _answer(RECORDS, {"success": False, "errors": {"35": ["bad day"]}}, after=True)
    out = tmp_path / "never.jsonl"
    with HostilePayTrace() as server:
        server.responder = lambda path, _b: (200, {}, late) if path == EXPORT_BY_DATE else None
        with PayTraceClient(_settings(server.url), stream_exports=True) as client:
            with pytest.raises(PayTraceValidationError):
                extract_window(client, DAY, DAY + dt.timedelta(days=1), out)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ limits hold part-way


def _chunked(body: bytes, size: int = 4096) -> bytes:
    parts = [
        f"{len(body[i : i + size]):x}\r\n".encode() + body[i : i + size] + b"\r\n"
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def _big_records(n: int) -> list[dict[str, Any]]:
    return [{"transaction_id": 90_000_000 + i, "description": SECRET_BODY + "x" * 900} for i in range(n)]


def test_size_cap_trips_part_way_after_records_were_handed_on() -> None:
    body = json.dumps({"success": True, "response_code": 1, "transactions": _big_records(300)}).encode()
    answer = (200, {"Transfer-Encoding": "chunked"}, _chunked(body))
    with HostilePayTrace() as server:
        server.responder = lambda path, _b: answer if path == EXPORT_BY_DATE else None
        with PayTraceClient(_settings(server.url, max_response_mb=0.1), stream_exports=True) as client:
            handed = 0
            with pytest.raises(PayTraceResponseTooLargeError) as caught:
                for _ in client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)):
                    handed += 1
        exports = [p for p, _ in server.requests if p == EXPORT_BY_DATE]
    assert 0 < handed < 300  # records came out before the cap stopped the body: it was streamed
    assert len(exports) == 1 and "max_response_mb" in str(caught.value)
    assert SECRET_BODY not in str(caught.value)


def test_deadline_trips_part_way() -> None:
    """Headers and the first records at once, then the body drips: the total deadline cuts it."""
    records = ",".join(json.dumps(r) for r in _big_records(100))  # ~95 KB: more than one 64 KiB read
    head_body = ('{"success": true, "response_code": 1, "transactions": [' + records + ",").encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + head_body
    with DripServer(b'{"transaction_id": 1}' * 100, head) as server:
        settings = _settings(server.url, request_deadline=1.0, max_attempts=1)
        with PayTraceClient(settings, stream_exports=True) as client:
            # every connection to the drip server drips: the token is taken as given
            client._token = lambda **_kw: "a" * 40  # type: ignore[method-assign]
            handed = 0
            with pytest.raises(PayTraceTimeoutError) as caught:
                for _ in client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)):
                    handed += 1
    assert 0 < handed < 100 and "whole answer 1s" in str(caught.value)
    assert SECRET_BODY not in str(caught.value)


def test_our_own_work_between_reads_does_not_count_against_the_deadline() -> None:
    """The deadline measures PayTrace: a fast answer whose records we take 1.5 s to land (a million-record
    day on a busy worker takes minutes) is not cut off by a 1 s limit."""
    import time

    body = json.dumps({"success": True, "response_code": 1, "transactions": _big_records(300)}).encode()
    answer = (200, {"Transfer-Encoding": "chunked"}, _chunked(body))
    with HostilePayTrace() as server:
        server.responder = lambda path, _b: answer if path == EXPORT_BY_DATE else None
        settings = _settings(server.url, request_deadline=1.0, max_attempts=1)
        with PayTraceClient(settings, stream_exports=True) as client:
            started = time.monotonic()
            handed = 0
            for _ in client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)):
                handed += 1
                time.sleep(0.005)
            took = time.monotonic() - started
    assert handed == 300 and took > 1.0  # longer than the limit, and not cut off


# ------------------------------------------------------------------------------ retries part-way


@pytest.mark.parametrize("mode", ["truncated_json", "invalid_json", "http_500"])
def test_transient_faults_are_retried_without_handing_a_record_on_twice(
    mode: str, make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    whole, streamed = _both(make_client, max_attempts=3)
    start = paytrace_sandbox.sim.config.start
    want = _export(whole, start, 3)
    paytrace_sandbox.set_faults(FaultConfig(mode=mode, count=2, retry_after=0.02))  # type: ignore[arg-type]
    assert _export(streamed, start, 3) == want
    assert paytrace_sandbox.stats()["faults_injected"] == 2


def test_truncation_after_records_is_retried_and_the_rest_handed_on_once() -> None:
    body = json.dumps({"success": True, "response_code": 1, "transactions": _big_records(200)}).encode()
    calls: list[int] = []

    def respond(path: str, _b: dict[str, Any]) -> Any:
        if path != EXPORT_BY_DATE:
            return None
        calls.append(1)
        if len(calls) == 1:  # the first answer stops half-way (the connection closes)
            return 200, {"Connection": "close", "Content-Length": str(len(body))}, body[: len(body) // 2]
        return 200, {}, body

    with HostilePayTrace() as server:
        server.responder = respond
        with PayTraceClient(_settings(server.url), stream_exports=True) as client:
            got = [
                r["transaction_id"] for r in client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1))
            ]
    assert got == [r["transaction_id"] for r in _big_records(200)] and len(calls) == 2


def test_an_answer_that_changed_on_retry_is_refused() -> None:
    first = json.dumps({"success": True, "response_code": 1, "transactions": _big_records(200)}).encode()
    changed = _big_records(200)
    changed[3]["description"] = "changed"
    second = json.dumps({"success": True, "response_code": 1, "transactions": changed}).encode()
    calls: list[int] = []

    def respond(path: str, _b: dict[str, Any]) -> Any:
        if path != EXPORT_BY_DATE:
            return None
        calls.append(1)
        if len(calls) == 1:
            return 200, {"Connection": "close", "Content-Length": str(len(first))}, first[: len(first) // 2]
        return 200, {}, second

    with HostilePayTrace() as server:
        server.responder = respond
        with PayTraceClient(_settings(server.url), stream_exports=True) as client:
            with pytest.raises(PayTraceAnswerChangedError, match="changed between attempts"):
                list(client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)))
    assert len(calls) == 2  # not retried again


# ------------------------------------------------------------------------------ memory probe


def test_the_streamed_client_never_holds_the_day() -> None:
    """A ~20 MB answer consumed record by record: the whole parse holds it all at once (the control);
    the streamed parse holds a few chunks (tracemalloc; not a timing)."""
    body = json.dumps({"success": True, "response_code": 1, "transactions": _big_records(20_000)}).encode()
    peaks: dict[bool, int] = {}
    with HostilePayTrace() as server:
        server.responder = lambda path, _b: (200, {}, body) if path == EXPORT_BY_DATE else None
        for stream in (False, True):
            with PayTraceClient(_settings(server.url), stream_exports=stream) as client:
                client.authenticate()
                tracemalloc.start()
                try:
                    count = sum(1 for _ in client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)))
                    peaks[stream] = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
            assert count == 20_000
    assert peaks[False] > len(body), peaks  # the control: the body and its parse at once
    # streamed: a few chunks, plus the client's per-id digest map (~130 bytes an id)
    assert peaks[True] < len(body) / 4, (
        f"streamed peak {peaks[True] / 2**20:.1f} MiB, day {len(body) / 2**20:.0f} MB"
    )
