"""What ``make demo`` sets up for the review routine: walk-ins to the unidentified customer only, and a few
vault customers left without a cross-reference (their payments wait as unknown_customer)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from paytrace_sl.pipeline.mapping import UNIDENTIFIED_WALK_INS, load_mapping
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTCustXref
from paytrace_sl_sandbox.demo import write_sandbox_mapping
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation
from paytrace_sl_sandbox.sl_seed import SandboxSLConfig, init_sandbox


def test_demo_mapping_sends_only_walk_ins_to_the_unidentified_customer(tmp_path: Path) -> None:
    walk_ins = load_mapping(
        write_sandbox_mapping(tmp_path / "m.yaml", unidentified_receipts=True, walk_ins_only=True)
    ).customers
    assert (walk_ins.unmatched, walk_ins.unidentified_customer_id) == (UNIDENTIFIED_WALK_INS, "UNIDENTIFIED")
    every = load_mapping(write_sandbox_mapping(tmp_path / "a.yaml", unidentified_receipts=True)).customers
    assert every.unmatched == "unidentified"


def test_unlinked_customers_have_no_cross_reference(tmp_path: Path) -> None:
    merchant = MerchantConfig(seed=42, start=dt.date(2025, 4, 1), days=1, tx_per_day=10)
    url = f"sqlite:///{tmp_path / 'sl.db'}"
    init_sandbox(url, merchant, sl_config=SandboxSLConfig(unlinked_customers=2))
    engine = create_sl_engine(url)
    try:
        with engine.connect() as conn:
            linked = set(conn.execute(sa.select(xPTCustXref.c.paytrace_customer_id)).scalars())
    finally:
        engine.dispose()
    customers = MerchantSimulation(merchant).customers()
    missing = {c.customer_id for c in customers} - linked
    assert len(missing) == 2
    # only customers whose SL id differs: the others still match by exact id
    assert all(c.sl_cust_id != c.customer_id for c in customers if c.customer_id in missing)
