"""Shared fixtures: real PostgreSQL databases and SL replicas built from SL's own DDL script.

The script runs once per session and backend; each test gets a copy of the result
(tests/support/sl_replica.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sl_replica import ReplicaTemplates, new_pg_database


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards."""
    with new_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def replica_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaTemplates]:
    """SL's replica DDL, run once per session and backend; the replica fixtures hand out copies."""
    templates = ReplicaTemplates(tmp_path_factory.mktemp("sl-replica-template"))
    yield templates
    templates.close()


@pytest.fixture
def sl_pg_url(replica_templates: ReplicaTemplates) -> Iterator[str]:
    """An empty SL replica on PostgreSQL created from ``dynamics-sl-replica.sql`` (not our metadata);
    a new database per test, copied from the session's template database; dropped afterwards."""
    with replica_templates.pg_replica() as url:
        yield url


@pytest.fixture
def sl_sqlite_url(replica_templates: ReplicaTemplates, tmp_path: Path) -> str:
    """An empty SL replica on SQLite created from ``dynamics-sl-replica.sql`` (copy of the session's file)."""
    return replica_templates.sqlite_replica(tmp_path / "sl.db")


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


# Test files that share one scheduling unit under ``pytest -n 2`` (``make test``): they run one after the
# other on one worker. Each starts a whole Airflow deployment (api-server, scheduler, dag-processor, and
# a triggerer or two Celery workers); two at once on a 2-core machine would push both past their
# start-up deadlines.
XDIST_SERIAL = {
    "tests/integration/airflow_local/test_make_airflow.py": "airflow-services",
    "tests/integration/cluster/test_celery_backfill.py": "airflow-services",
}


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Distribute whole test files (``--dist loadfile``), the files of :data:`XDIST_SERIAL` as one unit,
    in collection order: module- and session-scoped fixtures are built at most once per worker, and the
    long Airflow-deployment tests (alphabetically early) start first instead of ending the run."""
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return XDIST_SERIAL.get(path, path)

    config.option.loadscopereorder = False
    return FileScheduling(config, log)
