"""``build_suggester(engine)`` over a real SL replica: what it reads and where its thresholds come from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.customers.suggest import build_suggester
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install, utcnow, xPTCustXref
from paytrace_sl.sl.rows import complete_row
from paytrace_sl.suggestion import PayerFacts

pytestmark = pytest.mark.integration


def test_reads_customers_xref_and_mapping_thresholds(
    sl_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_sl_engine(sl_sqlite_url)
    try:
        install(engine, require_sl=False)
        now = dt.datetime(2025, 4, 1, 9, 0)
        rows = [
            # main columns only
            {
                "CustId": "C1",
                "Name": "Harbor Marine",
                "EMailAddr": "quinn@harbor.example.com",
                "Zip": "98402",
                "Phone": "2535550199",
                "Addr1": "55 River Rd",
                "Status": "A",
            },
            # bill-to columns win over the main ones
            {
                "CustId": "C2",
                "Name": "Old Name",
                "BillName": "",
                "EMailAddr": "x@y.example.com",
                "Zip": "11111",
                "BillZip": "99201",
                "Status": "I",
            },
        ]
        with engine.begin() as conn:
            for r in rows:
                conn.execute(
                    sa.insert(catalog.Customer),
                    [complete_row(catalog.Customer, r | {"Crtd_DateTime": now}, include_identity=False)],
                )
            conn.execute(
                sa.insert(xPTCustXref).values(
                    paytrace_customer_id="PT1",
                    cust_id="C2",
                    source="manual",
                    active=1,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(
            DEFAULT_MAPPING.read_text()
            .replace("auto_link_threshold: 0.9", "auto_link_threshold: 0.95")
            .replace("suggest_threshold: 0.55", "suggest_threshold: 0.7")
        )
        monkeypatch.setenv("PAYTRACE_SL_MAPPING", str(mapping))
        suggester = build_suggester(engine)
    finally:
        engine.dispose()
    assert (suggester.auto_link_threshold, suggester.suggest_threshold) == (0.95, 0.7)
    assert suggester.by_id["C2"].postal_code == "99201" and not suggester.by_id["C2"].active
    assert suggester.suggest(PayerFacts(paytrace_customer_id="PT1"))[0].cust_id == "C2"
    best = suggester.suggest(
        PayerFacts(
            name="HARBOR MARINE LLC",
            email="quinn@harbor.example.com",
            phone="(253) 555-0199",
            postal_code="98402",
            address="55 River Road",
        )
    )[0]
    assert best.cust_id == "C1" and best.auto_link and best.score >= 0.95
