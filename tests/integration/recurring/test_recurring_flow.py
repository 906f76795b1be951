"""Recurring billing end to end: sandbox schedules charge as normal transactions, the refresh mirrors the
schedules (linked to SL customers) and their approved payments, upcoming and failed charges read back,
and a recurring charge is posted once even though both the transaction export and the recurrence export
list it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.client import PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.recurring import recurring_overview, refresh_recurring
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PipelineConfig, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTCustXref, xPTDeadLetter, xPTLedger, xPTRecurPay, xPTRecurSched
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
TZ = ZoneInfo(LA)
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=30)


def _settings(url: str) -> PayTraceSettings:
    return PayTraceSettings(
        url=url, username="sandbox", password="sandbox-password", timezone=LA, requests_per_second=0
    )


def _setup(make_sandbox: Any, sl_url: str) -> tuple[SandboxServer, PayTraceClient, dict[str, Any]]:
    clear_token_cache()
    init_sandbox(sl_url, MERCHANT)
    server: SandboxServer = make_sandbox(
        SandboxConfig(MERCHANT, clock=dt.datetime(2025, 4, 1, 0, 30, tzinfo=TZ))
    )
    customers = server.sim.customers()
    exact = next(c for c in customers if c.sl_cust_id == c.customer_id)
    xref = next(c for c in customers if c.sl_cust_id != c.customer_id)
    other = next(c for c in customers if c.sl_cust_id == c.customer_id and c is not exact)
    client = PayTraceClient(_settings(server.url))
    ids: dict[str, Any] = {}
    for name, cust, amount, freq, start, total in (
        ("monthly", exact, "49.95", "monthly", "04/02/2025", 0),
        ("weekly", xref, "10.00", "weekly", "04/01/2025", 2),
        ("declined", other, "0.29", "monthly", "04/02/2025", 0),
    ):
        answer = client.call(
            "/v1/recurrence/create",
            {
                "customer_id": cust.customer_id,
                "amount": amount,
                "frequency": freq,
                "start_date": start,
                "total_count": total,
                "description": f"{name} plan",
            },
        )
        ids[name] = int(answer["recurrence_id"])
    ids["customers"] = {"exact": exact, "xref": xref, "other": other}
    return server, client, ids


def test_refresh_links_customers_and_shows_upcoming_and_failed(make_sandbox: Any, sl_sqlite_url: str) -> None:
    server, client, ids = _setup(make_sandbox, sl_sqlite_url)
    server.set_clock(dt.datetime(2025, 4, 3, 12, 0, tzinfo=TZ))
    engine = create_sl_engine(sl_sqlite_url)
    try:
        result = refresh_recurring(client, engine, TZ, run_id="r1")
        assert result.schedules == 3 and result.unlinked == 0 and result.dead_letters == 0
        assert result.payments_new == 2  # monthly on 4/2 and weekly on 4/1; the 0.29 charge declined
        with engine.connect() as conn:
            rows = {r.recurrence_id: r for r in conn.execute(sa.select(xPTRecurSched))}
            cust = ids["customers"]
            assert rows[ids["monthly"]].cust_id == cust["exact"].customer_id
            assert rows[ids["monthly"]].link_source == "exact"
            assert rows[ids["weekly"]].cust_id == cust["xref"].sl_cust_id
            assert rows[ids["weekly"]].link_source == "xref"
            assert rows[ids["declined"]].last_failed == 1
            assert all(set(r.card_masked[:-4]) <= {"x", "*"} for r in rows.values())
            view = recurring_overview(conn, dt.date(2025, 4, 3), 14)
        assert view is not None
        assert [c.recurrence_id for c in view.upcoming] == [ids["weekly"]]  # 4/8, second and last charge
        assert view.upcoming[0].next_date == dt.date(2025, 4, 8)
        assert [c.recurrence_id for c in view.failed] == [ids["declined"]]
        assert "EXPIRED CARD" in view.failed[0].last_message.upper()

        # an unlinked schedule: the cross-reference is withdrawn
        with engine.begin() as conn:
            conn.execute(sa.update(xPTCustXref).values(active=0))
        again = refresh_recurring(client, engine, TZ, run_id="r2")
        assert again.unlinked == 1 and again.payments_new == 0 and again.payments_known == 2
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(xPTRecurSched).where(xPTRecurSched.c.recurrence_id == ids["weekly"])
            ).one()
            assert row.cust_id is None and row.link_source == "unlinked"
            assert recurring_overview(conn, dt.date(2025, 4, 3)).unlinked == 1  # type: ignore[union-attr]

        # after the second weekly charge the schedule is completed and no longer upcoming
        server.set_clock(dt.datetime(2025, 4, 9, 12, 0, tzinfo=TZ))
        refresh_recurring(client, engine, TZ)
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(xPTRecurSched).where(xPTRecurSched.c.recurrence_id == ids["weekly"])
            ).one()
            assert row.status == "completed" and row.next_date is None and row.current_count == 2
    finally:
        client.close()
        engine.dispose()


def test_recurring_charge_is_posted_once(make_sandbox: Any, sl_sqlite_url: str, tmp_path: Path) -> None:
    server, client, ids = _setup(make_sandbox, sl_sqlite_url)
    server.set_clock(dt.datetime(2025, 4, 3, 12, 0, tzinfo=TZ))
    engine = create_sl_engine(sl_sqlite_url)
    cfg = PipelineConfig(
        sl_url=sl_sqlite_url,
        paytrace=_settings(server.url),
        mapping_path=DEFAULT_MAPPING,
        landing_dir=tmp_path / "landing",
        gx_dir=tmp_path / "gx",
        lookback=dt.timedelta(0),
    )
    try:
        refresh_recurring(client, engine, TZ)
        with engine.connect() as conn:
            charge = conn.execute(
                sa.select(xPTRecurPay).where(xPTRecurPay.c.recurrence_id == ids["monthly"])
            ).one()
        # the charge is a normal transaction of 4/2: the day's export lists it
        day = dt.date(2025, 4, 2)
        listed = [t.transaction_id for t in client.export_transactions(day, day + dt.timedelta(days=1))]
        assert listed.count(charge.transaction_id) == 1
        for run in ("first", "again"):
            run_window(cfg, day_window(day, LA), f"recur-{run}")
            refresh_recurring(client, engine, TZ)  # the recurrence export lists it too: never posts
        with engine.connect() as conn:
            postings = conn.execute(
                sa.select(xPTLedger.c.kind, xPTLedger.c.amount).where(
                    xPTLedger.c.transaction_id == charge.transaction_id
                )
            ).all()
            pays = conn.execute(
                sa.select(sa.func.count())
                .select_from(xPTRecurPay)
                .where(xPTRecurPay.c.transaction_id == charge.transaction_id)
            ).scalar_one()
        assert [(k, str(a)) for k, a in postings] == [("payment", "49.95")]
        assert pays == 1
    finally:
        client.close()
        engine.dispose()


class _Broken:
    """A recurrence source answering records that fail strict parsing."""

    def export_recurrences_raw(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        good = {
            "recurrence_id": 7001,
            "customer_id": "C1",
            "amount": "12.50",
            "frequency": "Monthly",
            "status": "Active",
            "start_date": "4/2/2025",
            "next_date": "05/02/2025",
            "credit_card": {"masked_number": "************1111"},
        }
        pan = dict(good, recurrence_id=7002, credit_card={"masked_number": "4111111111111111"})
        odd = dict(good, recurrence_id=7003, frequency="fortnightly")
        return [good, pan, odd]

    def export_recurring_approved_raw(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        return [
            {
                "recurrence_id": 7001,
                "transaction_id": 9001,
                "amount": "12.5x",
                "customer_id": "C1",
                "created": {"at": "4/2/2025 6:00:00 AM"},
            }
        ]


def test_bad_records_are_dead_letters_once(sl_sqlite_url: str) -> None:
    init_sandbox(sl_sqlite_url, MERCHANT)
    engine = create_sl_engine(sl_sqlite_url)
    try:
        first = refresh_recurring(_Broken(), engine, TZ)
        second = refresh_recurring(_Broken(), engine, TZ)
        assert first.schedules == 1 and first.unlinked == 1 and first.dead_letters == 3
        assert second.dead_letters == 0  # the same bad records are not stored again
        with engine.connect() as conn:
            letters = conn.execute(
                sa.select(xPTDeadLetter.c.source, xPTDeadLetter.c.reason, xPTDeadLetter.c.payload)
            ).all()
        assert len(letters) == 3
        reasons = " | ".join(r.reason for r in letters)
        assert "credit_card.masked_number" in reasons and "frequency" in reasons and "amount" in reasons
        assert {r.source for r in letters} == {"paytrace-recurrence", "paytrace-recurring-payment"}
        for r in letters:
            assert "4111111111111111" not in r.reason + r.payload
        assert any("recurrence 7002" in r.payload for r in letters)
    finally:
        engine.dispose()
