"""init-sandbox on PostgreSQL and SQLite, then check-schema clean and SL setup loaded from the seeded rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.plan import Account
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import SCHEMA_VERSION, xPTCustXref
from paytrace_sl.sl.schema_check import check_schema
from paytrace_sl.sl.setup import SLSetupError, load_sl_setup
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation
from paytrace_sl_sandbox.sl_seed import SANDBOX_MARKER, SandboxSeedError, SandboxSLConfig, init_sandbox

pytestmark = pytest.mark.integration

MERCHANT = MerchantConfig(seed=11, start=dt.date(2025, 4, 1), days=3, tx_per_day=40, customers=20)


def _exec(url: str, *statements: str) -> None:
    engine = create_sl_engine(url)
    try:
        with engine.begin() as conn:
            for stmt in statements:
                conn.exec_driver_sql(stmt)
    finally:
        engine.dispose()


def _setup(url: str, cpny_id: str | None = None):  # type: ignore[no-untyped-def]
    engine = create_sl_engine(url)
    try:
        with engine.connect() as conn:
            return load_sl_setup(conn, cpny_id)
    finally:
        engine.dispose()


@pytest.fixture
def sandbox_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    init_sandbox(url, MERCHANT)
    return url


def test_init_sandbox_then_check_schema_is_clean(empty_url: str) -> None:
    if "postgres@" in empty_url:  # trust auth ignores the password; the summary must not repeat it
        empty_url = empty_url.replace("postgres@", "postgres:s3cr3t-pw@")
    summary = init_sandbox(empty_url, MERCHANT)
    sim = MerchantSimulation(MERCHANT)
    invoices = list(sim.invoices())
    assert summary.created_sl_tables and summary.install.to_version == SCHEMA_VERSION
    assert summary.invoices == len({i.ref_nbr for i in invoices}) and summary.invoices > 0
    assert summary.customers == len({c.sl_cust_id for c in sim.customers()})
    assert summary.cust_xrefs == MERCHANT.customers
    assert summary.sales_orders == len(list(sim.sales_orders()))
    assert "s3cr3t-pw" not in summary.url

    engine = create_sl_engine(empty_url)
    try:
        assert check_schema(engine) == []
        with engine.connect() as conn:
            d = catalog.ARDoc
            docs = conn.execute(
                sa.select(
                    d.c.RefNbr,
                    d.c.CustId,
                    d.c.DocType,
                    d.c.Rlsed,
                    d.c.OpenDoc,
                    d.c.DocBal,
                    d.c.OrigDocAmt,
                    d.c.BankAcct,
                    d.c.BatNbr,
                )
            ).all()
            by_ref = {r.RefNbr.rstrip(): r for r in docs}
            for inv in invoices:
                row = by_ref[inv.ref_nbr]
                assert (row.CustId.rstrip(), row.DocType, row.Rlsed, row.OpenDoc) == (inv.cust_id, "IN", 1, 1)
                assert Decimal(str(row.DocBal)) == inv.amount == Decimal(str(row.OrigDocAmt))
                assert row.BankAcct.rstrip() == "1200"  # invoices: BankAcct = A/R account
            b = catalog.Batch
            batches = conn.execute(sa.select(b.c.BatNbr, b.c.Status, b.c.Rlsed, b.c.CtrlTot)).all()
            total = sum(float(r.DocBal) for r in docs)
            assert sum(r.CtrlTot for r in batches) == pytest.approx(total)
            assert all(r.Status == "U" and r.Rlsed == 1 for r in batches)
            assert all(int(r.BatNbr) < 100 for r in batches)  # below ARSetup.LastBatNbr '000100'
            t = catalog.ARTran
            assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == len(docs)
            assert conn.execute(sa.select(sa.func.min(t.c.RecordID))).scalar_one() >= 1
            xref = dict(
                conn.execute(sa.select(xPTCustXref.c.paytrace_customer_id, xPTCustXref.c.cust_id)).all()
            )
            assert xref == {c.customer_id: c.sl_cust_id for c in sim.customers()}
            so = conn.execute(sa.select(catalog.SOHeader.c.OrdNbr)).scalars().all()
            assert {s.rstrip() for s in so} == {o.ord_nbr for o in sim.sales_orders()}
    finally:
        engine.dispose()

    setup = _setup(empty_url)
    assert setup.cpny_id == "PTDEMO" and setup.base_cury_id == "USD" and setup.ledger_id == "ACTUAL"
    assert setup.ar_per_nbr == setup.gl_per_nbr == "202504"
    assert setup.ar_account == Account("1200", "000000")
    assert setup.checking_account == Account("1010", "000000")
    assert setup.refund_account == Account("2150", "000000")
    assert setup.ar_last_bat_nbr == "000100" and setup.gl_last_bat_nbr == "000100"
    assert setup.cury_dec_pl == 2 and setup.ar_auto_ref
    assert setup.period_for(dt.date(2025, 4, 15)) == "202504"


def test_reseed_needs_force_and_a_sandbox_marker(sandbox_sqlite: str) -> None:
    with pytest.raises(SandboxSeedError, match="--force"):
        init_sandbox(sandbox_sqlite, MERCHANT)
    again = init_sandbox(sandbox_sqlite, MERCHANT, force=True)
    assert not again.created_sl_tables and again.invoices > 0
    _exec(sandbox_sqlite, f"DROP TABLE {SANDBOX_MARKER}")
    with pytest.raises(SandboxSeedError, match="not marked as a sandbox"):
        init_sandbox(sandbox_sqlite, MERCHANT, force=True)


def test_refuses_sql_server_and_a_real_looking_database(sl_sqlite_url: str) -> None:
    with pytest.raises(SandboxSeedError, match="mssql"):
        init_sandbox("mssql+pyodbc://user:pw@NOSUCHDSN", MERCHANT)
    row = catalog.blank_row(catalog.Customer)
    row["CustId"] = "REAL001"
    engine = create_sl_engine(sl_sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(catalog.Customer), [row])
    engine.dispose()
    with pytest.raises(SandboxSeedError, match="not marked as a sandbox"):
        init_sandbox(sl_sqlite_url, MERCHANT, force=True)


def test_seeds_an_existing_empty_replica_and_a_july_june_year(sl_sqlite_url: str) -> None:
    summary = init_sandbox(sl_sqlite_url, MERCHANT, sl_config=SandboxSLConfig(fiscal_first_month=7))
    assert not summary.created_sl_tables
    assert summary.per_nbr == "202510"  # April 2025 is period 10 of FY2025 (July 2024 – June 2025)
    setup = _setup(sl_sqlite_url)
    assert setup.fiscal.period_for(dt.date(2025, 7, 1)) == "202601"


def test_missing_setup_row_is_named(sandbox_sqlite: str) -> None:
    _exec(sandbox_sqlite, "DELETE FROM GLSetup")
    with pytest.raises(SLSetupError, match="GLSetup SetupId='GL' is missing"):
        _setup(sandbox_sqlite)


def test_blank_required_value_is_named(sandbox_sqlite: str) -> None:
    _exec(sandbox_sqlite, "UPDATE ARSetup SET ArAcct = ' '")
    with pytest.raises(SLSetupError, match=r"ARSetup\.ArAcct is blank"):
        _setup(sandbox_sqlite)


def test_optional_columns_and_currency_default(sandbox_sqlite: str) -> None:
    _exec(sandbox_sqlite, "ALTER TABLE ARSetup DROP COLUMN RfndAcct", "DELETE FROM Currncy")
    setup = _setup(sandbox_sqlite)
    assert setup.refund_account is None and setup.cury_dec_pl == 2
    _exec(sandbox_sqlite, "ALTER TABLE GLSetup DROP COLUMN LedgerID")
    with pytest.raises(SLSetupError, match="GLSetup lacks column"):
        _setup(sandbox_sqlite)


def test_company_must_be_known_and_active(sandbox_sqlite: str) -> None:
    with pytest.raises(SLSetupError, match="'OTHER' is not in vs_Company"):
        _setup(sandbox_sqlite, "OTHER")
    _exec(sandbox_sqlite, "UPDATE vs_Company SET Active = 0")
    with pytest.raises(SLSetupError, match="inactive"):
        _setup(sandbox_sqlite)


def test_invalid_fiscal_calendar_is_named(sandbox_sqlite: str) -> None:
    _exec(sandbox_sqlite, "UPDATE GLSetup SET FiscalPerEnd03 = '0431'")
    with pytest.raises(SLSetupError, match="FiscalPerEnd03"):
        _setup(sandbox_sqlite)


def test_sandbox_has_sls_documented_secondary_indexes(empty_url: str) -> None:
    from paytrace_sl_sandbox.sl_seed import SL_SECONDARY_INDEXES

    init_sandbox(empty_url, MERCHANT)
    engine = create_sl_engine(empty_url)
    try:
        inspector = sa.inspect(engine)
        for name, table, columns in SL_SECONDARY_INDEXES:
            found = {ix["name"].lower(): ix for ix in inspector.get_indexes(table.lower())}
            assert name.lower() in found, f"{table} lacks SL's index {name}"
            assert [c.lower() for c in found[name.lower()]["column_names"]] == [c.lower() for c in columns]
    finally:
        engine.dispose()
