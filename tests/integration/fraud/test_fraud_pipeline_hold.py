"""The ``score_fraud`` step in the payments flow: the real sandbox (labelled fraud injected) over HTTP, a
seeded PostgreSQL SL sandbox, the whole window run. Alerts are stored and never block posting, except
for the patterns the mapping holds: those wait in review (reason ``fraud_hold``), stay out of SL, keep the
row accounting whole, and post once a person releases the hold."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.fraud import store
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PipelineConfig, run_window
from paytrace_sl.pipeline.steps import PAYMENT_STEP_NAMES
from paytrace_sl.pipeline.windows import Window, day_window
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview
from paytrace_sl_sandbox.fraud_patterns import FraudInjection
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
MERCHANT = MerchantConfig(seed=21, start=dt.date(2025, 4, 1), days=3, tx_per_day=40)
HELD = ("card_testing", "avs_csc_mismatch")


def mapping_holding(tmp_path: Path, patterns: tuple[str, ...]) -> Path:
    text = DEFAULT_MAPPING.read_text()
    assert "  hold: []" in text
    path = tmp_path / "mapping.yaml"
    path.write_text(text.replace("  hold: []", f"  hold: [{', '.join(patterns)}]"))
    return path


def test_alerts_hold_only_the_mapped_patterns_and_release_posts(
    make_sandbox: Callable[[SandboxConfig], SandboxServer], sl_pg_url: str, tmp_path: Path
) -> None:
    server = make_sandbox(SandboxConfig(MERCHANT, fraud=FraudInjection(rate=0.25)))
    labels = server.fraud_labels()
    assert set(labels.values()) >= set(HELD)
    init_sandbox(sl_pg_url, MERCHANT)
    cfg = PipelineConfig(
        sl_url=sl_pg_url,
        paytrace=PayTraceSettings(
            url=server.url,
            username="sandbox",
            password="sandbox-password",
            timezone=LA,
            requests_per_second=0,
        ),
        mapping_path=mapping_holding(tmp_path, HELD),
        landing_dir=tmp_path / "landing",
        gx_dir=tmp_path / "gx",
        lookback=dt.timedelta(0),
    )
    assert "score_fraud" in PAYMENT_STEP_NAMES
    day = dt.date(2025, 4, 2)
    window = Window(day_window(day, LA).start, day_window(day, LA).end, LA)
    summary = run_window(cfg, window, "fraud-1")  # row accounting checked inside: it would raise

    fraud = Landing(cfg.landing_dir, "fraud-1").read_json("score_fraud.json")
    assert fraud["enabled"] and fraud["scored"] == summary["in_window"] and fraud["alerts"] > 0
    engine = sa.create_engine(sl_pg_url)
    try:
        alerts = store.list_alerts(engine, window.start, window.end)
        ids_in_day = {tid for tid in labels if tid in {a["transaction_id"] for a in alerts}}
        assert ids_in_day, "the injected records of the day were alerted"
        held = {a["transaction_id"] for a in alerts if a["held"]}
        not_held = {a["transaction_id"] for a in alerts if not a["held"]}
        assert held and all(set(a["patterns"].split(",")) & set(HELD) for a in alerts if a["held"])
        with engine.connect() as conn:
            reviews = {
                int(tid): reason
                for tid, reason in conn.execute(
                    sa.select(xPTReview.c.transaction_id, xPTReview.c.reason).where(
                        xPTReview.c.reason_code == "fraud_hold"
                    )
                )
            }
            posted = {
                int(t) for t in conn.execute(sa.select(xPTLedger.c.transaction_id)).scalars() if t is not None
            }
        assert set(reviews) == held and not (held & posted)
        assert all(r.startswith("fraud alert (") for r in reviews.values())
        # an alert the mapping does not hold never blocks posting: approved sales among them are posted
        approved_not_held = {
            a["transaction_id"]
            for a in alerts
            if not a["held"] and a["pattern"] in ("velocity_cards", "amount_outlier")
        }
        assert approved_not_held <= posted
        assert summary["review"] >= len(held)
        # the run's transform summary says how many it held
        transform = Landing(cfg.landing_dir, "fraud-1").read_json("transform.json")
        assert transform["fraud_held"] == len(held)

        # a person clears an approved sale's alert: the next run of the window treats it like any sale
        # (this walk-in card matches no SL customer: the shipped mapping sends it to review for that)
        sale = next(
            a["transaction_id"]
            for a in alerts
            if a["held"] and "avs_csc_mismatch" in a["patterns"].split(",")
        )
        assert store.release_hold(engine, sale)
        run_window(cfg, window, "fraud-2")
        outcome = Landing(cfg.landing_dir, "fraud-2").read_json("transform_outcome.json")
        codes = {r["transaction_id"]: r["reason_code"] for r in outcome["review"]}
        assert sale in outcome["posted_ids"] or codes.get(sale) == "unknown_customer", codes.get(sale)
        assert {tid for tid, code in codes.items() if code == "fraud_hold"} == held - {sale}
        fraud2 = Landing(cfg.landing_dir, "fraud-2").read_json("score_fraud.json")
        assert fraud2["alerts_new"] == 0  # the same window again: nothing new to notify
        assert json.dumps(fraud2)  # small JSON summary (XCom)
        assert not_held.isdisjoint(held)
    finally:
        engine.dispose()
