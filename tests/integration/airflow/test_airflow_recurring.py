"""``paytrace_recurring_to_sl`` through Airflow (``dag.test()``): schedules mirrored and linked, the
overview task's counts, and the payments DAG posting each recurring charge once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.client import PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTLedger, xPTRecurPay, xPTRecurSched
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=20)


def test_recurring_dag_mirrors_schedules_and_charges_post_once(
    dagbag: Any,
    run_dag: Callable[[str, dt.date], Any],
    airflow_connections: Callable[[str, str], None],
    make_sandbox: Any,
    sl_pg_url: str,
    pipeline_dirs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_token_cache()
    monkeypatch.delenv("PAYTRACE_SL_MAPPING", raising=False)
    init_sandbox(sl_pg_url, MERCHANT)
    tz = ZoneInfo(LA)
    server = make_sandbox(SandboxConfig(MERCHANT, clock=dt.datetime(2025, 4, 1, 1, 0, tzinfo=tz)))
    cust = next(c for c in server.sim.customers() if c.sl_cust_id != c.customer_id)  # linked by xref
    settings = PayTraceSettings(url=server.url, username="sandbox", password="sandbox-password", timezone=LA)
    with PayTraceClient(settings) as client:
        for amount in ("30.00", "0.29"):
            client.call(
                "/v1/recurrence/create",
                {
                    "customer_id": cust.customer_id,
                    "amount": amount,
                    "frequency": "weekly",
                    "start_date": "04/02/2025",
                },
            )
    server.set_clock(dt.datetime(2025, 4, 3, 8, 0, tzinfo=tz))
    airflow_connections(server.url, sl_pg_url)

    day = dt.date(2025, 4, 2)
    assert str(run_dag("paytrace_payments_to_sl", day).state) == "success"
    dr = run_dag("paytrace_recurring_to_sl", day)
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert states == {"refresh_schedules": "success", "recurring_overview": "success"}, states
    overview = next(ti for ti in dr.get_task_instances() if ti.task_id == "recurring_overview").xcom_pull(
        task_ids="recurring_overview"
    )
    # the interval ends 4/3: both schedules are due again on 4/9; the 0.29 one failed
    assert overview["schedules"] == 2 and overview["upcoming"] == 2 and overview["failed"] == 1
    assert overview["unlinked"] == 0

    assert str(run_dag("paytrace_payments_to_sl", day).state) == "success"  # a rerun posts nothing new
    engine = create_sl_engine(sl_pg_url)
    try:
        with engine.connect() as conn:
            links = set(conn.execute(sa.select(xPTRecurSched.c.cust_id, xPTRecurSched.c.link_source)))
            (charge,) = conn.execute(sa.select(xPTRecurPay.c.transaction_id)).scalars().all()
            postings = (
                conn.execute(sa.select(xPTLedger.c.cust_id).where(xPTLedger.c.transaction_id == charge))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert links == {(cust.sl_cust_id, "xref")}
    assert postings == [cust.sl_cust_id]
