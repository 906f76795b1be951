"""Vault profiles end to end: the PayTrace sandbox (with noisy vault customers) over HTTP, an SL replica
on PostgreSQL seeded like the SL sandbox, the customer steps as the DAG and the CLI run them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.customers.steps import DAG_ID, run_customers
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PipelineConfig
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.redaction import contains_pan
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTCustXref, xPTDeadLetter, xPTVaultProfile
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox
from paytrace_sl_sandbox.vault import sandbox_vault

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60)
DAY = dt.date(2025, 4, 3)


@pytest.fixture
def vault_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(MERCHANT, vault_noise=True), port=0) as server:
        yield server


@pytest.fixture
def seeded_sl(sl_pg_url: str) -> str:
    init_sandbox(sl_pg_url, MERCHANT)
    return sl_pg_url


def config(
    sandbox: SandboxServer, sl_url: str, root: Path, mapping: Path = DEFAULT_MAPPING
) -> PipelineConfig:
    return PipelineConfig(
        sl_url=sl_url,
        paytrace=PayTraceSettings(
            url=sandbox.url,
            username="sandbox",
            password="sandbox-password",
            timezone=LA,
            requests_per_second=0,
        ),
        mapping_path=mapping,
        landing_dir=root / "landing",
        gx_dir=root / "gx",
        dag_id=DAG_ID,
    )


def profiles(url: str) -> dict[str, dict[str, Any]]:
    engine = create_sl_engine(url)
    try:
        with engine.connect() as conn:
            return {
                str(r.paytrace_customer_id): dict(r._mapping)
                for r in conn.execute(sa.select(xPTVaultProfile))
            }
    finally:
        engine.dispose()


def test_vault_profiles_are_stored_linked_and_suggested(
    vault_sandbox: SandboxServer, seeded_sl: str, tmp_path: Path
) -> None:
    cfg = config(vault_sandbox, seeded_sl, tmp_path)
    out = run_customers(cfg, day_window(DAY, LA), "customers-run-1")
    sim = MerchantSimulation(MERCHANT)
    noisy = sandbox_vault(sim)
    plain = {c.customer_id: c.sl_cust_id for c in sim.customers()}
    rows = profiles(seeded_sl)
    assert set(rows) == set(plain) | set(noisy.truth)
    assert out["link_profiles"]["fetched"] == len(rows)
    # the plain vault: every profile linked by exact id or the seeded cross-reference
    for pid, cust in plain.items():
        assert rows[pid]["cust_id"] == cust and rows[pid]["link_source"] in ("exact", "xref")
    # the noisy vault: never a wrong auto-link; most right ones linked, decoys never linked
    auto = {pid: r["cust_id"] for pid, r in rows.items() if r["link_source"] == "fuzzy"}
    assert auto, "no profile was auto-linked"
    assert all(noisy.truth[pid] == cust for pid, cust in auto.items())
    assert all(rows[pid]["cust_id"] is None for pid, want in noisy.truth.items() if want is None)
    waiting = [r for r in rows.values() if r["cust_id"] is None and r["suggested_cust_id"]]
    for r in waiting:  # a suggestion carries its score and the fields that agreed
        assert 0 < float(r["score"]) < 1 and r["agreed"]
    # an auto-link became a cross-reference row, so payments by that vault id find their customer
    engine = create_sl_engine(seeded_sl)
    try:
        with engine.connect() as conn:
            xref = dict(
                conn.execute(
                    sa.select(xPTCustXref.c.paytrace_customer_id, xPTCustXref.c.cust_id).where(
                        xPTCustXref.c.source == "auto-match"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert xref == auto
    # PCI: last four digits only, and nothing card-like anywhere we wrote
    assert all(r["masked_card"].startswith("x" * 12) for r in rows.values())
    assert not contains_pan(json.dumps(rows, default=str))
    for path in (tmp_path / "landing").rglob("*"):
        if path.is_file():
            assert not contains_pan(path.read_text()), path
    # idempotent: a second run changes nothing and links nothing new
    again = run_customers(cfg, day_window(DAY, LA), "customers-run-2")["link_profiles"]
    assert again["new"] == 0 and again["changed"] == 0 and again["linked"] == {}
    assert profiles(seeded_sl).keys() == rows.keys()


def test_bad_profile_is_dead_lettered_and_nobody_deactivated(
    vault_sandbox: SandboxServer, seeded_sl: str, tmp_path: Path
) -> None:
    cfg = config(vault_sandbox, seeded_sl, tmp_path)
    run_customers(cfg, day_window(DAY, LA), "customers-run-1")
    before = profiles(seeded_sl)
    # a vault profile whose expiry month is nonsense, created through the sandbox API
    import requests

    token = requests.post(
        f"{vault_sandbox.url}/oauth/token",
        data={"grant_type": "password", "username": "sandbox", "password": "sandbox-password"},
        timeout=10,
    ).json()["access_token"]
    answer = requests.post(
        f"{vault_sandbox.url}/v1/customer/create",
        json={
            "customer_id": "NEW-CUST-1",
            "credit_card": {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030},
            "billing_address": {"name": "Brand New Customer", "zip": "99201"},
            "email": "new@example.com",
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert answer["success"], answer
    assert answer["masked_card_number"].endswith("1111")  # the create answer's top-level shape
    with vault_sandbox._lock:
        vault_sandbox._overlay.customers["NEW-CUST-1"]["credit_card"]["expiration_month"] = 13
    out = run_customers(cfg, day_window(DAY, LA), "customers-run-2")
    assert out["link_profiles"]["dead_lettered"] == 1
    after = profiles(seeded_sl)
    assert "NEW-CUST-1" not in after
    assert all(r["active"] == 1 for r in after.values()) and after.keys() == before.keys()
    engine = create_sl_engine(seeded_sl)
    try:
        with engine.connect() as conn:
            letter = conn.execute(
                sa.select(xPTDeadLetter).where(xPTDeadLetter.c.source == "paytrace-customer")
            ).one()
    finally:
        engine.dispose()
    assert "NEW-CUST-1" in letter.reason and "expiration_month" in letter.reason
    assert not contains_pan(letter.payload)


def test_create_missing_creates_each_sl_customer_once_with_every_column(
    vault_sandbox: SandboxServer, seeded_sl: str, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    text = DEFAULT_MAPPING.read_text()
    text = text.replace("  create_missing: false\n", "  create_missing: true\n")
    text = text.replace('  customer_class: ""\n', '  customer_class: "RETAIL"\n')
    mapping.write_text(text)
    cfg = config(vault_sandbox, seeded_sl, tmp_path, mapping)
    out = run_customers(cfg, day_window(DAY, LA), "customers-run-1")["link_profiles"]
    noisy = sandbox_vault(MerchantSimulation(MERCHANT))
    rows = profiles(seeded_sl)
    created = {pid: r for pid, r in rows.items() if r["link_source"] == "created"}
    assert out["created"] == len(created) > 0
    # only profiles with no match and no suggestion: decoys (and never one that has an SL customer)
    assert all(noisy.truth[pid] is None for pid in created)
    engine = create_sl_engine(seeded_sl)
    try:
        with engine.connect() as conn:
            c = catalog.Customer.c
            new = {
                str(r.CustId).strip(): r
                for r in conn.execute(sa.select(catalog.Customer).where(c.Crtd_Prog == "PTSL"))
            }
            template = conn.execute(
                sa.select(catalog.Customer).where(c.ClassId == "RETAIL", c.Crtd_Prog != "PTSL").limit(1)
            ).one()
    finally:
        engine.dispose()
    assert set(new) == {pid.upper() for pid in created}
    for pid, profile in created.items():
        row = new[pid.upper()]
        assert str(row.Name).strip() == profile["name"]
        assert str(row.Zip).strip() == profile["postal_code"]
        assert str(row.ArAcct).strip() == str(template.ArAcct).strip()
        assert str(row.Terms).strip() == str(template.Terms).strip()
        assert str(row.CardNbr).strip() == ""  # never card data in SL
        assert str(row.PerNbr).strip() != ""
    # exactly once: a second run creates nothing
    again = run_customers(cfg, day_window(DAY, LA), "customers-run-2")["link_profiles"]
    assert again["created"] == 0


def test_expiring_cards_list_customers_with_open_invoices(
    vault_sandbox: SandboxServer, seeded_sl: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(vault_sandbox, seeded_sl, tmp_path)
    run_customers(cfg, day_window(DAY, LA), "customers-run-1")
    from paytrace_sl.customers.expiring import expiring_cards

    engine = create_sl_engine(seeded_sl)
    try:
        with engine.connect() as conn:
            rows = profiles(seeded_sl)
            linked = [r for r in rows.values() if r["cust_id"] and r["exp_year"]]
            target = min(linked, key=lambda r: (r["exp_year"], r["exp_month"]))
            good_through = dt.date(int(target["exp_year"]), int(target["exp_month"]), 1)
            cards = expiring_cards(conn, good_through - dt.timedelta(days=5), 60)
            # the open-invoice look-up goes in chunks of customers (SQL Server's parameter limit)
            from paytrace_sl.customers import expiring

            monkeypatch.setattr(expiring, "IN_CHUNK", 1)
            assert expiring_cards(conn, good_through - dt.timedelta(days=5), 60) == cards
            d = catalog.ARDoc.c
            open_customers = {
                str(c).strip()
                for (c,) in conn.execute(
                    sa.select(d.CustId).where(d.OpenDoc == 1, d.Rlsed == 1, d.DocBal > 0, d.DocType == "IN")
                )
            }
    finally:
        engine.dispose()
    assert cards, "no expiring card found"
    assert all(c.cust_id in open_customers and c.open_balance > 0 for c in cards)
    assert all(not c.expired for c in cards)


def test_v4_upgrade_adds_the_vault_table_to_a_v3_install(sl_pg_url: str) -> None:
    from paytrace_sl.sl.own_tables import SCHEMA_VERSION, install

    engine = create_sl_engine(sl_pg_url)
    try:
        assert install(engine, target_version=3).to_version == 3
        result = install(engine)
        assert "xPTVaultProfile" in result.created_tables and result.to_version == SCHEMA_VERSION
        assert any("xPTVaultProfile" in step for step in result.applied)
        assert install(engine).applied == ()  # idempotent
    finally:
        engine.dispose()


def test_report_and_ui_page_list_expiring_cards(
    vault_sandbox: SandboxServer, seeded_sl: str, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from paytrace_sl.reconcile.report import build_report_data
    from paytrace_sl.sl.own_tables import xPTVaultProfile as v
    from paytrace_sl_airflow.ui_plugin import create_app

    run_customers(config(vault_sandbox, seeded_sl, tmp_path), day_window(DAY, LA), "customers-run-1")
    # one linked customer with open invoices gets a card that expires at the end of this month
    today = dt.date.today()
    engine = create_sl_engine(seeded_sl)
    try:
        with engine.begin() as conn:
            d = catalog.ARDoc.c
            cust = conn.execute(
                sa.select(d.CustId).where(d.OpenDoc == 1, d.Rlsed == 1, d.DocBal > 0).limit(1)
            ).scalar_one()
            cust = str(cust).strip()
            pid = conn.execute(
                sa.select(v.c.paytrace_customer_id).where(v.c.cust_id == cust).limit(1)
            ).scalar_one()
            conn.execute(sa.update(v).where(v.c.cust_id.isnot(None)).values(exp_month=12, exp_year=2099))
            conn.execute(
                sa.update(v)
                .where(v.c.paytrace_customer_id == pid)
                .values(exp_month=today.month, exp_year=today.year)
            )
        data = build_report_data(
            engine, today, today, landing_dir=tmp_path / "landing", now=dt.datetime.now(dt.UTC)
        )
    finally:
        engine.dispose()
    table = data.tables["expiring_cards"]
    assert [row[-1] for row in table.rows] == [pid]
    assert table.rows[0][0] == str(cust).strip() and str(table.rows[0][2]).startswith("x" * 12)
    client = TestClient(create_app(sl_url=seeded_sl, reports_dir=tmp_path / "reports", require_login=False))
    html = client.get("/").text
    assert "id='expiring-cards'" in html and pid in html
    status = client.get("/api/status").json()["status"]
    assert [c["paytrace_customer_id"] for c in status["expiring_cards"]["cards"]] == [pid]


def test_suggester_finds_the_customer_of_a_quoted_invoice(seeded_sl: str) -> None:
    from paytrace_sl.customers.suggest import build_suggester
    from paytrace_sl.suggestion import PayerFacts

    engine = create_sl_engine(seeded_sl)
    try:
        with engine.connect() as conn:
            d = catalog.ARDoc.c
            ref, cust = conn.execute(sa.select(d.RefNbr, d.CustId).where(d.DocType == "IN").limit(1)).one()
        suggester = build_suggester(engine)
        found = suggester.suggest(PayerFacts(name="Someone Unknown", invoice=str(ref).strip()))
    finally:
        engine.dispose()
    assert (found[0].cust_id, found[0].source) == (str(cust).strip(), "invoice")
