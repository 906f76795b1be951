"""Score one window: every transaction created in it gets the rules and the model; alerts are stored.

Order (docs/fraud.md): frame (window + look-back, context only) → context from our tables → rules and
features → model (latest version; the first run fits version 1 on the window itself) → alerts for the
window's rows (a rule alert scores 1.0 and names its patterns; a model alert scores 0.5–1 and names the
features that drove it) → history and profiles advance → a new model version when the current one is
older than ``model_refit_hours`` of data.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from paytrace_sl.fraud import model as fraud_model
from paytrace_sl.fraud import store
from paytrace_sl.fraud.config import RULE_PATTERNS, FraudConfig
from paytrace_sl.fraud.features import build_frame, is_refund
from paytrace_sl.fraud.rules import evaluate
from paytrace_sl.paytrace.records import Transaction

MIN_COLD_FIT = 200  # rows needed to fit the first model version on a window


@dataclass
class ScoreResult:
    """The window's alerts (all, and those new in our table) and what it cost."""

    scored: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    new_alerts: list[Any] = field(default_factory=list)
    model_version: int | None = None
    model_fitted: int | None = None  # version fitted by this run, if any
    history_added: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        by_pattern = Counter(p for a in self.alerts for p in a["patterns"])
        return {
            "scored": self.scored,
            "alerts": len(self.alerts),
            "alerts_new": len(self.new_alerts),
            "held": sum(1 for a in self.alerts if a["held"]),
            "by_pattern": dict(sorted(by_pattern.items())),
            "model_version": self.model_version,
            "model_fitted": self.model_fitted,
            "history_added": self.history_added,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def _fitted_from(row: dict[str, Any], cfg: FraudConfig) -> fraud_model.FittedModel:
    return fraud_model.fit(
        row["sample"],
        int(row["version"]),
        float(row["params"].get("quantile", cfg.model_quantile)),
        row["data_through"],
    )


def score_window(
    engine: sa.Engine,
    transactions: Sequence[Transaction] | pd.DataFrame,
    start: dt.datetime,
    end: dt.datetime,
    cfg: FraudConfig,
    *,
    run_id: str = "",
    save: bool = True,
) -> ScoreResult:
    """Score the transactions created in [start, end) (the rest of ``transactions`` is context).
    ``transactions``: records, or the frame :func:`~paytrace_sl.fraud.features.build_frame_from_rows`
    built from landed rows (what the step does: no ``Transaction`` objects)."""
    result = ScoreResult()
    # plain zone-aware UTC datetimes (Airflow hands pendulum ones, whose arithmetic our UTC columns refuse)
    start = dt.datetime.fromtimestamp(start.timestamp(), dt.UTC)
    end = dt.datetime.fromtimestamp(end.timestamp(), dt.UTC)
    clock = time.perf_counter()
    frame = transactions if isinstance(transactions, pd.DataFrame) else build_frame(transactions)
    refund = is_refund(frame)
    with engine.connect() as conn:
        ctx = store.load_context(conn, frame, history_days=cfg.refund_history_days, refund_mask=refund)
        stored = store.latest_model(conn) if cfg.model_enabled else None
    result.seconds["context"] = time.perf_counter() - clock

    clock = time.perf_counter()
    ev = evaluate(frame, ctx, cfg)
    ts = frame["ts"].to_numpy()
    in_window = (ts >= int(start.timestamp())) & (ts < int(end.timestamp()))
    result.scored = int(in_window.sum())
    if not cfg.rules_enabled:
        ev.hits.loc[:, :] = False
    rule_hit = ev.hits.to_numpy().any(axis=1)
    result.seconds["rules"] = time.perf_counter() - clock

    clock = time.perf_counter()
    fitted: fraud_model.FittedModel | None = None
    if stored is not None:
        fitted = _fitted_from(stored, cfg)
    elif cfg.model_enabled and int((~rule_hit).sum()) >= MIN_COLD_FIT:
        # first run: fit on the frame itself (window and look-back), what the rules did not flag
        clean = ev.features.to_numpy(dtype=np.float64)[~rule_hit]
        sample = fraud_model.roll_sample(None, clean, cfg.model_sample, seed=1)
        fitted = fraud_model.fit(sample, 1, cfg.model_quantile, end)
        if save:
            store.save_model(engine, version=1, params=fitted.params, sample=sample, data_through=end)
        result.model_fitted = 1
    anomaly = np.zeros(len(frame))
    model_hit = np.zeros(len(frame), dtype=bool)
    if fitted is not None:
        result.model_version = fitted.version
        # declines move no money and their bursts are the card-testing rule's: the model scores the rest
        todo = in_window & ~rule_hit & (frame["state"] != "declined").to_numpy()
        if todo.any():
            anomaly[todo] = fitted.anomaly(ev.features.loc[todo])
            far = fitted.min_tail(ev.features.loc[todo]) <= cfg.model_max_tail
            model_hit[todo] = (anomaly[todo] > fitted.threshold) & far
    result.seconds["model"] = time.perf_counter() - clock

    clock = time.perf_counter()
    hold = set(cfg.hold)
    feats = ev.features.to_numpy(dtype=np.float64)
    model_scores = fitted.alert_score(anomaly) if fitted is not None else anomaly
    for row in np.flatnonzero(in_window & (rule_hit | model_hit)).tolist():
        named = ev.reasons_of(row)
        if named:
            patterns = [p for p, _ in named]
            reasons = [text for _, text in named]
            score = 1.0
            drivers = {
                name: round(float(feats[row, i]), 4)
                for i, name in enumerate(ev.features.columns)
                if feats[row, i] != 0 and name in _RULE_FEATURES.get(patterns[0], ())
            }
        else:
            assert fitted is not None
            patterns = ["model"]
            drivers_full = fitted.drivers(feats[row])
            reasons = [
                f"{name} = {d['value']:g} (typical {d['typical']:g}; "
                f"{100 * d['tail']:.2f} % of the history as far out)"
                for name, d in drivers_full.items()
            ]
            drivers = {name: d["value"] for name, d in drivers_full.items()}
            score = float(model_scores[row])
        result.alerts.append(
            {
                "transaction_id": int(frame["tid"].iat[row]),
                "pattern": patterns[0],
                "patterns": patterns,
                "score": score,
                "reasons": reasons,
                "features": drivers,
                "model_version": result.model_version,
                "held": bool(hold.intersection(patterns)),
                "created_at": dt.datetime.fromtimestamp(int(ts[row]), dt.UTC),
            }
        )
    result.seconds["alerts"] = time.perf_counter() - clock

    if save:
        clock = time.perf_counter()
        result.new_alerts = store.save_alerts(engine, result.alerts, run_id)
        result.history_added = store.advance_history(engine, frame, end, history_days=cfg.refund_history_days)
        if (
            fitted is not None
            and result.model_fitted is None
            and end - fitted.data_through >= dt.timedelta(hours=cfg.model_refit_hours)
        ):
            clean = feats[~rule_hit & ~model_hit]
            version = fitted.version + 1
            sample = fraud_model.roll_sample(fitted.sample, clean, cfg.model_sample, seed=version)
            refit = fraud_model.fit(sample, version, cfg.model_quantile, end)
            store.save_model(engine, version=version, params=refit.params, sample=sample, data_through=end)
            result.model_fitted = version
        result.seconds["store"] = time.perf_counter() - clock
    return result


# The features shown with a rule alert (the ones the rule read).
_RULE_FEATURES: dict[str, tuple[str, ...]] = {
    "card_testing": ("small_burst", "log_amount", "declined"),
    "refund_exceeds_sale": ("refund_ratio", "log_amount"),
    "refund_other_card": ("refund_ratio",),
    "refund_no_sale": ("refund_ratio", "log_amount"),
    "refund_clerk": ("is_refund", "log_amount"),
    "velocity_cards": ("cards_per_customer",),
    "velocity_customers": ("customers_per_card",),
    "avs_csc_mismatch": ("csc_mismatch", "avs_mismatch", "log_amount"),
    "amount_outlier": ("customer_z", "merchant_z", "log_amount"),
    "unusual_hour": ("hour_rarity", "merchant_z"),
}
assert set(_RULE_FEATURES) == set(RULE_PATTERNS)
