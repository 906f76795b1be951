"""The scored frame: one row per transaction with the columns the rules and the model read.

Built column by column from :class:`~paytrace_sl.paytrace.records.Transaction` records (no dict per row).
Money stays integer cents here (the rules compare amounts, the model reads ``log(amount)``); nothing of a
card but its masked number is ever present. Context that needs more than the frame (a customer's amount
history, the hours the merchant sees, the sales a refund may refund) comes from :class:`Context`, which
:mod:`paytrace_sl.fraud.store` fills from our own tables.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from paytrace_sl.paytrace.records import Transaction

SALE_TYPES = ("SALE", "CAPTURE", "FORCE", "AUTHORIZATION")  # money taken (an authorization once captured)
FAILED_STATES = ("declined", "voided")

MODEL_FEATURES: tuple[str, ...] = (
    "log_amount",
    "merchant_z",
    "customer_z",
    "hour_rarity",
    "small_burst",
    "cards_per_customer",
    "customers_per_card",
    "is_refund",
    "refund_ratio",
    "avs_mismatch",
    "csc_mismatch",
    "walk_in",
    "declined",
)


@dataclass(frozen=True, slots=True)
class Profile:
    """Running count, mean and standard deviation of ``log(amount in dollars)``."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def sd(self) -> float:
        if self.n < 2:
            return 0.0
        var = (self.total_sq - self.total * self.total / self.n) / (self.n - 1)
        return math.sqrt(max(var, 0.0))


@dataclass(frozen=True)
class Context:
    """What the store knows beyond the frame (empty on the first run: the history rules then stay quiet)."""

    customers: Mapping[str, Profile] = field(default_factory=dict)
    merchant: Profile = Profile(0, 0.0, 0.0)
    hours: Sequence[int] = (0,) * 24  # transactions seen per local hour
    # sales a refund may refund: per (card, customer, card holder) the largest amount and first time (a
    # masked card alone is ambiguous: four digits, many walk-in cards share them); per invoice
    # the latest sale's card, customer and amount
    sales_by_card: pd.DataFrame = field(default_factory=lambda: _empty_sales_by_card())
    sales_by_invoice: pd.DataFrame = field(default_factory=lambda: _empty_sales_by_invoice())
    history_start: dt.datetime | None = None  # first transaction time the history holds


def _empty_sales_by_card() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "card": pd.Series([], dtype=object),
            "customer": pd.Series([], dtype=object),
            "holder": pd.Series([], dtype=object),
            "max_cents": pd.Series([], dtype="int64"),
            "first_ts": pd.Series([], dtype="int64"),
        }
    )


def _empty_sales_by_invoice() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice": pd.Series([], dtype=object),
            "sale_card": pd.Series([], dtype=object),
            "sale_cents": pd.Series([], dtype="int64"),
            "sale_ts": pd.Series([], dtype="int64"),
        }
    )


def build_frame(transactions: Sequence[Transaction]) -> pd.DataFrame:
    """The scored frame, sorted by time. ``ts`` is epoch seconds (UTC), ``hour`` the merchant-local hour."""
    n = len(transactions)
    tid = np.fromiter((t.transaction_id for t in transactions), dtype=np.int64, count=n)
    cents = np.fromiter((int(t.amount * 100) for t in transactions), dtype=np.int64, count=n)
    ts = np.fromiter((int(t.created_at.timestamp()) for t in transactions), dtype=np.int64, count=n)
    hour = np.fromiter((t.created_at.hour for t in transactions), dtype=np.int64, count=n)
    frame = pd.DataFrame(
        {
            "tid": tid,
            "ttype": [t.transaction_type for t in transactions],
            "state": [t.status.value for t in transactions],
            "cents": cents,
            "ts": ts,
            "hour": hour,
            "card": [t.card_masked for t in transactions],
            "holder": [t.billing_name.strip().lower() for t in transactions],
            "customer": [t.customer_id for t in transactions],
            "invoice": [t.invoice_id for t in transactions],
            "ip": [t.created_from_ip for t in transactions],
            "by": [t.created_by for t in transactions],
            "avs": [t.avs_response for t in transactions],
            "csc": [t.csc_response for t in transactions],
        }
    )
    return frame.sort_values(["ts", "tid"], kind="stable").reset_index(drop=True)


def is_sale(frame: pd.DataFrame) -> pd.Series:
    """Approved money-taking rows (an authorization only counts once captured: state not authorized)."""
    ok = frame["ttype"].isin(SALE_TYPES) & ~frame["state"].isin(FAILED_STATES)
    return ok & ~((frame["ttype"] == "AUTHORIZATION") & (frame["state"] == "authorized"))


def is_refund(frame: pd.DataFrame) -> pd.Series:
    return (frame["ttype"] == "REFUND") & ~frame["state"].isin(FAILED_STATES)


def small_attempts(frame: pd.DataFrame, small_cents: int) -> pd.Series:
    """Card-testing material: small declines and small (uncaptured) authorizations."""
    attempt = (frame["state"] == "declined") | (frame["ttype"] == "AUTHORIZATION")
    return attempt & (frame["cents"] <= small_cents)


def log_dollars(cents: pd.Series | np.ndarray) -> np.ndarray:
    return np.log(np.maximum(np.asarray(cents, dtype=np.float64), 1.0) / 100.0)


def burst_counts(codes: np.ndarray, ts: np.ndarray, half_width: int) -> np.ndarray:
    """For each row, how many rows share its code within ``half_width`` seconds either side (itself
    included). Vectorized: one sort, two binary searches over ``code * stride + time``."""
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    t = ts - ts.min()
    stride = int(t.max()) + 2 * half_width + 2
    key = codes.astype(np.int64) * stride + t
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    lo = np.searchsorted(sorted_key, sorted_key - half_width, side="left")
    hi = np.searchsorted(sorted_key, sorted_key + half_width, side="right")
    out = np.empty(codes.size, dtype=np.int64)
    out[order] = hi - lo
    return out


def mismatch(texts: pd.Series) -> pd.Series:
    """PayTrace's AVS/CSC texts that say the check failed ("No Match", "Not Matched", "Mismatch")."""
    low = texts.str.lower()
    return low.str.contains("no match", regex=False) | low.str.contains("not match", regex=False) | (
        low.str.contains("mismatch", regex=False)
    )
