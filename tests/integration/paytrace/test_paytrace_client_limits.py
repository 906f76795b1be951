"""Time and memory from the network are bounded: a deadline per request, a size cap, bounded gunzip.

Real HTTP throughout: a raw socket server for the slow-loris cases (it drips one byte at a time, which
``requests``' per-read timeouts never notice), and the hostile PayTrace stand-in for sizes and gzip.
Each case takes a few seconds at most; without the limits the drip servers would hold the client for
their whole drip (8 s here, forever in the attack) and the bomb would be inflated in memory.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from drip_server import DripServer
from hostile_paytrace import HostilePayTrace
from paytrace_settings import fast_settings

from paytrace_sl.paytrace.client import EXPORT_BY_DATE, TOKEN_PATH, PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.errors import PayTraceResponseTooLargeError, PayTraceTimeoutError
from paytrace_sl.settings import ConfigurationError

pytestmark = pytest.mark.integration

SECRET_BODY = "SECRET-BODY-TEXT"  # appears in hostile bodies; must never reach an error message


def _settings(url: str, **overrides: Any) -> PayTraceSettings:
    return fast_settings(url, **{"request_deadline": 1.0, "max_attempts": 1, **overrides})


TOKEN_ANSWER = json.dumps({"access_token": "a" * 40, "expires_in": 7200, "note": SECRET_BODY}).encode()
HEADERS_DRIP = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"z" * 200 + b"\r\n\r\n"
BODY_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(TOKEN_ANSWER)}\r\n\r\n".encode()
)


@pytest.fixture(autouse=True)
def fresh_token_cache() -> Iterator[None]:
    clear_token_cache()
    yield
    clear_token_cache()


def _timed(call: Callable[[], Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except BaseException as exc:  # the test inspects it
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


@pytest.mark.parametrize(
    ("what", "head", "drip"),
    [
        ("status line and headers", b"", HEADERS_DRIP),
        ("body", BODY_HEAD, TOKEN_ANSWER),  # the headers arrive at once, then the body drips
    ],
)
def test_slow_loris_is_cut_at_the_request_deadline(what: str, head: bytes, drip: bytes) -> None:
    with DripServer(drip, head) as server, PayTraceClient(_settings(server.url)) as client:
        error, elapsed = _timed(client.authenticate)
    assert isinstance(error, PayTraceTimeoutError), repr(error)
    assert elapsed < 2.5, f"{what}: the drip held the client {elapsed:.1f}s (deadline 1s)"
    assert TOKEN_PATH in str(error) and "whole answer 1s" in str(error)
    assert SECRET_BODY not in str(error)


def test_retries_of_a_slow_server_stay_within_the_time_budget() -> None:
    with DripServer(HEADERS_DRIP) as server:
        settings = _settings(server.url, max_attempts=10, max_retry_seconds=2.0)
        with PayTraceClient(settings) as client:
            error, elapsed = _timed(client.authenticate)
        connections = server.connections
    assert isinstance(error, PayTraceTimeoutError), repr(error)
    assert elapsed < 4.0, f"retries held the client {elapsed:.1f}s (budget 2s + one 1s attempt)"
    assert 2 <= connections <= 4 and "gave up" in str(error)


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": 90_000_000 + i,
            "transaction_type": "SALE",
            "amount": 10.0,
            "description": SECRET_BODY + "x" * 900,
        }
        for i in range(n)
    ]


def test_oversized_answer_is_refused_and_not_retried() -> None:
    with HostilePayTrace() as server:
        server.records = _records(300)  # ~300 KB
        settings = _settings(server.url, max_response_mb=0.1, max_attempts=3)
        with PayTraceClient(settings) as client:
            with pytest.raises(PayTraceResponseTooLargeError) as caught:
                list(client.export_transactions_raw(_day(), _day(1)))
        exports = [p for p, _ in server.requests if p == EXPORT_BY_DATE]
    assert len(exports) == 1  # not retried: the same answer would be as large again
    assert EXPORT_BY_DATE in str(caught.value) and "max_response_mb" in str(caught.value)
    assert SECRET_BODY not in str(caught.value)


def test_oversized_chunked_answer_is_refused_while_streaming() -> None:
    """No Content-Length to judge by: the count of decoded bytes stops it."""
    body = json.dumps({"success": True, "response_code": 1, "transactions": _records(300)}).encode()
    chunked = b"".join(
        f"{len(body[i : i + 4096]):x}\r\n".encode() + body[i : i + 4096] + b"\r\n"
        for i in range(0, len(body), 4096)
    )
    answer = (200, {"Transfer-Encoding": "chunked"}, chunked + b"0\r\n\r\n")
    with HostilePayTrace() as server:
        server.responder = lambda path, _b: answer if path == EXPORT_BY_DATE else None
        with PayTraceClient(_settings(server.url, max_response_mb=0.1)) as client:
            with pytest.raises(PayTraceResponseTooLargeError):
                list(client.export_transactions_raw(_day(), _day(1)))


def _gzip_bomb(decoded_mib: int) -> bytes:
    """A valid gzip stream of a JSON head followed by ``decoded_mib`` MiB of spaces (~1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * 2**20
    parts = [packer.compress(b'{"success": true, "response_code": 1, "transactions": [')]
    parts += [packer.compress(block) for _ in range(decoded_mib)]
    parts.append(packer.compress(b"]}") + packer.flush())
    return b"".join(parts)


@pytest.mark.parametrize(
    ("limits", "why"),
    [
        ({}, "expands more than 200 times"),  # default limits: the ratio stops it
        ({"max_decompression_ratio": 1e6, "max_response_mb": 16}, "larger than 16 MiB"),  # size cap
    ],
)
def test_gzip_bomb_is_refused_with_bounded_memory(limits: dict[str, Any], why: str) -> None:
    bomb = _gzip_bomb(256)
    assert len(bomb) < 2**20  # under 1 MB on the wire, 256 MiB inflated
    with HostilePayTrace() as server:
        server.responder = lambda path, _b: (
            (200, {"Content-Encoding": "gzip"}, bomb) if path == EXPORT_BY_DATE else None
        )
        with PayTraceClient(_settings(server.url, max_attempts=3, **limits)) as client:
            client.authenticate()
            tracemalloc.start()
            try:
                with pytest.raises(PayTraceResponseTooLargeError) as caught:
                    list(client.export_transactions_raw(_day(), _day(1)))
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        exports = [p for p, _ in server.requests if p == EXPORT_BY_DATE]
    assert why in str(caught.value) and EXPORT_BY_DATE in str(caught.value)
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB while refusing the bomb"
    assert len(exports) == 1


def test_ordinary_gzip_answer_is_read() -> None:
    records = _records(50)
    body = gzip.compress(json.dumps({"success": True, "response_code": 1, "transactions": records}).encode())
    with HostilePayTrace() as server:
        server.responder = lambda path, _b: (
            (200, {"Content-Encoding": "gzip"}, body) if path == EXPORT_BY_DATE else None
        )
        with PayTraceClient(_settings(server.url)) as client:
            got = list(client.export_transactions_raw(_day(), _day(1)))
    assert [r["transaction_id"] for r in got] == [r["transaction_id"] for r in records]


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYTRACE_REQUEST_DEADLINE", "42")
    monkeypatch.setenv("PAYTRACE_MAX_RESPONSE_MB", "512")
    settings = PayTraceSettings.from_env()
    assert (settings.request_deadline, settings.max_response_mb) == (42.0, 512.0)
    assert PayTraceSettings().max_response_mb >= 1024  # a 1M-record day (~1 GB of JSON) fits by default
    monkeypatch.setenv("PAYTRACE_MAX_RESPONSE_MB", "0")
    with pytest.raises(ConfigurationError, match="PAYTRACE_MAX_RESPONSE_MB"):
        PayTraceSettings.from_env()


def _day(offset: int = 0) -> dt.date:
    return dt.date(2025, 4, 1) + dt.timedelta(days=offset)
