"""The books on the sandbox's own generated merchant (sales, refunds of earlier sales, voids, captures,
invoices, sales orders, unknown payers): two days of scheduled runs, released, checked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from books import Moved, check_books, snapshot
from sl_release import release_all

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.runner import PipelineConfig, run_settlements, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl_sandbox.demo import write_sandbox_mapping
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
START = dt.date(2025, 4, 1)
DAYS = 4


def test_generated_merchant_books_are_right(tmp_path: Path) -> None:
    merchant = MerchantConfig(seed=42, start=START, days=DAYS, tx_per_day=50, customers=10)
    url = f"sqlite:///{tmp_path / 'sl.db'}"
    init_sandbox(url, merchant)
    engine = create_sl_engine(url)
    before = snapshot(engine)
    with SandboxServer(SandboxConfig(merchant), port=0) as server:
        cfg = PipelineConfig(
            sl_url=url,
            paytrace=PayTraceSettings(
                url=server.url,
                username="sandbox",
                password="sandbox-password",
                integrator_id="SANDBOXINT01",
                timezone=LA,
                requests_per_second=0,
            ),
            mapping_path=write_sandbox_mapping(tmp_path / "mapping.yaml", unidentified_receipts=True),
            landing_dir=tmp_path / "landing",
            gx_dir=tmp_path / "gx",
            lookback=dt.timedelta(days=1),
        )
        for i in range(DAYS):
            window = day_window(START + dt.timedelta(days=i), LA)
            run_window(cfg, window, f"pay-{i}")
            run_settlements(cfg, window, f"settle-{i}")
        last = (START + dt.timedelta(days=DAYS - 1)).strftime("%m/%d/%Y")
        body = {"start_date": START.strftime("%m/%d/%Y"), "end_date": last}
        token = requests.post(
            f"{server.url}/oauth/token",
            data={"grant_type": "password", "username": "sandbox", "password": "sandbox-password"},
            timeout=10,
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        records = requests.post(
            f"{server.url}/v1/transactions/export/by_date_range", json=body, headers=auth, timeout=30
        ).json()["transactions"]
        batches = requests.post(f"{server.url}/v1/batches/export", json=body, headers=auth, timeout=30).json()
    moved = [
        Moved(
            int(r["transaction_id"]),
            "refund" if r["transaction_type"] == "REFUND" else "payment",
            Decimal(str(r["amount"])),
        )
        for r in records
        if r["transaction_type"] in ("SALE", "REFUND", "AUTHORIZATION", "CAPTURE")
        and (str(r["status_code"]).startswith("GB") or r["status_code"] == "Y")
    ]
    deposited = sum((Decimal(str(b["net_amount"])) for b in batches["batches"]), Decimal(0))
    assert sum(m.kind == "refund" for m in moved) >= 1 and sum(m.kind == "payment" for m in moved) > 100
    release_all(engine)
    books = check_books(engine, before, moved=moved, deposited=deposited)
    books.assert_ok()
    with engine.connect() as conn:
        memos = dict(
            conn.execute(
                sa.text("SELECT DocType, count(*) FROM ARDoc WHERE Crtd_Prog = 'PTSL' GROUP BY DocType")
            ).all()
        )
    assert memos.get("DM", 0) == sum(m.kind == "refund" for m in moved)  # every refund has its DM
    engine.dispose()
