"""The review workbench world: a PostgreSQL SL replica after one day's run, its cross-references
removed so that payers whose SL customer id differs from their PayTrace id wait in review."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PipelineConfig, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTCustXref
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

LA = "America/Los_Angeles"
DAY = dt.date(2025, 4, 2)


@dataclass
class Bench:
    engine: sa.Engine
    cfg: PipelineConfig
    env: dict[str, str | None]
    xref: dict[str, str]  # the removed PayTrace → SL cross-references (the "truth")


@contextmanager
def review_world(paytrace_sandbox: SandboxServer, sl_pg_url: str, tmp_path: Path) -> Iterator[Bench]:
    init_sandbox(sl_pg_url, MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60))
    engine = create_sl_engine(sl_pg_url)
    with engine.begin() as conn:
        xref = {str(k).strip(): str(v).strip() for k, v in conn.execute(
            sa.select(xPTCustXref.c.paytrace_customer_id, xPTCustXref.c.cust_id))}  # fmt: skip
        conn.execute(sa.delete(xPTCustXref))
    cfg = PipelineConfig(
        sl_url=sl_pg_url,
        paytrace=PayTraceSettings(
            url=paytrace_sandbox.url, username="sandbox", password="sandbox-password", timezone=LA,
            requests_per_second=0,
        ),
        mapping_path=DEFAULT_MAPPING,
        landing_dir=tmp_path / "landing",
        gx_dir=tmp_path / "gx",
        lookback=dt.timedelta(0),
    )  # fmt: skip
    run_window(cfg, day_window(DAY, LA), "day-1")
    env: dict[str, str | None] = {
        "SL_DATABASE_URL": sl_pg_url,
        "PAYTRACE_URL": paytrace_sandbox.url,
        "PAYTRACE_USERNAME": "sandbox",
        "PAYTRACE_PASSWORD": "sandbox-password",
        "PAYTRACE_TIMEZONE": LA,
        "PAYTRACE_SL_LANDING_DIR": str(tmp_path / "landing"),
        "PAYTRACE_SL_GX_DIR": str(tmp_path / "gx"),
        "PAYTRACE_SL_OPERATOR": "alice",
        "AIRFLOW_CONN_PAYTRACE_DEFAULT": None,
        "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT": None,
    }
    yield Bench(engine, cfg, env, xref)
    engine.dispose()
