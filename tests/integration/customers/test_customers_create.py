"""Creating an SL customer for a vault profile: preflight refusals, class defaults, exactly once.

SL is a SQLite replica from SL's DDL, seeded like the SL sandbox (class RETAIL customers exist)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from paytrace_sl.customers.create import CLASS_COLUMNS, CreatePreflightError, create_customer
from paytrace_sl.customers.profiles import VaultProfile
from paytrace_sl.customers.sync import SyncOptions, sync_profiles
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTCustXref, xPTVaultProfile
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

NOW = dt.datetime(2025, 4, 3, 17, 0, tzinfo=dt.UTC)
PROFILE = VaultProfile(
    customer_id="pt-777001",
    name="Quinn Harbor Marine LLC",
    street="55 River Rd",
    street2="Suite 4",
    city="Tacoma",
    state="WA",
    postal_code="98402",
    country="US",
    email="quinn@harbor.example.com",
    phone="253-555-0199",
    masked_card="xxxxxxxxxxxx4242",
    exp_month=5,
    exp_year=2027,
)


@pytest.fixture
def engine(sl_sqlite_url: str) -> Iterator[sa.Engine]:
    init_sandbox(sl_sqlite_url, MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=2, tx_per_day=10))
    eng = create_sl_engine(sl_sqlite_url)
    yield eng
    eng.dispose()


def test_created_customer_has_profile_data_and_class_defaults(engine: sa.Engine) -> None:
    result = sync_profiles(
        engine, [PROFILE], SyncOptions(create_missing=True, customer_class="RETAIL"), run_id="r1", now=NOW
    )
    assert result.created == ["pt-777001"] and result.not_created == []
    c = catalog.Customer.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(catalog.Customer).where(c.CustId == "PT-777001")).one()
        template = conn.execute(
            sa.select(catalog.Customer).where(c.ClassId == "RETAIL", c.CustId != "PT-777001").limit(1)
        ).one()
        xref = conn.execute(
            sa.select(xPTCustXref).where(xPTCustXref.c.paytrace_customer_id == "pt-777001")
        ).one()
        link = conn.execute(sa.select(xPTVaultProfile.c.cust_id, xPTVaultProfile.c.link_source)).one()
        per = conn.execute(sa.select(catalog.ARSetup.c.PerNbr)).scalar_one()
    assert (row.Name, row.BillName, row.Addr1, row.Addr2, row.City, row.Zip) == (
        "Quinn Harbor Marine LLC", "Quinn Harbor Marine LLC", "55 River Rd", "Suite 4", "Tacoma", "98402",
    )  # fmt: skip
    assert (row.BillAddr1, row.BillPhone, row.EMailAddr) == (
        "55 River Rd",
        "253-555-0199",
        "quinn@harbor.example.com",
    )
    for name in CLASS_COLUMNS:
        assert getattr(row, name) == getattr(template, name), name
    assert row.Status == "A" and row.ClassId == "RETAIL" and row.PerNbr == per
    assert row.Crtd_Prog == "PTSL" and row.Crtd_User == "PAYTRACE"
    assert row.CardNbr.strip() == "" and row.CardType.strip() == ""  # no card data in SL
    assert (xref.cust_id, xref.source) == ("PT-777001", "created")
    assert tuple(link) == ("PT-777001", "created")
    # exactly once: the next run keeps the link and creates nothing
    again = sync_profiles(
        engine, [PROFILE], SyncOptions(create_missing=True, customer_class="RETAIL"), run_id="r2", now=NOW
    )
    assert again.created == [] and again.unchanged == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(c.CustId == "PT-777001")).scalar_one() == 1


@pytest.mark.parametrize(
    ("profile", "class_id", "message"),
    [
        (replace(PROFILE, customer_id="a-customer-id-too-long"), "RETAIL", "not usable as an SL CustId"),
        (replace(PROFILE, customer_id="pt 1"), "RETAIL", "not usable as an SL CustId"),
        (replace(PROFILE, name=""), "RETAIL", "no billing name"),
        (PROFILE, "NOCLS", "has no customer to take its defaults from"),
        (replace(PROFILE, customer_id="CUST00001"), "RETAIL", "already exists"),
    ],
)
def test_preflight_refuses_and_writes_nothing(
    engine: sa.Engine, profile: VaultProfile, class_id: str, message: str
) -> None:
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(catalog.Customer)).scalar_one()
    with pytest.raises(CreatePreflightError, match=message), engine.begin() as conn:
        create_customer(conn, profile, class_id, now=NOW, user="PAYTRACE", program="PTSL")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(catalog.Customer)).scalar_one() == before


def test_inactive_class_account_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ar = conn.execute(
            sa.select(catalog.Customer.c.ArAcct).where(catalog.Customer.c.ClassId == "RETAIL")
        ).scalar()
        conn.execute(sa.update(catalog.Account).where(catalog.Account.c.Acct == ar).values(Active=0))
    result = sync_profiles(
        engine, [PROFILE], SyncOptions(create_missing=True, customer_class="RETAIL"), now=NOW
    )
    assert result.created == [] and "inactive" in result.not_created[0]


def test_profile_gone_from_a_complete_export_is_deactivated_not_deleted(engine: sa.Engine) -> None:
    other = replace(PROFILE, customer_id="PT-2", name="Someone Else", email="", phone="")
    sync_profiles(engine, [PROFILE, other], SyncOptions(), now=NOW)
    partial = sync_profiles(engine, [PROFILE], SyncOptions(), complete=False, now=NOW)
    assert partial.deactivated == 0
    result = sync_profiles(engine, [PROFILE], SyncOptions(), now=NOW)
    assert result.deactivated == 1
    with engine.connect() as conn:
        active = dict(
            conn.execute(sa.select(xPTVaultProfile.c.paytrace_customer_id, xPTVaultProfile.c.active)).all()
        )
    assert active == {"pt-777001": 1, "PT-2": 0}
    back = sync_profiles(engine, [PROFILE, other], SyncOptions(), now=NOW)  # back in the vault
    assert back.changed == 1


def test_created_customer_dates_are_merchant_wall_time(engine: sa.Engine) -> None:
    # 02:30 UTC on 4 April is still 3 April, 19:30, in Los Angeles: SL's zone-less dates are the merchant's
    late = dt.datetime(2025, 4, 4, 2, 30, tzinfo=dt.UTC)
    options = SyncOptions(create_missing=True, customer_class="RETAIL", timezone="America/Los_Angeles")
    assert sync_profiles(engine, [PROFILE], options, now=late).created == ["pt-777001"]
    c = catalog.Customer.c
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(c.SetupDate, c.Crtd_DateTime, c.LUpd_DateTime).where(c.CustId == "PT-777001")
        ).one()
    assert row.SetupDate == dt.datetime(2025, 4, 3)
    assert row.Crtd_DateTime == row.LUpd_DateTime == dt.datetime(2025, 4, 3, 19, 30)
