"""An empty settlement batch (net 0, no transactions) is noted and skipped; the batches after it settle.

PayTrace is a stand-in serving the sandbox merchant's real settled batch of 2025-04-02 plus an empty
batch with a lower number (so it is planned first), over real HTTP; SL is the SQLite sandbox of the same
merchant. The whole settlement run (extract → transform → load → reconcile → summarize) is the one the
DAG and ``paytrace-sl sync`` run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hostile_paytrace import HostilePayTrace

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PipelineConfig, run_settlements
from paytrace_sl.pipeline.windows import Window, day_window
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTLedger, xPTRecon, xPTReview
from paytrace_sl_sandbox import shapes
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation, summarize_batch
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
DAY = dt.date(2025, 4, 2)
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=3, tx_per_day=30)


def test_empty_batch_is_noted_and_later_deposits_are_written(sl_sqlite_url: str, tmp_path: Path) -> None:
    init_sandbox(sl_sqlite_url, MERCHANT)
    sim = MerchantSimulation(MERCHANT)
    real = sim.settled_batch(DAY)
    number = int(real[shapes.BATCH_FIELDS["number"]])
    empty_number = number - 500
    empty = summarize_batch(empty_number, real[shapes.BATCH_FIELDS["created"]], [])
    assert empty[shapes.BATCH_FIELDS["net_amount"]] in (0, "0.00", 0.0) and empty["transaction_count"] == 0
    with HostilePayTrace() as paytrace:
        paytrace.batches = [empty, real]
        paytrace.batch_transactions = {
            empty_number: [],
            number: [json.loads(r.to_json()) for r in sim.batch_rows(DAY)],
        }
        cfg = PipelineConfig(
            sl_url=sl_sqlite_url,
            paytrace=PayTraceSettings(
                url=paytrace.url, username="u", password="p", timezone=LA, requests_per_second=0
            ),
            mapping_path=DEFAULT_MAPPING,
            landing_dir=tmp_path / "landing",
            gx_dir=tmp_path / "gx",
            lookback=dt.timedelta(0),
        )
        summary = run_settlements(cfg, day_window(DAY, LA), "settle-1")
        again = run_settlements(cfg, day_window(DAY, LA), "settle-2")

    assert summary["settlement_batches"] == 2 and summary["empty_batches"] == 1
    assert again["empty_batches"] == 1 and again["settlement_entries_posted"] == 0
    engine = create_sl_engine(sl_sqlite_url)
    with engine.connect() as conn:
        recon = {
            int(r.batch_number): (r.status, json.loads(r.explanation))
            for r in conn.execute(
                sa.select(xPTRecon.c.batch_number, xPTRecon.c.status, xPTRecon.c.explanation)
            )
        }
        ledger = conn.execute(
            sa.select(xPTLedger.c.ledger_key, xPTLedger.c.bat_nbr).where(xPTLedger.c.kind == "settlement")
        ).all()
        gl_batches = conn.execute(
            sa.select(sa.func.count()).select_from(catalog.Batch).where(catalog.Batch.c.Module == "GL")
        ).scalar_one()
    engine.dispose()
    # The empty batch: reconciled (nothing to deposit), with a note; nothing written to SL or the ledger.
    status, explanation = recon[empty_number]
    assert status == "matched" and "empty settlement batch" in explanation["note"]
    assert all(f":{empty_number}:" not in key for key, _ in ledger)
    # The batch after it: its deposit entry is written (one GL batch), exactly once.
    assert [key for key, _ in ledger] == [f"paytrace-batch:{number}:settlement"] and ledger[0][1].strip()
    assert gl_batches == 1
    assert recon[number][0] in ("matched", "difference") and recon[number][1]["note"] == ""


def test_a_settlement_batch_that_cannot_be_written_does_not_hold_up_the_next(
    sl_sqlite_url: str, tmp_path: Path
) -> None:
    """April's deposit cannot be written (SL closed April and left it current), May's still is."""
    merchant = MerchantConfig(seed=7, start=dt.date(2025, 4, 30), days=2, tx_per_day=10)
    init_sandbox(sl_sqlite_url, merchant)
    engine = create_sl_engine(sl_sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.update(catalog.GLSetup).values(PerNbr="202504", LastClosePerNbr="202504"))
    sim = MerchantSimulation(merchant)
    days = (dt.date(2025, 4, 30), dt.date(2025, 5, 1))
    numbers = [int(sim.settled_batch(d)[shapes.BATCH_FIELDS["number"]]) for d in days]
    with HostilePayTrace() as paytrace:
        paytrace.batches = [sim.settled_batch(d) for d in days]
        paytrace.batch_transactions = {
            n: [json.loads(r.to_json()) for r in sim.batch_rows(d)]
            for n, d in zip(numbers, days, strict=True)
        }
        cfg = PipelineConfig(
            sl_url=sl_sqlite_url,
            paytrace=PayTraceSettings(
                url=paytrace.url, username="u", password="p", timezone=LA, requests_per_second=0
            ),
            mapping_path=DEFAULT_MAPPING,
            landing_dir=tmp_path / "landing",
            gx_dir=tmp_path / "gx",
            lookback=dt.timedelta(0),
        )
        window = Window(day_window(days[0], LA).start, day_window(days[1], LA).end, LA)
        summary = run_settlements(cfg, window, "settle-closed")
    with engine.connect() as conn:
        ledger = [
            r[0]
            for r in conn.execute(sa.select(xPTLedger.c.ledger_key).where(xPTLedger.c.kind == "settlement"))
        ]
        reviews = conn.execute(
            sa.select(xPTReview.c.reason_code, xPTReview.c.reason).where(xPTReview.c.resolved_at.is_(None))
        ).all()
    engine.dispose()
    assert ledger == [f"paytrace-batch:{numbers[1]}:settlement"]  # May's deposit, after April's failure
    # (the payments were never synced here, so the settlement run's backstop also tried to post them:
    # April's cannot be written either and wait in review as backstop_not_posted)
    deposits = [(code, reason) for code, reason in reviews if code == "settlement_not_written"]
    assert [(code, str(numbers[0]) in reason) for code, reason in deposits] == [
        ("settlement_not_written", True)
    ]
    assert "closed" in deposits[0][1] and summary["review"] >= 1
    assert any(code == "backstop_not_posted" and "closed" in reason for code, reason in reviews)


def test_refused_late_deposit_counts_as_review(sl_sqlite_url: str, tmp_path: Path) -> None:
    """late_items: refuse — April's deposit (closed) waits in review, counted; May's is written."""
    merchant = MerchantConfig(seed=7, start=dt.date(2025, 4, 30), days=2, tx_per_day=10)
    init_sandbox(sl_sqlite_url, merchant)
    engine = create_sl_engine(sl_sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.update(catalog.GLSetup).values(PerNbr="202505", LastClosePerNbr="202504"))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(DEFAULT_MAPPING.read_text().replace("  late_items: current", "  late_items: refuse"))
    sim = MerchantSimulation(merchant)
    days = (dt.date(2025, 4, 30), dt.date(2025, 5, 1))
    numbers = [int(sim.settled_batch(d)[shapes.BATCH_FIELDS["number"]]) for d in days]
    with HostilePayTrace() as paytrace:
        paytrace.batches = [sim.settled_batch(d) for d in days]
        paytrace.batch_transactions = {
            n: [json.loads(r.to_json()) for r in sim.batch_rows(d)]
            for n, d in zip(numbers, days, strict=True)
        }
        cfg = PipelineConfig(
            sl_url=sl_sqlite_url,
            paytrace=PayTraceSettings(
                url=paytrace.url, username="u", password="p", timezone=LA, requests_per_second=0
            ),
            mapping_path=mapping,
            landing_dir=tmp_path / "landing",
            gx_dir=tmp_path / "gx",
            lookback=dt.timedelta(0),
        )
        window = Window(day_window(days[0], LA).start, day_window(days[1], LA).end, LA)
        summary = run_settlements(cfg, window, "settle-refuse")
    with engine.connect() as conn:
        ledger = [
            r[0]
            for r in conn.execute(sa.select(xPTLedger.c.ledger_key).where(xPTLedger.c.kind == "settlement"))
        ]
        reviews = conn.execute(sa.select(xPTReview.c.ledger_key, xPTReview.c.reason_code)).all()
    engine.dispose()
    assert ledger == [f"paytrace-batch:{numbers[1]}:settlement"]
    # deposits only (the backstop's refused April payments are review items of their own)
    deposits = [tuple(r) for r in reviews if str(r[0]).startswith("paytrace-batch:")]
    assert deposits == [(f"paytrace-batch:{numbers[0]}:settlement", "closed_period")]
    assert summary["review"] >= 1 and summary["settlement_entries_posted"] == 1
