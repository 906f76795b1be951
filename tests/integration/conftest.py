"""Shared integration fixtures: the PayTrace sandbox (a real HTTP server on a free port)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest

from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer


@pytest.fixture
def paytrace_sandbox() -> Iterator[SandboxServer]:
    """A running sandbox: seed 7, 7 days from 2025-04-01, 60 transactions/day; ``.url`` is its root."""
    config = SandboxConfig(MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60))
    with SandboxServer(config, port=0) as server:
        yield server


@pytest.fixture
def make_sandbox() -> Iterator[Callable[[SandboxConfig], SandboxServer]]:
    """Factory: ``make_sandbox(SandboxConfig(...))`` starts a sandbox that is stopped after the test."""
    started: list[SandboxServer] = []

    def make(config: SandboxConfig) -> SandboxServer:
        server = SandboxServer(config, port=0).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
