"""The client against a real HTTP sandbox: every fault mode recovers where it should, gives up with the
right exception where it should, and never exceeds its attempt or time bounds."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest

from paytrace_sl.paytrace.client import EXPORT_BY_DATE, TOKEN_PATH, PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.errors import (
    PayTraceAuthError,
    PayTraceMalformedResponseError,
    PayTraceRateLimitedError,
    PayTraceServerError,
    PayTraceTimeoutError,
    PayTraceTransientError,
    PayTraceValidationError,
)
from paytrace_sl_sandbox.faults import FaultConfig
from paytrace_sl_sandbox.server import SandboxServer

pytestmark = pytest.mark.integration

DAY1, DAY2, DAY3 = dt.date(2025, 4, 1), dt.date(2025, 4, 2), dt.date(2025, 4, 3)
MakeClient = Callable[..., PayTraceClient]


def export_ids(client: PayTraceClient, start: dt.date = DAY1, end: dt.date = DAY2) -> list[Any]:
    return [r.get("transaction_id") for r in client.export_transactions_raw(start, end)]


def reset(server: SandboxServer) -> None:
    """Reset the sandbox's counters (it forgets its tokens too, so forget ours)."""
    server.reset()
    clear_token_cache()


def export_calls(server: SandboxServer) -> int:
    return int(server.stats()["paths"].get(EXPORT_BY_DATE, 0))


@pytest.fixture
def baseline(make_client: MakeClient, paytrace_sandbox: SandboxServer) -> list[Any]:
    """Day 1 exported without faults (then the counters are reset)."""
    ids = export_ids(make_client())
    assert len(ids) > 50
    reset(paytrace_sandbox)
    return ids


# ------------------------------------------------------------------------------------- no faults


def test_day_windows_are_end_exclusive_in_merchant_time(
    make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    client = make_client()
    one_day = [client.parse_transaction(r) for r in client.export_transactions_raw(DAY2, DAY3)]
    assert one_day and {t.created_at.date() for t in one_day} == {DAY2}
    assert all(
        t.created_at.tzinfo is not None and str(t.created_at.tzinfo) == "America/Los_Angeles" for t in one_day
    )
    assert export_calls(paytrace_sandbox) == 1
    assert export_ids(client, DAY2, DAY2) == []  # an empty window asks nothing
    assert export_calls(paytrace_sandbox) == 1


def test_long_ranges_are_split_per_day_and_unique(
    make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    per_day = export_ids(make_client(), DAY1, DAY1 + dt.timedelta(days=3))
    assert export_calls(paytrace_sandbox) == 3
    assert len(per_day) == len(set(per_day))
    reset(paytrace_sandbox)
    one_request = export_ids(make_client(max_span_days=3), DAY1, DAY1 + dt.timedelta(days=3))
    assert export_calls(paytrace_sandbox) == 1
    assert sorted(per_day, key=str) == sorted(one_request, key=str)


@pytest.mark.parametrize("end_inclusive", [True, False])
def test_overlap_keeps_exactly_the_window_whatever_the_end_date_semantics(
    end_inclusive: bool, make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    expected = export_ids(make_client(), DAY2, DAY3 + dt.timedelta(days=1))
    reset(paytrace_sandbox)
    client = make_client(overlap_days=1, end_date_inclusive=end_inclusive)
    got = export_ids(client, DAY2, DAY3 + dt.timedelta(days=1))
    assert got == expected  # no record from the neighbouring days, none twice, none missing
    assert export_calls(paytrace_sandbox) == 4  # DAY1..DAY4 one day per request
    dates = {
        client.parse_transaction(r).created_at.date() for r in client.export_transactions_raw(DAY2, DAY3)
    }
    assert dates == {DAY2}


def test_token_is_cached_across_calls_and_clients(
    make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    export_ids(make_client(), DAY1, DAY1 + dt.timedelta(days=3))
    export_ids(make_client(), DAY1, DAY2)
    assert paytrace_sandbox.stats()["paths"][TOKEN_PATH] == 1


def test_integrator_id_is_sent_on_every_call(
    make_sandbox: Callable[..., SandboxServer], fast_settings: Callable[..., PayTraceSettings]
) -> None:
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.server import SandboxConfig

    server = make_sandbox(
        SandboxConfig(MerchantConfig(seed=1, days=2, tx_per_day=5), require_integrator_id=True)
    )
    with PayTraceClient(fast_settings(server)) as client:
        assert export_ids(client, dt.date(2025, 4, 1), dt.date(2025, 4, 3))
        assert client.export_batch() is not None and client.export_customers()
    with PayTraceClient(fast_settings(server, integrator_id="WRONG-ID")) as client:
        with pytest.raises(PayTraceValidationError) as info:
            export_ids(client, dt.date(2025, 4, 1), dt.date(2025, 4, 2))
        assert "981" in info.value.errors and "WRONG-ID" not in str(info.value)


def test_pacing_limits_the_request_rate(make_client: MakeClient, paytrace_sandbox: SandboxServer) -> None:
    client = make_client(requests_per_second=20.0)
    started = time.monotonic()
    export_ids(client, DAY1, DAY1 + dt.timedelta(days=7))  # 1 token call + 7 export calls
    elapsed = time.monotonic() - started
    assert paytrace_sandbox.stats()["requests"] == 8
    assert elapsed >= 7 / 20.0 * 0.95  # 8 requests with a bucket of 1 need at least 7 refills


# ------------------------------------------------------------------------------------ auth/validation


def test_bad_password_is_not_retried(make_client: MakeClient, paytrace_sandbox: SandboxServer) -> None:
    with pytest.raises(PayTraceAuthError) as info:
        export_ids(make_client(password="wrong-password-123"))
    assert paytrace_sandbox.stats()["paths"] == {TOKEN_PATH: 1}
    assert "wrong-password-123" not in str(info.value) and "invalid_grant" in str(info.value)


def test_validation_errors_are_not_retried(make_client: MakeClient, paytrace_sandbox: SandboxServer) -> None:
    client = make_client()
    with pytest.raises(PayTraceValidationError) as info:
        client.call(EXPORT_BY_DATE, {"start_date": "2025-04-01", "end_date": "04/01/2025"})
    assert list(info.value.errors) == ["901"] and info.value.http_status == 400
    assert export_calls(paytrace_sandbox) == 1


# ------------------------------------------------------------------------------- transient faults


@pytest.mark.parametrize("mode", ["http_429", "http_500", "http_503", "truncated_json", "invalid_json"])
def test_transient_faults_recover(
    mode: str, baseline: list[Any], make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    paytrace_sandbox.set_faults(FaultConfig(mode=mode, count=2, retry_after=0.02))  # type: ignore[arg-type]
    assert export_ids(make_client(max_attempts=3)) == baseline
    assert export_calls(paytrace_sandbox) == 3
    assert paytrace_sandbox.stats()["faults_injected"] == 2


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("http_429", PayTraceRateLimitedError),
        ("http_500", PayTraceServerError),
        ("http_503", PayTraceServerError),
        ("truncated_json", PayTraceMalformedResponseError),
        ("invalid_json", PayTraceMalformedResponseError),
    ],
)
def test_persistent_faults_give_up_after_max_attempts(
    mode: str, error: type[Exception], make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    paytrace_sandbox.set_faults(FaultConfig(mode=mode, retry_after=0.01))  # type: ignore[arg-type]
    with pytest.raises(error) as info:
        export_ids(make_client(max_attempts=3))
    assert export_calls(paytrace_sandbox) == 3  # exactly max_attempts, never more
    assert isinstance(info.value, PayTraceTransientError) and info.value.attempts == 3
    assert "gave up after 3 attempt(s)" in str(info.value)


@pytest.mark.parametrize("mode", ["http_429", "http_503", "http_500"])
def test_persistent_faults_respect_the_time_budget(
    mode: str, make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    budget = 0.6
    paytrace_sandbox.set_faults(FaultConfig(mode=mode, retry_after=0.1))  # type: ignore[arg-type]
    client = make_client(max_attempts=1000, max_retry_seconds=budget, backoff_base=0.05, backoff_cap=0.1)
    client.authenticate()
    started = time.monotonic()
    with pytest.raises(PayTraceTransientError) as info:
        export_ids(client)
    elapsed = time.monotonic() - started
    assert elapsed <= budget + 0.3, elapsed
    assert 2 <= export_calls(paytrace_sandbox) < 1000
    assert "retry time budget exhausted" in str(info.value)


def test_retry_after_is_honoured(make_client: MakeClient, paytrace_sandbox: SandboxServer) -> None:
    paytrace_sandbox.set_faults(FaultConfig(mode="http_429", count=2, retry_after=0.25))
    client = make_client(backoff_base=0.001, backoff_cap=0.001)
    client.authenticate()
    started = time.monotonic()
    export_ids(client)
    assert time.monotonic() - started >= 2 * 0.25


def test_retry_after_beyond_the_budget_gives_up_at_once(
    make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    paytrace_sandbox.set_faults(FaultConfig(mode="http_503", retry_after=30))
    client = make_client(max_attempts=5, max_retry_seconds=2.0)
    client.authenticate()
    started = time.monotonic()
    with pytest.raises(PayTraceServerError):
        export_ids(client)
    assert time.monotonic() - started < 1.0  # did not sleep 30 s (nor 2 s) waiting for a hopeless retry
    assert export_calls(paytrace_sandbox) == 1


# ------------------------------------------------------------------------------------------- slow


def test_slow_answer_times_out_and_recovers(
    baseline: list[Any], make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    paytrace_sandbox.set_faults(FaultConfig(mode="slow", delay=1.0, count=1))
    client = make_client(read_timeout=0.25)
    client.authenticate()
    assert export_ids(client) == baseline
    # (a timed-out request is logged by the sandbox only after its delay; count injected faults instead)
    assert paytrace_sandbox.stats()["faults_injected"] == 1 and client.request_count == 3  # token + 2


def test_persistently_slow_gives_up_with_timeout_within_bounds(
    make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    paytrace_sandbox.set_faults(FaultConfig(mode="slow", delay=1.0))
    client = make_client(read_timeout=0.2, max_attempts=3)
    client.authenticate()
    started = time.monotonic()
    with pytest.raises(PayTraceTimeoutError) as info:
        export_ids(client)
    assert time.monotonic() - started < 3 * 0.2 + 3 * 0.05 + 0.5
    assert paytrace_sandbox.stats()["faults_injected"] == 3 and info.value.attempts == 3


def test_read_timeout_is_capped_by_the_time_budget(
    make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    paytrace_sandbox.set_faults(FaultConfig(mode="slow", delay=2.0))
    client = make_client(read_timeout=30.0, max_attempts=10, max_retry_seconds=0.5)
    client.authenticate()
    started = time.monotonic()
    with pytest.raises(PayTraceTimeoutError):
        export_ids(client)
    assert time.monotonic() - started < 0.5 + 0.4


# ------------------------------------------------------------------------------------ token expiry


def test_expired_token_is_renewed_once_per_refusal(
    make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    paytrace_sandbox.set_faults(FaultConfig(mode="token_expiry", expire_after_calls=1))
    ids = export_ids(make_client(), DAY1, DAY1 + dt.timedelta(days=3))
    stats = paytrace_sandbox.stats()
    assert len(ids) > 150
    assert stats["paths"][TOKEN_PATH] == 3  # first token + one renewal for each later day
    assert stats["paths"][EXPORT_BY_DATE] == 5  # 3 days + 2 refused calls repeated once
    assert stats["statuses"].get("401") == 2


def test_token_refused_again_after_renewal_is_an_auth_error(
    make_client: MakeClient, paytrace_sandbox: SandboxServer
) -> None:
    client = make_client()
    client.authenticate()
    paytrace_sandbox.set_faults(FaultConfig(mode="token_expiry", expire_after_calls=0))
    with pytest.raises(PayTraceAuthError, match="freshly issued token"):
        export_ids(client)
    stats = paytrace_sandbox.stats()
    assert stats["paths"][TOKEN_PATH] == 2 and stats["paths"][EXPORT_BY_DATE] == 2  # renewed once, no more


def test_token_is_renewed_before_it_expires(
    make_sandbox: Callable[..., SandboxServer], fast_settings: Callable[..., PayTraceSettings]
) -> None:
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.server import SandboxConfig

    server = make_sandbox(SandboxConfig(MerchantConfig(seed=1, days=2, tx_per_day=5), token_ttl=2))
    with PayTraceClient(fast_settings(server)) as client:
        export_ids(client, dt.date(2025, 4, 1), dt.date(2025, 4, 2))
        time.sleep(1.1)  # past the renewal point (ttl 2 s, margin min(60, ttl/2) = 1 s)
        export_ids(client, dt.date(2025, 4, 1), dt.date(2025, 4, 2))
    stats = server.stats()
    assert stats["paths"][TOKEN_PATH] == 2 and stats["statuses"].get("401") is None
