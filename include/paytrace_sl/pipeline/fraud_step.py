"""The ``score_fraud`` step of the payments flow (after validate, before transform): a thin adapter.

All logic lives in :mod:`paytrace_sl.fraud`; this reads the validated records of the run's landing
folder, scores the window, stores the alerts, notifies (threshold per channel) and writes the small
summary (``score_fraud.json``; XCom). Alerts never fail the run; a pattern listed in the mapping's
``fraud.hold`` keeps its transactions out of SL (:func:`fraud_holds`, called by the transform step).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.pipeline.context import RunContext, Step, as_step
from paytrace_sl.pipeline.files import VALIDATED_FILE
from paytrace_sl.pipeline.summaries import FraudSummary

STEP = FraudSummary.STEP
HOLD_REASON_CODE = "fraud_hold"


def score_fraud(ctx: RunContext) -> FraudSummary:
    """Score every validated transaction of the window; alerts to ``xPTFraudAlert`` and the notifiers."""
    from paytrace_sl.fraud.alerts import notify_alerts
    from paytrace_sl.fraud.features import build_frame_from_rows
    from paytrace_sl.fraud.score import score_window

    fraud = ctx.mapping.fraud
    window = ctx.window
    if not fraud.enabled:
        summary = FraudSummary(
            enabled=False,
            scored=0,
            alerts=0,
            alerts_new=0,
            held=0,
            by_pattern={},
            model_version=None,
            model_fitted=None,
            history_added=0,
            seconds={},
            notified={},
        )
    else:
        frame = build_frame_from_rows(ctx.landing.read_jsonl(VALIDATED_FILE))
        result = score_window(ctx.sl, frame, window.start, window.end, fraud, run_id=ctx.run_id)
        notified = (
            notify_alerts(
                ctx.cfg.notify,
                fraud.notify_min_score,
                result.new_alerts,
                run_id=ctx.run_id,
                window=window.label,
            )
            if result.new_alerts
            else {}
        )
        summary = FraudSummary(enabled=True, **result.summary(), notified=notified)
    return ctx.write_summary(summary)


fraud_step: Step = as_step(score_fraud)


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
