"""Fault-test fixtures: one PayTrace sandbox and one seeded PostgreSQL SL sandbox per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from faults_support import MERCHANT, FaultWorld

from paytrace_sl.demo import write_sandbox_mapping
from paytrace_sl.sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl.sl.sandbox_seed import init_sandbox


@pytest.fixture
def fault_world(
    make_sandbox: Callable[[SandboxConfig], SandboxServer], sl_pg_url: str, tmp_path: Path
) -> FaultWorld:
    """The PayTrace sandbox (no faults yet) and an SL sandbox seeded with the same merchant."""
    server = make_sandbox(SandboxConfig(MERCHANT))
    init_sandbox(sl_pg_url, MERCHANT)
    return FaultWorld(server, sl_pg_url, tmp_path, write_sandbox_mapping(tmp_path / "mapping.yaml"))
