"""The known patterns as explicit rules, each with a reason a person understands (docs/fraud.md §Rules).

:func:`evaluate` computes, for every row of the frame, which patterns fire and why, plus the model
features (the same context, computed once). Everything is vectorized over the frame: a 100k-row window
costs a few sorts and group-bys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import poisson

from paytrace_sl.fraud.config import RULE_PATTERNS, FraudConfig
from paytrace_sl.fraud.features import (
    MODEL_FEATURES,
    Context,
    burst_counts,
    is_refund,
    is_sale,
    log_dollars,
    mismatch,
    small_attempts,
)

BURST_KEYS = (("card", "card"), ("customer", "customer"), ("ip", "IP"), ("by", "user"))
# chance of a burst this large from the key's own rate: below this, the burst is not chance
BURST_P = 1e-6
LOCAL_HOURS = 2
SD_PRIOR = 10


@dataclass(frozen=True)
class Evaluation:
    """Rule hits (bool column per pattern), the reason text per hit, and the model features."""

    hits: pd.DataFrame
    reasons: dict[str, pd.Series]
    features: pd.DataFrame

    def reasons_of(self, row: int) -> list[tuple[str, str]]:
        return [(p, str(self.reasons[p].iat[row])) for p in RULE_PATTERNS if bool(self.hits[p].iat[row])]


def _card_label(card: pd.Series) -> pd.Series:
    return "card ending " + card.str[-4:]


def _bursts(frame: pd.DataFrame, cfg: FraudConfig) -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """Card testing: on one card, customer, IP or user, more small declines/authorizations within
    ``burst_minutes`` than the key's own rate makes likely (and at least ``burst_count``)."""
    n = len(frame)
    hit = np.zeros(n, dtype=bool)
    reason = pd.Series([""] * n, dtype=object)
    feature = np.zeros(n, dtype=np.float64)
    small = small_attempts(frame, cfg.small_amount_cents).to_numpy()
    idx = np.flatnonzero(small)
    if idx.size == 0:
        return hit, reason, feature
    sub = frame.iloc[idx]
    ts = sub["ts"].to_numpy()
    span = max(int(frame["ts"].max() - frame["ts"].min()), 3600)
    half = cfg.burst_minutes * 60
    for column, label in BURST_KEYS:  # narrow keys first: a burst already explained is not counted again
        values = sub[column]
        present = (values != "").to_numpy() & ~hit[idx]
        if not present.any():
            continue
        codes, uniques = pd.factorize(values)
        # rows without the key, or already in a burst, each get a code of their own (counted alone)
        codes = np.where(present, codes, len(uniques) + np.arange(codes.size))
        counts = burst_counts(codes, ts, half)
        # the key's own rate around the event (± LOCAL_HOURS, the burst itself left out): a busy user
        # at a busy hour has more small declines by chance than a quiet one at night
        around = burst_counts(codes, ts, LOCAL_HOURS * 3600)
        local = max(min(span, 2 * LOCAL_HOURS * 3600) - 2 * half, half)
        expected = np.maximum(around - counts, 0) * (2 * half) / local
        threshold = np.maximum(cfg.burst_count, poisson.isf(BURST_P, expected) + 1)
        fired = present & (counts >= threshold)
        feature[idx] = np.maximum(feature[idx], np.where(present, counts - 1, 0))  # the others nearby
        if not fired.any():
            continue
        rows = idx[fired]
        new = ~hit[rows]
        text = (
            counts[fired].astype(str)
            + f" small declines/authorizations on one {label} ("
            + values.to_numpy()[fired].astype(str)
            + f") within {cfg.burst_minutes} minutes"
        )
        if label == "card":
            text = (
                counts[fired].astype(str)
                + f" small declines/authorizations on {label} ending "
                + pd.Series(values.to_numpy()[fired]).str[-4:].to_numpy().astype(str)
                + f" within {cfg.burst_minutes} minutes"
            )
        reason.iloc[rows[new]] = text[new]
        hit[rows] = True
    return hit, reason, feature


def _refunds(
    frame: pd.DataFrame, ctx: Context, cfg: FraudConfig, sale: pd.Series, refund: pd.Series
) -> tuple[dict[str, np.ndarray], dict[str, pd.Series], np.ndarray]:
    """Refund larger than the sale, to another card than the sale, or with no sale at all. The sale is
    the one carrying the refund's invoice, else the sales on the same card for the same customer and card
    holder (the largest one is "the sale")."""
    n = len(frame)
    hits = {p: np.zeros(n, dtype=bool) for p in ("refund_exceeds_sale", "refund_other_card", "refund_no_sale")}
    reasons = {p: pd.Series([""] * n, dtype=object) for p in hits}
    ratio = np.zeros(n, dtype=np.float64)
    ridx = np.flatnonzero(refund.to_numpy())
    if ridx.size == 0:
        return hits, reasons, ratio
    sales = frame.loc[sale, ["tid", "ts", "cents", "card", "customer", "holder", "invoice"]]
    refunds = frame.iloc[ridx][["ts", "cents", "card", "customer", "holder", "invoice"]].reset_index(drop=True)
    # by invoice: the latest sale carrying the refund's invoice (frame first, then history)
    by_inv_frame = (
        sales.loc[sales["invoice"] != ""]
        .sort_values("ts")
        .drop_duplicates("invoice", keep="last")
        .rename(columns={"card": "sale_card", "cents": "sale_cents", "ts": "sale_ts"})[
            ["invoice", "sale_card", "sale_cents", "sale_ts"]
        ]
    )
    by_inv = pd.concat([by_inv_frame, ctx.sales_by_invoice], ignore_index=True).drop_duplicates(
        "invoice", keep="first"
    )
    inv = refunds.merge(by_inv, on="invoice", how="left")
    inv_match = (refunds["invoice"] != "").to_numpy() & inv["sale_cents"].notna().to_numpy()
    inv_match &= (inv["sale_ts"].fillna(np.inf).to_numpy() <= refunds["ts"].to_numpy())
    # by card, customer and card holder: the largest sale and the first one
    agg_frame = (
        sales.groupby(["card", "customer", "holder"], sort=False)
        .agg(max_cents=("cents", "max"), first_ts=("ts", "min"))
        .reset_index()
    )
    agg = (
        pd.concat([agg_frame, ctx.sales_by_card], ignore_index=True)
        .groupby(["card", "customer", "holder"], sort=False)
        .agg(max_cents=("max_cents", "max"), first_ts=("first_ts", "min"))
        .reset_index()
    )
    card = refunds.merge(agg, on=["card", "customer", "holder"], how="left")
    card_match = card["max_cents"].notna().to_numpy() & (
        card["first_ts"].fillna(np.inf).to_numpy() <= refunds["ts"].to_numpy()
    )
    r_cents = refunds["cents"].to_numpy()
    other_card = inv_match & (inv["sale_card"].fillna("").to_numpy() != refunds["card"].to_numpy())
    inv_sale = inv["sale_cents"].fillna(0).to_numpy()
    card_sale = card["max_cents"].fillna(0).to_numpy()
    base = np.where(inv_match, inv_sale, np.where(card_match, card_sale, 0))
    exceeds = (inv_match | card_match) & ~other_card & (r_cents > base)
    # "no sale" needs a history long enough to hold the sale (else every early refund would fire)
    covered = np.zeros(ridx.size, dtype=bool)
    if ctx.history_start is not None:
        covered = refunds["ts"].to_numpy() - int(ctx.history_start.timestamp()) >= cfg.refund_coverage_days * 86400
    no_sale = ~inv_match & ~card_match & covered
    ratio[ridx] = np.where(base > 0, r_cents / np.maximum(base, 1), np.where(no_sale, 10.0, 0.0))
    money = pd.Series(r_cents).map(lambda c: f"{c // 100}.{c % 100:02d}")
    sale_money = pd.Series(base).map(lambda c: f"{int(c) // 100}.{int(c) % 100:02d}")
    for name, mask, texts in (
        ("refund_exceeds_sale", exceeds, "refund " + money + " exceeds the sale it refunds (" + sale_money + ")"),
        (
            "refund_other_card",
            other_card,
            "refund to " + _card_label(refunds["card"]) + " but invoice " + refunds["invoice"]
            + " was paid with " + _card_label(inv["sale_card"].fillna("????")),
        ),
        (
            "refund_no_sale",
            no_sale,
            "refund " + money + " to " + _card_label(refunds["card"])
            + f": no sale on that card or invoice in the last {cfg.refund_history_days} days",
        ),
    ):
        rows = ridx[mask]
        hits[name][rows] = True
        reasons[name].iloc[rows] = texts.to_numpy()[mask]
    return hits, reasons, ratio


def evaluate(frame: pd.DataFrame, ctx: Context, cfg: FraudConfig) -> Evaluation:
    """Rule hits, reasons and model features for every row of ``frame`` (see :func:`build_frame`)."""
    n = len(frame)
    hits: dict[str, np.ndarray] = {}
    reasons: dict[str, pd.Series] = {}
    sale = is_sale(frame)
    refund = is_refund(frame)
    logs = log_dollars(frame["cents"])

    hits["card_testing"], reasons["card_testing"], burst_feature = _bursts(frame, cfg)

    r_hits, r_reasons, refund_ratio = _refunds(frame, ctx, cfg, sale, refund)
    hits.update(r_hits)
    reasons.update(r_reasons)

    # refunds concentrated on one user: most of what the user did in the frame is refunds
    by = frame["by"]
    per_user = frame.groupby("by", sort=False)["tid"].transform("size").to_numpy()
    refunds_user = refund.groupby(by, sort=False).transform("sum").to_numpy()
    clerk = (
        refund.to_numpy()
        & (by != "").to_numpy()
        & (refunds_user >= cfg.refund_clerk_min)
        & (refunds_user >= cfg.refund_clerk_share * per_user)
    )
    hits["refund_clerk"] = clerk
    reasons["refund_clerk"] = pd.Series(
        np.where(
            clerk,
            "user " + by.astype(str) + " made " + pd.Series(refunds_user).astype(str) + " refunds out of "
            + pd.Series(per_user).astype(str) + " transactions",
            "",
        ),
        dtype=object,
    )

    # velocity: many cards for one customer (the customer's usual card excepted), one card for many customers
    has_customer = (frame["customer"] != "").to_numpy()
    pair = frame.groupby(["customer", "card"], sort=False)["tid"].transform("size").to_numpy()
    cust_max = pd.Series(pair).groupby(frame["customer"].to_numpy(), sort=False).transform("max").to_numpy()
    cards_per_customer = frame.groupby("customer", sort=False)["card"].transform("nunique").to_numpy()
    cards_per_customer = np.where(has_customer, cards_per_customer, 1)
    unusual_card = (pair < cust_max) | (cust_max == 1)
    vel_cards = has_customer & (cards_per_customer >= cfg.cards_per_customer) & unusual_card
    hits["velocity_cards"] = vel_cards
    reasons["velocity_cards"] = pd.Series(
        np.where(
            vel_cards,
            "customer " + frame["customer"] + " used " + pd.Series(cards_per_customer).astype(str) + " cards",
            "",
        ),
        dtype=object,
    )
    named = frame["customer"].where(frame["customer"] != "")
    customers_per_card = named.groupby(frame["card"], sort=False).transform("nunique").fillna(0).to_numpy()
    vel_customers = has_customer & (customers_per_card >= cfg.customers_per_card)
    hits["velocity_customers"] = vel_customers
    reasons["velocity_customers"] = pd.Series(
        np.where(
            vel_customers,
            _card_label(frame["card"]) + " used by " + pd.Series(customers_per_card.astype(int)).astype(str)
            + " customers",
            "",
        ),
        dtype=object,
    )

    avs_bad = mismatch(frame["avs"]).to_numpy()
    csc_bad = mismatch(frame["csc"]).to_numpy()
    approved_sale = sale.to_numpy()
    hits["avs_csc_mismatch"] = approved_sale & csc_bad
    reasons["avs_csc_mismatch"] = pd.Series(
        np.where(
            approved_sale & csc_bad,
            "approved although the card security code did not match (CSC: " + frame["csc"]
            + ", AVS: " + frame["avs"] + ")",
            "",
        ),
        dtype=object,
    )

    # amounts against the merchant's and the customer's own history (log dollars)
    m = ctx.merchant
    merchant_z = (logs - m.mean) / m.sd if m.n >= 100 and m.sd > 0 else np.zeros(n)
    cust_mean = np.zeros(n)
    cust_sd = np.zeros(n)
    cust_n = np.zeros(n, dtype=np.int64)
    if ctx.customers:
        stats = pd.DataFrame(
            [(k, p.n, p.mean, p.sd) for k, p in ctx.customers.items()], columns=["customer", "n", "mean", "sd"]
        )
        joined = frame[["customer"]].merge(stats, on="customer", how="left")
        cust_n = joined["n"].fillna(0).to_numpy().astype(np.int64)
        cust_mean = joined["mean"].fillna(0.0).to_numpy()
        cust_sd = joined["sd"].fillna(0.0).to_numpy()
    # the customer's spread shrunk towards the merchant's (a few similar amounts must not make a
    # normal amount look extreme): prior weight SD_PRIOR observations
    prior = m.sd if m.n >= 100 and m.sd > 0 else 1.0
    cust_sd = np.sqrt((cust_n * cust_sd**2 + SD_PRIOR * prior**2) / (cust_n + SD_PRIOR))
    own = cust_n >= cfg.customer_min_history
    customer_z = np.where(own, (logs - cust_mean) / cust_sd, 0.0)
    outlier = approved_sale & np.where(own, customer_z >= cfg.amount_z, merchant_z >= cfg.merchant_amount_z)
    hits["amount_outlier"] = outlier
    typical = np.exp(np.where(own, cust_mean, m.mean))
    reasons["amount_outlier"] = pd.Series(
        np.where(
            outlier,
            "amount " + (frame["cents"] / 100).map("{:.2f}".format) + " vs a typical "
            + pd.Series(typical).map("{:.2f}".format)
            + np.where(own, " for customer " + frame["customer"], " for this merchant"),
            "",
        ),
        dtype=object,
    )

    hours = np.asarray(ctx.hours, dtype=np.float64)
    seen = hours.sum()
    share = (hours[frame["hour"].to_numpy()] / seen) if seen >= 500 else np.full(n, 1.0 / 24)
    rare_hour = approved_sale & (share < cfg.unusual_hour_share) & (merchant_z >= cfg.unusual_hour_amount_z)
    hits["unusual_hour"] = rare_hour
    reasons["unusual_hour"] = pd.Series(
        np.where(
            rare_hour,
            "amount " + (frame["cents"] / 100).map("{:.2f}".format) + " at " + frame["hour"].map("{:02d}:00".format)
            + ", an hour with " + pd.Series(share * 100).map("{:.2f}".format) + " % of this merchant's transactions",
            "",
        ),
        dtype=object,
    )

    features = pd.DataFrame(
        {
            "log_amount": logs,
            # a very small amount is not suspicious in itself (card testing has its own rule)
            "merchant_z": np.maximum(merchant_z, -3.0),
            "customer_z": np.maximum(customer_z, -3.0),
            "hour_rarity": -np.log(np.maximum(share, 1e-4)),
            "small_burst": burst_feature,
            "cards_per_customer": cards_per_customer.astype(np.float64),
            "customers_per_card": customers_per_card.astype(np.float64),
            "is_refund": refund.to_numpy().astype(np.float64),
            "refund_ratio": refund_ratio,
            "avs_mismatch": avs_bad.astype(np.float64),
            "csc_mismatch": csc_bad.astype(np.float64),
            "walk_in": (~has_customer).astype(np.float64),
            "declined": (frame["state"] == "declined").to_numpy().astype(np.float64),
        },
        columns=list(MODEL_FEATURES),
    )
    return Evaluation(
        hits=pd.DataFrame({p: np.asarray(hits[p], dtype=bool) for p in RULE_PATTERNS}),
        reasons={p: reasons[p].reset_index(drop=True) for p in RULE_PATTERNS},
        features=features,
    )
