"""Every PayTrace sandbox fault mode during a real pipeline window, against a PostgreSQL SL sandbox.

For each mode: faults that persist beyond the client's retry bounds fail ``run_window`` with the right
exception (type and message), recorded as ``failed`` in ``xPTRun``, nothing written to SL; the same
faults within the bounds (``count`` < attempts, or a seeded ``rate``) are retried and the extract step
(the only step that talks to PayTrace) lands exactly what a fault-free extract lands. Then the whole
window runs through 30% of answers failing and posts; a re-run with faults off posts nothing new and SL
holds every transaction exactly once. (One full run under faults rather than one per mode: the GX
validation step costs seconds per run, and the suite must stay well under two minutes.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from faults_support import (
    DAY,
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
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.runner import TX_FILE, PipelineConfig, extract_step, run_window
from paytrace_sl.pipeline.windows import Window
from paytrace_sl_sandbox.faults import FAULT_MODES, FaultConfig

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
    window = fault_world.window(DAY, days=2)
    clean = landed_transactions(fault_world.config(), window, "clean-extract")
    assert len(clean) >= 20, "the window is too small to mean anything"
    for case in CASES:
        cfg = fault_world.config(max_attempts=ATTEMPTS, **case.client)

        # beyond the retry bounds: the run fails with the client's typed error; nothing reaches SL
        server.set_faults(case.persistent)
        before = server.faults.injected
        with pytest.raises(case.error) as failure:
            run_window(cfg, window, f"{case.mode}-persistent")
        assert case.message in str(failure.value), (case.mode, str(failure.value))
        assert server.faults.injected > before, f"{case.mode}: no fault was injected"
        with fault_world.engine() as engine:
            status, error = run_status(engine, f"{case.mode}-persistent")
            assert (status, error.split(":")[0]) == ("failed", case.error.__name__), (case.mode, error)
            assert ledger_transaction_ids(engine) == set(), f"{case.mode}: a failed run posted"

        # within the bounds: retried; the extract lands exactly what a fault-free extract lands
        server.set_faults(case.transient)
        before = server.faults.injected
        assert landed_transactions(cfg, window, f"{case.mode}-transient") == clean, case.mode
        assert server.faults.injected > before, f"{case.mode}: the transient fault never fired"

    # the whole window through 30% of answers failing: the run succeeds and posts the window
    server.set_faults(FaultConfig("http_503", rate=0.3, seed=1, retry_after=None))
    before = server.faults.injected
    cfg = fault_world.config(max_attempts=6)
    summary = run_window(cfg, window, "under-faults")
    assert server.faults.injected > before and summary["posted"] > 0, summary
    planned = planned_ids(cfg, "under-faults")

    # faults off: the re-run posts nothing new; SL holds each transaction exactly once
    server.set_faults(FaultConfig())
    summary = run_window(cfg, window, "rerun")
    assert summary["posted"] == 0 and summary["already_posted"] == len(planned), summary
    assert planned_ids(cfg, "rerun") == planned
    with fault_world.engine() as engine:
        counts = assert_sl_whole(engine)
        assert ledger_transaction_ids(engine) == planned
        assert run_status(engine, "under-faults")[0] in ("success", "partial")
    assert counts["payments"] + counts["refunds"] == len(planned), counts
    # captured-in-place authorizations are posted too (their 31-character description used to fail SL's
    # char(30) TranDesc and, with it, the whole window; the writer now fits descriptions to the column)
    authorizations = {int(r["transaction_id"]) for r in clean if r["transaction_type"] == "AUTHORIZATION"}
    assert authorizations & planned, "the window has no posted authorization: pick another merchant day"


def landed_transactions(cfg: PipelineConfig, window: Window, run_id: str) -> list[dict[str, Any]]:
    """The extract step (the pipeline's only PayTrace step) alone; returns what it landed."""
    extract_step(cfg, window, run_id)
    return list(Landing(cfg.landing_dir, run_id).read_jsonl(TX_FILE))
