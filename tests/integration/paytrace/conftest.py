"""Fixtures for the PayTrace client tests: fast retry settings against helper B's sandbox server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import paytrace_settings
import pytest

from paytrace_sl.paytrace.client import PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl_sandbox.server import SandboxServer


@pytest.fixture(autouse=True)
def fresh_token_cache() -> Iterator[None]:
    """Tokens are cached per process; every test starts (and ends) without one."""
    clear_token_cache()
    yield
    clear_token_cache()


def _fast_settings(server: SandboxServer, **overrides: Any) -> PayTraceSettings:
    return paytrace_settings.fast_settings(server.url, **overrides)


@pytest.fixture
def make_client(paytrace_sandbox: SandboxServer) -> Iterator[Callable[..., PayTraceClient]]:
    """``make_client(**settings_overrides)`` → a client bound to the ``paytrace_sandbox`` server."""
    clients: list[PayTraceClient] = []

    def make(**overrides: Any) -> PayTraceClient:
        client = PayTraceClient(_fast_settings(paytrace_sandbox, **overrides))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def fast_settings() -> Callable[..., PayTraceSettings]:
    """``fast_settings(server, **overrides)`` → settings for any sandbox (e.g. one from ``make_sandbox``)."""
    return _fast_settings
