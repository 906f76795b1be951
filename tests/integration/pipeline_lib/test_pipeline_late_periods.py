"""A whole run over days SL has already closed: refused into review (accounted), or moved to the current
period with the documents' own dates — the same pipeline the DAGs and ``paytrace-sl sync`` run."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PipelineConfig, replay, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
DAY = dt.date(2025, 4, 2)  # period 202504 of the sandbox's calendar fiscal year


def _config(sandbox: SandboxServer, sl_url: str, root: Path, mapping: Path) -> PipelineConfig:
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
        lookback=dt.timedelta(0),
    )


def test_closed_period_refused_then_posted_in_the_current_period(
    paytrace_sandbox: SandboxServer, sl_sqlite_url: str, tmp_path: Path
) -> None:
    init_sandbox(sl_sqlite_url, MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60))
    engine = create_sl_engine(sl_sqlite_url)
    with engine.begin() as conn:  # SL has moved on: April is closed, May is current
        conn.execute(sa.update(catalog.ARSetup).values(PerNbr="202505"))
        conn.execute(sa.update(catalog.GLSetup).values(PerNbr="202505", LastClosePerNbr="202504"))
    refuse = tmp_path / "mapping-refuse.yaml"
    text = DEFAULT_MAPPING.read_text()
    assert text.count("  late_items: current") == 1
    refuse.write_text(text.replace("  late_items: current", "  late_items: refuse"))
    window = day_window(DAY, LA)

    first = run_window(_config(paytrace_sandbox, sl_sqlite_url, tmp_path / "a", refuse), window, "refuse-1")
    closed = (
        sa.select(sa.func.count()).select_from(xPTReview).where(xPTReview.c.reason_code == "closed_period")
    )
    with engine.connect() as conn:
        refused = conn.execute(closed).scalar_one()
        assert conn.execute(sa.select(sa.func.count()).select_from(xPTLedger)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(catalog.ARDoc).where(
            catalog.ARDoc.c.Crtd_Prog == "PTSL")).scalar_one() == 0  # fmt: skip
    # Row accounting holds (run_window checks it) with the refused items counted as review, not posted.
    assert refused > 0 and first["posted"] == 0 and first["review"] >= refused
    assert first["review_new"] >= refused

    again = run_window(_config(paytrace_sandbox, sl_sqlite_url, tmp_path / "b", refuse), window, "refuse-2")
    with engine.connect() as conn:
        assert conn.execute(closed).scalar_one() == refused  # no second open item per transaction
    assert again["posted"] == 0 and again["review_new"] == 0

    # The controller chooses to post late items in the current period; replay re-runs the day. Each
    # refused item's document is posted, and its review item is closed by that replay (who and when).
    cfg = _config(paytrace_sandbox, sl_sqlite_url, tmp_path / "c", DEFAULT_MAPPING)
    moved = replay(cfg, "replay-1", start=DAY, end=DAY + dt.timedelta(days=1))
    assert moved["posted"] == refused and moved["reviews_closed"] == refused
    with engine.connect() as conn:
        items = conn.execute(
            sa.select(xPTReview.c.resolved_by, xPTReview.c.resolution, xPTReview.c.resolved_at).where(
                xPTReview.c.reason_code == "closed_period"
            )
        ).all()
        still_open = conn.execute(
            sa.select(xPTReview.c.transaction_id, xPTReview.c.run_id).where(xPTReview.c.resolved_at.is_(None))
        ).all()
        posted_ids = set(
            conn.execute(
                sa.select(xPTLedger.c.transaction_id).where(xPTLedger.c.status == "posted")
            ).scalars()
        )
    assert len(items) == refused and all(i.resolved_at is not None for i in items)
    assert {i.resolved_by for i in items} == {"replay-1"}
    assert all(
        re.match(r"posted by replay replay-1: (payment PA|refund CM) \w+ in batch \d+$", i.resolution)
        for i in items
    )
    # Items whose transaction is still not posted (e.g. an unmatched customer) stay open: open work only.
    # (and a note the replay itself wrote next to a document it posted, e.g. an unapplied receipt).
    assert still_open and all(t not in posted_ids or r.startswith("replay-1") for t, r in still_open)
    d = catalog.ARDoc
    with engine.connect() as conn:
        docs = conn.execute(
            sa.select(d.c.PerPost, d.c.PerEnt, d.c.DocDate).where(d.c.Crtd_Prog == "PTSL")
        ).all()
    assert docs and {(p.strip(), e.strip()) for p, e, _ in docs} == {("202505", "202505")}
    assert {day.date() for _, _, day in docs} <= {DAY, DAY - dt.timedelta(days=1)}  # own dates kept
    engine.dispose()
