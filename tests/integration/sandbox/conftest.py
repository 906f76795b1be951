"""Helpers for the sandbox's own HTTP tests (the shared fixtures live in tests/integration/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sandbox_http import Api

from paytrace_sl_sandbox.server import SandboxServer


@pytest.fixture
def api(paytrace_sandbox: SandboxServer) -> Api:
    return Api(paytrace_sandbox)


@pytest.fixture
def api_for() -> Callable[[SandboxServer], Api]:
    return Api
