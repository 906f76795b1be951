"""Fixtures: the crafted reconciliation worlds of :mod:`reconcile_world`."""

from __future__ import annotations

from pathlib import Path

import pytest
from reconcile_world import World, build_world


@pytest.fixture(scope="session")
def messy_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """An SL replica (init_sandbox runs SL's own replica DDL on a new file), seeded, written, disturbed.

    Session-scoped: reconciliation, the report and the page only read it; building it takes seconds.
    """
    tmp = tmp_path_factory.mktemp("messy")
    return build_world(f"sqlite:///{tmp / 'sl.db'}", tmp, messy=True)


@pytest.fixture(scope="session")
def clean_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Everything posted and matching."""
    tmp = tmp_path_factory.mktemp("clean")
    return build_world(f"sqlite:///{tmp / 'sl.db'}", tmp, messy=False)


@pytest.fixture
def pg_messy_world(sl_pg_url: str, tmp_path: Path) -> World:
    """The messy world on the PostgreSQL replica built from SL's DDL script by the shared fixture."""
    return build_world(sl_pg_url, tmp_path, messy=True)
