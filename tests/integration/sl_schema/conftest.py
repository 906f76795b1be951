"""Fixtures for the SL schema tests: one SL replica per backend, created from SL's own DDL script."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["postgresql", "sqlite"])
def replica_url(request: pytest.FixtureRequest) -> str:
    """An empty SL replica (PostgreSQL with the identity script, or SQLite) — runs the test on both."""
    fixture = "sl_pg_url" if request.param == "postgresql" else "sl_sqlite_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A new, empty database (no SL tables) on each backend."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_database"))
    return f"sqlite:///{tmp_path / 'empty.db'}"
