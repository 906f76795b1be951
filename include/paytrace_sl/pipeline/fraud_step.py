"""The ``score_fraud`` step of the payments flow (after validate, before transform): a thin adapter.

All logic lives in :mod:`paytrace_sl.fraud`; this reads the validated records of the run's landing
folder, scores the window, stores the alerts, notifies (threshold per channel) and writes the small
summary (``score_fraud.json``; XCom). Alerts never fail the run; a pattern listed in the mapping's
``fraud.hold`` keeps its transactions out of SL (:func:`fraud_holds`, called by the transform step).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.windows import Window

if TYPE_CHECKING:
    from paytrace_sl.pipeline.runner import PipelineConfig

log = logging.getLogger(__name__)

STEP = "score_fraud"
VALIDATED_FILE = "validated.jsonl"  # = runner.VALIDATED_FILE
HOLD_REASON_CODE = "fraud_hold"


def fraud_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Score every validated transaction of ``window``; alerts to ``xPTFraudAlert`` and the notifiers."""
    from paytrace_sl.fraud.alerts import notify_alerts
    from paytrace_sl.fraud.features import build_frame_from_rows
    from paytrace_sl.fraud.score import score_window
    from paytrace_sl.pipeline.mapping import load_mapping
    from paytrace_sl.sl.engine import create_sl_engine
    from paytrace_sl.sl.own_tables import install

    landing = Landing(cfg.landing_dir, run_id)
    fraud = load_mapping(cfg.mapping_path).fraud
    if not fraud.enabled:
        summary: dict[str, Any] = {"enabled": False, "scored": 0, "alerts": 0}
    else:
        frame = build_frame_from_rows(landing.read_jsonl(VALIDATED_FILE))
        engine = create_sl_engine(cfg.sl_url)
        try:
            install(engine)
            result = score_window(engine, frame, window.start, window.end, fraud, run_id=run_id)
        finally:
            engine.dispose()
        summary = {"enabled": True, **result.summary()}
        summary["notified"] = (
            notify_alerts(
                cfg.notify, fraud.notify_min_score, result.new_alerts, run_id=run_id, window=window.label
            )
            if result.new_alerts
            else {}
        )
    landing.write_json(f"{STEP}.json", summary)
    log.info("%s: %s", STEP, json.dumps(summary, sort_keys=True, default=str))
    return summary


def fraud_holds(engine: sa.Engine, transactions: Iterable[Transaction]) -> dict[int, dict[str, Any]]:
    """The transactions an alert holds (mapping ``fraud.hold``), as review items for the transform outcome
    (``transaction_id``, ``reason_code`` ``fraud_hold``, the alert as ``reason``)."""
    from paytrace_sl.fraud.store import held_transactions

    state = {t.transaction_id: t.status.value for t in transactions}
    held = held_transactions(engine, state)
    return {
        tid: {
            "transaction_id": tid,
            "reason_code": HOLD_REASON_CODE,
            "reason": text,
            "paytrace_state": state[tid],
        }
        for tid, text in sorted(held.items())
    }
