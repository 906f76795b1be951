"""Shared fixtures: real PostgreSQL databases and SL replicas built from SL's own DDL script."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sl_replica import create_pg_replica, create_sqlite_replica, new_pg_database


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards."""
    with new_pg_database() as url:
        yield url


@pytest.fixture
def sl_pg_url(pg_database: str) -> str:
    """An empty SL replica on PostgreSQL created from ``dynamics-sl-replica.sql`` (not our metadata)."""
    create_pg_replica(pg_database)
    return pg_database


@pytest.fixture
def sl_sqlite_url(tmp_path: Path) -> str:
    """An empty SL replica on SQLite created from ``dynamics-sl-replica.sql``."""
    return create_sqlite_replica(tmp_path / "sl.db")


@pytest.fixture(autouse=True, scope="session")
def _reports_outside_the_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Reports written by settlement runs in tests go to a temporary directory, not the repo's var/."""
    previous = os.environ.get("PAYTRACE_SL_REPORTS_DIR")
    os.environ["PAYTRACE_SL_REPORTS_DIR"] = str(tmp_path_factory.mktemp("reports"))
    yield
    if previous is None:
        os.environ.pop("PAYTRACE_SL_REPORTS_DIR", None)
    else:
        os.environ["PAYTRACE_SL_REPORTS_DIR"] = previous
