"""``paytrace_customers_to_sl`` through Airflow's ``dag.test()``: the PayTrace sandbox (noisy vault on)
over HTTP and an SL replica on PostgreSQL seeded like the SL sandbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTRun, xPTVaultProfile
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox
from paytrace_sl_sandbox.vault import sandbox_vault

pytestmark = pytest.mark.integration

MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60)


@pytest.fixture
def vault_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(MERCHANT, vault_noise=True), port=0) as server:
        yield server


def test_customers_dag_links_profiles_and_is_rerunnable(
    dagbag: Any,
    run_dag: Callable[[str, dt.date], Any],
    airflow_connections: Callable[[str, str], None],
    vault_sandbox: SandboxServer,
    sl_pg_url: str,
    pipeline_dirs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAYTRACE_SL_MAPPING", raising=False)
    init_sandbox(sl_pg_url, MERCHANT)
    airflow_connections(vault_sandbox.url, sl_pg_url)
    dag = dagbag.get_dag("paytrace_customers_to_sl")
    assert [t.task_id for t in dag.topological_sort()] == [
        "export_profiles",
        "link_profiles",
        "expiring_cards",
        "summarize",
    ]
    for day in (dt.date(2025, 4, 2), dt.date(2025, 4, 3)):  # a second day: a rerun of the same vault
        dr = run_dag("paytrace_customers_to_sl", day)
        states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
        assert set(states.values()) == {"success"}, states
    truth = sandbox_vault(MerchantSimulation(MERCHANT)).truth
    engine = create_sl_engine(sl_pg_url)
    try:
        with engine.connect() as conn:
            v = xPTVaultProfile.c
            rows = conn.execute(sa.select(v.paytrace_customer_id, v.cust_id, v.link_source)).all()
            runs = conn.execute(
                sa.select(xPTRun.c.run_id, xPTRun.c.status).where(
                    xPTRun.c.dag_id == "paytrace_customers_to_sl"
                )
            ).all()
    finally:
        engine.dispose()
    fuzzy = [(pid, cust) for pid, cust, source in rows if source == "fuzzy"]
    assert fuzzy and all(truth[pid] == cust for pid, cust in fuzzy)
    assert len(rows) == len(MerchantSimulation(MERCHANT).customers()) + len(truth)
    assert sorted(status for _, status in runs) == ["success", "success"]
    assert all(run_id.startswith("paytrace_customers_to_sl__") for run_id, _ in runs)
