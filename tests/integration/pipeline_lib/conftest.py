"""Fixtures for the pipeline library's integration tests (real GX File context, SQLite SL replica)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def gx_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One GX File context per test module: creating a context costs seconds, a validation does not."""
    return tmp_path_factory.mktemp("gx")
