"""PayTrace client settings for tests: one definition for the sandbox and the hostile/drip servers."""

from __future__ import annotations

from typing import Any

from paytrace_sl.paytrace.config import PayTraceSettings

SANDBOX_USER = "sandbox"
SANDBOX_PASSWORD = "sandbox-password"
SANDBOX_INTEGRATOR = "SANDBOXINT01"


def fast_settings(url: str, **overrides: Any) -> PayTraceSettings:
    """Settings for the server at ``url`` with the sandbox's credentials and a small backoff, so retry tests
    take milliseconds; pacing off unless a test turns it on. ``overrides`` replace any field."""
    values: dict[str, Any] = {
        "url": url,
        "username": SANDBOX_USER,
        "password": SANDBOX_PASSWORD,
        "integrator_id": SANDBOX_INTEGRATOR,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "max_attempts": 4,
        "max_retry_seconds": 5.0,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "requests_per_second": 0.0,
    }
    values.update(overrides)
    return PayTraceSettings(**values)
