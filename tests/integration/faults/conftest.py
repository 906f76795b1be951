"""Fault-test fixtures: one PayTrace sandbox and one seeded PostgreSQL SL sandbox per test."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faults_support import MERCHANT, FaultWorld

from paytrace_sl.pipeline.runner import DEFAULT_MAPPING
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox


@pytest.fixture
def fault_world(
    make_sandbox: Callable[[SandboxConfig], SandboxServer], sl_pg_url: str, tmp_path: Path
) -> FaultWorld:
    """The PayTrace sandbox (no faults yet) and an SL sandbox seeded with the same merchant."""
    server = make_sandbox(SandboxConfig(MERCHANT))
    init_sandbox(sl_pg_url, MERCHANT)
    return FaultWorld(server, sl_pg_url, tmp_path, DEFAULT_MAPPING)  # shipped file: sandbox chart


@pytest.fixture(autouse=True)
def collect_dead_connections() -> Iterator[None]:
    """Finalize what a killed connection left behind now, not inside some later ``ast.parse``.

    CPython 3.11.7 keeps the AST converter's recursion depth in shared state: a finalizer that runs
    during a later ``ast.parse`` (pytest's assertion rewriting) and parses too corrupts it, and the
    session dies with "SystemError: AST constructor recursion depth mismatch" (fixed in later CPython).
    """
    yield
    gc.collect()
