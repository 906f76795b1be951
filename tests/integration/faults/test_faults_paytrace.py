"""Every PayTrace sandbox fault mode during a real pipeline window, against a PostgreSQL SL sandbox.

For each mode, on its own merchant day: faults that persist beyond the client's retry bounds fail the
run with the right exception (type and message), recorded as ``failed`` in ``xPTRun`` and nothing
written to SL; the same faults within the bounds (``count`` < attempts, or a ``rate``) are retried and
the run posts the day. A final re-run of all the days with faults off posts nothing new and SL holds
every transaction exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from faults_support import (
    FIRST_DAY,
    FaultWorld,
    assert_sl_whole,
    ledger_transaction_ids,
    planned_ids,
    run_status,
)

from paytrace_sl.paytrace.errors import (
    PayTraceAuthError,
    PayTraceError,
    PayTraceMalformedResponseError,
    PayTraceRateLimitedError,
    PayTraceServerError,
    PayTraceTimeoutError,
)
from paytrace_sl.pipeline.runner import run_window
from paytrace_sl.sandbox.faults import FAULT_MODES, FaultConfig

pytestmark = pytest.mark.integration

ATTEMPTS = 3  # the client's retry bound in this test (first try included)
SLOW = {"read_timeout": 0.25}  # "slow" answers after 1 s: a timeout for this client


@dataclass(frozen=True)
class Case:
    """One fault mode: how to make it persist, how to make it transient, and the failure it must raise."""

    mode: str
    persistent: FaultConfig
    transient: FaultConfig
    error: type[PayTraceError]
    message: str
    client: dict[str, Any] = field(default_factory=dict)


CASES = (
    Case(
        "http_429",
        FaultConfig("http_429", retry_after=0.01),
        FaultConfig("http_429", count=ATTEMPTS - 1, retry_after=0.01),
        PayTraceRateLimitedError,
        "HTTP 429 Too Many Requests; gave up after 3 attempt(s)",
    ),
    Case(
        "http_500",
        FaultConfig("http_500"),
        FaultConfig("http_500", rate=0.5, seed=3),  # seeded: fails the 1st, 3rd, 6th... request
        PayTraceServerError,
        "HTTP 500; gave up after 3 attempt(s)",
    ),
    Case(
        "http_503",
        FaultConfig("http_503", retry_after=None),
        FaultConfig("http_503", count=ATTEMPTS - 1, retry_after=None),
        PayTraceServerError,
        "HTTP 503; gave up after 3 attempt(s)",
    ),
    Case(
        "slow",
        FaultConfig("slow", delay=1.0),
        FaultConfig("slow", delay=1.0, count=ATTEMPTS - 1),
        PayTraceTimeoutError,
        "timed out",
        SLOW,
    ),
    Case(
        "truncated_json",
        FaultConfig("truncated_json"),
        FaultConfig("truncated_json", count=ATTEMPTS - 1),
        PayTraceMalformedResponseError,
        "truncated",
    ),
    Case(
        "invalid_json",
        FaultConfig("invalid_json"),
        FaultConfig("invalid_json", rate=0.4, seed=7),
        PayTraceMalformedResponseError,
        "not valid JSON",
    ),
    Case(
        "token_expiry",
        FaultConfig("token_expiry", expire_after_calls=0),  # every token dies on its first call
        FaultConfig("token_expiry", expire_after_calls=1),  # every token dies after one call: renewed
        PayTraceAuthError,
        "a freshly issued token was refused",
    ),
)


def test_cases_cover_every_fault_mode() -> None:
    assert sorted(c.mode for c in CASES) == sorted(m for m in FAULT_MODES if m != "none")


def test_every_fault_mode_fails_clearly_or_recovers_and_posts_each_transaction_once(
    fault_world: FaultWorld,
) -> None:
    server = fault_world.server
    planned: set[int] = set()
    for offset, case in enumerate(CASES):
        window = fault_world.window(FIRST_DAY + dt.timedelta(days=offset))
        cfg = fault_world.config(max_attempts=ATTEMPTS, **case.client)

        # 1. beyond the retry bounds: the run fails with the client's typed error, nothing reaches SL
        server.set_faults(case.persistent)
        before = server.faults.injected
        with pytest.raises(case.error) as failure:
            run_window(cfg, window, f"{case.mode}-persistent")
        assert case.message in str(failure.value), (case.mode, str(failure.value))
        assert server.faults.injected > before, f"{case.mode}: no fault was injected"
        with fault_world.engine() as engine:
            status, error = run_status(engine, f"{case.mode}-persistent")
            assert (status, error.split(":")[0]) == ("failed", case.error.__name__), (case.mode, error)
            assert not ledger_transaction_ids(engine) - planned, f"{case.mode}: a failed run posted"

        # 2. within the bounds: retried, the whole day posts
        server.set_faults(case.transient)
        before = server.faults.injected
        summary = run_window(cfg, window, f"{case.mode}-transient")
        assert server.faults.injected > before, f"{case.mode}: the transient fault never fired"
        assert summary["posted"] > 0 and summary["dead_letter"] == 0, (case.mode, summary)
        planned |= planned_ids(cfg, f"{case.mode}-transient")
        with fault_world.engine() as engine:
            assert run_status(engine, f"{case.mode}-transient")[0] in ("success", "partial")
            assert ledger_transaction_ids(engine) == planned, case.mode

    # 3. faults off: one re-run over all the days posts nothing new; SL holds each transaction once
    server.set_faults(FaultConfig())
    cfg = fault_world.config()
    summary = run_window(cfg, fault_world.window(FIRST_DAY, days=len(CASES)), "rerun-all")
    assert summary["posted"] == 0, summary
    assert planned_ids(cfg, "rerun-all") == planned
    assert summary["already_posted"] == len(planned)
    with fault_world.engine() as engine:
        counts = assert_sl_whole(engine)
        assert ledger_transaction_ids(engine) == planned
    assert counts["payments"] + counts["refunds"] == len(planned), counts
