"""The fraud patterns and their settings (the ``fraud:`` section of ``mapping.yaml``, docs/mapping.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# The named patterns (rules.py) and what a person reads for each. "model" = the unsupervised layer.
PATTERNS: Mapping[str, str] = MappingProxyType(
    {
        "card_testing": "burst of small declines/authorizations from one card, customer, IP or user",
        "refund_exceeds_sale": "refund larger than the sale it refunds",
        "refund_other_card": "refund to a different card than the sale",
        "refund_no_sale": "refund with no sale on that card or invoice in the history",
        "refund_clerk": "refunds concentrated on one user (created.by)",
        "velocity_cards": "many cards for one customer",
        "velocity_customers": "one card across many customers",
        "avs_csc_mismatch": "approved although the card security code did not match",
        "amount_outlier": "amount far outside the customer's (or merchant's) own history",
        "unusual_hour": "large amount at an hour this merchant almost never sees",
        "model": "unusual combination of features (IsolationForest on the merchant's own history)",
    }
)
RULE_PATTERNS: tuple[str, ...] = tuple(p for p in PATTERNS if p != "model")


@dataclass(frozen=True, slots=True)
class FraudConfig:
    """Thresholds of the rules and the model, the holds and the notification thresholds.

    ``hold``: patterns whose alerts keep the transaction out of SL (it waits in review with the alert as
    its reason); every other alert is information only and never blocks posting.
    ``notify_min_score``: per notification channel, the lowest alert score sent there (absent = never).
    """

    enabled: bool = True
    hold: tuple[str, ...] = ()
    notify_min_score: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({"log": 0.5}))
    small_amount_cents: int = 500  # card testing: "small" = at most this
    burst_minutes: int = 10
    burst_count: int = 5
    refund_history_days: int = 35  # how long sales are kept to match refunds
    refund_coverage_days: int = 7  # "refund with no sale" only once the history is this long
    refund_clerk_min: int = 3
    refund_clerk_share: float = 0.5
    cards_per_customer: int = 3
    customers_per_card: int = 4
    amount_z: float = 4.0  # customer history (log amount)
    merchant_amount_z: float = 5.0  # walk-ins / customers without history
    customer_min_history: int = 10
    unusual_hour_share: float = 0.01
    unusual_hour_amount_z: float = 3.2
    rules_enabled: bool = True  # False: the model alone (bench_fraud's model-only figures)
    model_enabled: bool = True
    model_quantile: float = 0.999  # alert above this quantile of the training scores …
    model_max_tail: float = 0.001  # … and a feature beyond all but this share of the training sample
    model_sample: int = 4096  # training rows kept (rolling)
    model_refit_hours: int = 24
