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
from collections.abc import Iterable, Mapping, Sequence
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

    def text(values: list[str]) -> np.ndarray:
        return np.array(values, dtype=object)  # object arrays: numpy compares them fast

    frame = pd.DataFrame(
        {
            "tid": tid,
            "ttype": text([t.transaction_type for t in transactions]),
            "state": text([t.status.value for t in transactions]),
            "cents": cents,
            "ts": ts,
            "hour": hour,
            "card": text([t.card_masked for t in transactions]),
            "holder": text([t.billing_name.strip().lower() for t in transactions]),
            "customer": text([t.customer_id for t in transactions]),
            "invoice": text([t.invoice_id for t in transactions]),
            "ip": text([t.created_from_ip for t in transactions]),
            "by": text([t.created_by for t in transactions]),
            "avs": text([t.avs_response for t in transactions]),
            "csc": text([t.csc_response for t in transactions]),
        }
    )
    return frame.sort_values(["ts", "tid"], kind="stable").reset_index(drop=True)


_ROW_TEXT = {
    "ttype": "transaction_type",
    "state": "status",
    "card": "card_masked",
    "customer": "customer_id",
    "invoice": "invoice_id",
    "ip": "created_from_ip",
    "by": "created_by",
    "avs": "avs_response",
    "csc": "csc_response",
}


def _cents(amount: object) -> int:
    """Exact cents of a landed decimal string ("12.3", "12.30", "12"): integer arithmetic, no float."""
    text = str(amount).strip()
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("+-").partition(".")
    if len(frac) > 2 and frac[2:].strip("0"):
        raise ValueError(f"amount {text!r} has more than two decimals")
    return sign * (int(whole or "0") * 100 + int((frac[:2] or "0").ljust(2, "0")))


def build_frame_from_rows(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """The same frame as :func:`build_frame`, straight from landed JSONL rows (``Transaction.to_json_dict``
    shape): no ``Transaction`` objects, times parsed by pandas in C. ``created_at`` carries the merchant's
    offset, so its hour is the local hour."""
    columns: dict[str, list[object]] = {k: [] for k in ("tid", "cents", "created", "holder", *_ROW_TEXT)}
    for row in rows:
        columns["tid"].append(row["transaction_id"])
        columns["cents"].append(_cents(row["amount"]))
        columns["created"].append(row["created_at"])
        columns["holder"].append(str(row.get("billing_name", "")).strip().lower())
        for name, key in _ROW_TEXT.items():
            columns[name].append(row.get(key, "") or "")
    created = pd.Series(columns.pop("created"), dtype=object)
    stamps = (
        pd.to_datetime(created, utc=True, format="ISO8601")
        if len(created)
        else pd.Series([], dtype="datetime64[ns, UTC]")
    )
    frame = pd.DataFrame(
        {
            "tid": np.asarray(columns.pop("tid"), dtype=np.int64),
            "ttype": np.array(columns.pop("ttype"), dtype=object),
            "state": np.array(columns.pop("state"), dtype=object),
            "cents": np.asarray(columns.pop("cents"), dtype=np.int64),
            "ts": stamps.dt.as_unit("s").astype("int64").to_numpy()
            if len(created)
            else np.zeros(0, dtype=np.int64),
            "hour": created.str.slice(11, 13).astype(np.int64).to_numpy()
            if len(created)
            else np.zeros(0, dtype=np.int64),
            **{name: np.array(values, dtype=object) for name, values in columns.items()},
        }
    )
    frame = frame[
        [
            "tid",
            "ttype",
            "state",
            "cents",
            "ts",
            "hour",
            "card",
            "holder",
            "customer",
            "invoice",
            "ip",
            "by",
            "avs",
            "csc",
        ]
    ]
    return frame.sort_values(["ts", "tid"], kind="stable").reset_index(drop=True)


def is_sale(frame: pd.DataFrame) -> np.ndarray:
    """Approved money-taking rows (an authorization only counts once captured: state not authorized)."""
    ttype, state = frame["ttype"].to_numpy(), frame["state"].to_numpy()
    ok = np.isin(ttype, SALE_TYPES) & ~np.isin(state, FAILED_STATES)
    return np.asarray(ok & ~((ttype == "AUTHORIZATION") & (state == "authorized")), dtype=bool)


def is_refund(frame: pd.DataFrame) -> np.ndarray:
    ttype, state = frame["ttype"].to_numpy(), frame["state"].to_numpy()
    return np.asarray((ttype == "REFUND") & ~np.isin(state, FAILED_STATES), dtype=bool)


def small_attempts(frame: pd.DataFrame, small_cents: int) -> np.ndarray:
    """Card-testing material: small declines and small (uncaptured) authorizations."""
    attempt = (frame["state"].to_numpy() == "declined") | (frame["ttype"].to_numpy() == "AUTHORIZATION")
    return np.asarray(attempt & (frame["cents"].to_numpy() <= small_cents), dtype=bool)


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


def _says_mismatch(text: str) -> bool:
    low = text.lower()
    return "no match" in low or "not match" in low or "mismatch" in low


def mismatch(texts: pd.Series) -> np.ndarray:
    """PayTrace's AVS/CSC texts that say the check failed ("No Match", "Not Matched", "Mismatch").
    Evaluated once per distinct text (a window has a handful)."""
    codes, uniques = pd.factorize(texts.to_numpy())
    verdict = np.array([_says_mismatch(str(u)) for u in uniques], dtype=bool)
    return verdict[codes] if len(codes) else np.zeros(0, dtype=bool)
