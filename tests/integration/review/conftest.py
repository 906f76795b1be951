"""Fixtures for the review workbench tests (the world is built in tests/support/review_world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from review_world import Bench, review_world

from paytrace_sl_sandbox.server import SandboxServer


@pytest.fixture
def bench(paytrace_sandbox: SandboxServer, sl_pg_url: str, tmp_path: Path) -> Iterator[Bench]:
    with review_world(paytrace_sandbox, sl_pg_url, tmp_path) as world:
        yield world
