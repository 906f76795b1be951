"""The known patterns as explicit rules, each with a reason a person understands (docs/fraud.md §Rules).

:func:`evaluate` computes, for every row of the frame, which patterns fire and why, plus the model
features (the same context, computed once). Everything is vectorized over the frame: a 100k-row window
costs a few sorts and group-bys.
"""

from __future__ import annotations

import math
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


Reasons = dict[int, str]  # row → text, only for the rows a pattern hit


@dataclass(frozen=True)
class Evaluation:
    """Rule hits (bool column per pattern), the reason text per hit, and the model features."""

    hits: pd.DataFrame
    reasons: dict[str, Reasons]
    features: pd.DataFrame

    def reasons_of(self, row: int) -> list[tuple[str, str]]:
        return [(p, self.reasons[p][row]) for p in RULE_PATTERNS if row in self.reasons[p]]


def _money(cents: float) -> str:
    c = int(cents)
    return f"{c // 100}.{c % 100:02d}"


def _last4(card: object) -> str:
    return f"card ending {str(card)[-4:]}"


def _bursts(frame: pd.DataFrame, cfg: FraudConfig) -> tuple[np.ndarray, Reasons, np.ndarray]:
    """Card testing: on one card, customer, IP or user, more small declines/authorizations within
    ``burst_minutes`` than the key's own rate makes likely (and at least ``burst_count``)."""
    n = len(frame)
    hit = np.zeros(n, dtype=bool)
    reason: Reasons = {}
    feature = np.zeros(n, dtype=np.float64)
    small = small_attempts(frame, cfg.small_amount_cents)
    idx = np.flatnonzero(small)
    if idx.size == 0:
        return hit, reason, feature
    ts = frame["ts"].to_numpy()[idx]
    span = max(int(frame["ts"].max() - frame["ts"].min()), 3600)
    half = cfg.burst_minutes * 60
    for column, label in BURST_KEYS:  # narrow keys first: a burst already explained is not counted again
        values = frame[column].to_numpy()[idx]
        present = (values != "") & ~hit[idx]
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
        for k in np.flatnonzero(fired).tolist():
            row = int(idx[k])
            what = f"card ending {str(values[k])[-4:]}" if label == "card" else f"one {label} ({values[k]})"
            reason[row] = (
                f"{counts[k]} small declines/authorizations on {what} within {cfg.burst_minutes} minutes"
            )
            hit[row] = True
    return hit, reason, feature


def _refunds(
    frame: pd.DataFrame, ctx: Context, cfg: FraudConfig, sale: np.ndarray, refund: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, Reasons], np.ndarray]:
    """Refund larger than the sale, to another card than the sale, or with no sale at all. The sale is
    the one carrying the refund's invoice, else the sales on the same card for the same customer and card
    holder (the largest one is "the sale")."""
    n = len(frame)
    hits = {
        p: np.zeros(n, dtype=bool) for p in ("refund_exceeds_sale", "refund_other_card", "refund_no_sale")
    }
    reasons: dict[str, Reasons] = {p: {} for p in hits}
    ratio = np.zeros(n, dtype=np.float64)
    ridx = np.flatnonzero(refund)
    if ridx.size == 0:
        return hits, reasons, ratio
    keys = ["card", "customer", "holder"]
    refunds = frame.iloc[ridx][["ts", "cents", *keys, "invoice"]].reset_index(drop=True)
    # only sales that share a card or an invoice with a refund matter
    wanted = frame["card"].isin(refunds["card"].unique()) | frame["invoice"].isin(
        refunds.loc[refunds["invoice"] != "", "invoice"].unique()
    )
    sales = frame.loc[sale & wanted.to_numpy(), ["ts", "cents", *keys, "invoice"]]
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
    r_ts = refunds["ts"].to_numpy()
    inv_match = (refunds["invoice"] != "").to_numpy() & inv["sale_cents"].notna().to_numpy()
    inv_match &= inv["sale_ts"].fillna(np.inf).to_numpy() <= r_ts
    # by card, customer and card holder: the largest sale and the first one
    agg_frame = (
        sales.groupby(keys, sort=False).agg(max_cents=("cents", "max"), first_ts=("ts", "min")).reset_index()
    )
    agg = (
        pd.concat([agg_frame, ctx.sales_by_card], ignore_index=True)
        .groupby(keys, sort=False)
        .agg(max_cents=("max_cents", "max"), first_ts=("first_ts", "min"))
        .reset_index()
    )
    card = refunds.merge(agg, on=keys, how="left")
    card_match = card["max_cents"].notna().to_numpy() & (card["first_ts"].fillna(np.inf).to_numpy() <= r_ts)
    r_cents = refunds["cents"].to_numpy()
    r_card = refunds["card"].to_numpy()
    sale_card = inv["sale_card"].fillna("").to_numpy()
    other_card = inv_match & (sale_card != r_card)
    inv_sale = inv["sale_cents"].fillna(0).to_numpy()
    card_sale = card["max_cents"].fillna(0).to_numpy()
    base = np.where(inv_match, inv_sale, np.where(card_match, card_sale, 0))
    exceeds = (inv_match | card_match) & ~other_card & (r_cents > base)
    # "no sale" needs a history long enough to hold the sale (else every early refund would fire)
    covered = np.zeros(ridx.size, dtype=bool)
    if ctx.history_start is not None:
        covered = r_ts - int(ctx.history_start.timestamp()) >= cfg.refund_coverage_days * 86400
    no_sale = ~inv_match & ~card_match & covered
    ratio[ridx] = np.where(base > 0, r_cents / np.maximum(base, 1), np.where(no_sale, 10.0, 0.0))
    invoices = refunds["invoice"].to_numpy()
    for k in np.flatnonzero(exceeds | other_card | no_sale).tolist():
        row = int(ridx[k])
        if exceeds[k]:
            hits["refund_exceeds_sale"][row] = True
            reasons["refund_exceeds_sale"][row] = (
                f"refund {_money(r_cents[k])} exceeds the sale it refunds ({_money(base[k])})"
            )
        if other_card[k]:
            hits["refund_other_card"][row] = True
            reasons["refund_other_card"][row] = (
                f"refund to {_last4(r_card[k])} but invoice {invoices[k]} "
                f"was paid with {_last4(sale_card[k])}"
            )
        if no_sale[k]:
            hits["refund_no_sale"][row] = True
            reasons["refund_no_sale"][row] = (
                f"refund {_money(r_cents[k])} to {_last4(r_card[k])}: no sale on that card or invoice in the "
                f"last {cfg.refund_history_days} days"
            )
    return hits, reasons, ratio


def evaluate(frame: pd.DataFrame, ctx: Context, cfg: FraudConfig) -> Evaluation:
    """Rule hits, reasons and model features for every row of ``frame`` (see :func:`build_frame`)."""
    n = len(frame)
    hits: dict[str, np.ndarray] = {}
    reasons: dict[str, Reasons] = {}
    sale = is_sale(frame)
    refund = is_refund(frame)
    logs = log_dollars(frame["cents"])
    cents = frame["cents"].to_numpy()
    customer = frame["customer"].to_numpy()
    card = frame["card"].to_numpy()
    by = frame["by"].to_numpy()

    hits["card_testing"], reasons["card_testing"], burst_feature = _bursts(frame, cfg)

    r_hits, r_reasons, refund_ratio = _refunds(frame, ctx, cfg, sale, refund)
    hits.update(r_hits)
    reasons.update(r_reasons)

    # refunds concentrated on one user: most of what the user did in the frame is refunds
    by_codes, _ = pd.factorize(by)
    per_user = np.bincount(by_codes)[by_codes]
    refunds_user = np.bincount(by_codes, weights=refund)[by_codes].astype(np.int64)
    clerk = (
        refund
        & (by != "")
        & (refunds_user >= cfg.refund_clerk_min)
        & (refunds_user >= cfg.refund_clerk_share * per_user)
    )
    hits["refund_clerk"] = clerk
    reasons["refund_clerk"] = {
        r: f"user {by[r]} made {refunds_user[r]} refunds out of {per_user[r]} transactions"
        for r in np.flatnonzero(clerk).tolist()
    }

    # velocity: many cards for one customer (the customer's usual card excepted), one card for many customers
    has_customer = customer != ""
    cust_codes, _ = pd.factorize(customer)
    card_codes, _ = pd.factorize(card)
    pair_codes, _ = pd.factorize(
        cust_codes.astype(np.int64) * (int(card_codes.max(initial=0)) + 1) + card_codes
    )
    pair = np.bincount(pair_codes)[pair_codes]
    cust_max = np.zeros(int(cust_codes.max(initial=-1)) + 1, dtype=np.int64)
    np.maximum.at(cust_max, cust_codes, pair)
    cust_max_row = cust_max[cust_codes]
    first_pair = np.unique(pair_codes, return_index=True)[1]
    cards_per_customer = np.bincount(cust_codes[first_pair], minlength=len(cust_max))[cust_codes]
    cards_per_customer = np.where(has_customer, cards_per_customer, 1)
    unusual_card = (pair < cust_max_row) | (cust_max_row == 1)
    vel_cards = has_customer & (cards_per_customer >= cfg.cards_per_customer) & unusual_card
    hits["velocity_cards"] = vel_cards
    reasons["velocity_cards"] = {
        r: f"customer {customer[r]} used {cards_per_customer[r]} cards"
        for r in np.flatnonzero(vel_cards).tolist()
    }
    named_pairs = first_pair[has_customer[first_pair]]
    customers_per_card = np.bincount(card_codes[named_pairs], minlength=int(card_codes.max(initial=-1)) + 1)[
        card_codes
    ]
    vel_customers = has_customer & (customers_per_card >= cfg.customers_per_card)
    hits["velocity_customers"] = vel_customers
    reasons["velocity_customers"] = {
        r: f"{_last4(card[r])} used by {customers_per_card[r]} customers"
        for r in np.flatnonzero(vel_customers).tolist()
    }

    avs_bad = mismatch(frame["avs"])
    csc_bad = mismatch(frame["csc"])
    hits["avs_csc_mismatch"] = sale & csc_bad
    avs_text, csc_text = frame["avs"].to_numpy(), frame["csc"].to_numpy()
    reasons["avs_csc_mismatch"] = {
        r: f"approved although the card security code did not match (CSC: {csc_text[r]}, AVS: {avs_text[r]})"
        for r in np.flatnonzero(sale & csc_bad).tolist()
    }

    # amounts against the merchant's and the customer's own history (log dollars)
    m = ctx.merchant
    merchant_z = (logs - m.mean) / m.sd if m.n >= 100 and m.sd > 0 else np.zeros(n)
    cust_mean = np.zeros(n)
    cust_sd = np.zeros(n)
    cust_n = np.zeros(n, dtype=np.int64)
    if ctx.customers:
        stats = pd.DataFrame(
            [(k, p.n, p.mean, p.sd) for k, p in ctx.customers.items()],
            columns=["customer", "n", "mean", "sd"],
        ).set_index("customer")
        joined = stats.reindex(customer)
        cust_n = joined["n"].fillna(0).to_numpy().astype(np.int64)
        cust_mean = joined["mean"].fillna(0.0).to_numpy()
        cust_sd = joined["sd"].fillna(0.0).to_numpy()
    # the customer's spread shrunk towards the merchant's (a few similar amounts must not make a
    # normal amount look extreme): prior weight SD_PRIOR observations
    prior = m.sd if m.n >= 100 and m.sd > 0 else 1.0
    cust_sd = np.sqrt((cust_n * cust_sd**2 + SD_PRIOR * prior**2) / (cust_n + SD_PRIOR))
    own = cust_n >= cfg.customer_min_history
    customer_z = np.where(own, (logs - cust_mean) / cust_sd, 0.0)
    outlier = sale & np.where(own, customer_z >= cfg.amount_z, merchant_z >= cfg.merchant_amount_z)
    hits["amount_outlier"] = outlier
    reasons["amount_outlier"] = {
        r: (
            f"amount {_money(cents[r])} vs a typical {math.exp(cust_mean[r]):.2f} for customer {customer[r]}"
            if own[r]
            else f"amount {_money(cents[r])} vs a typical {math.exp(m.mean):.2f} for this merchant"
        )
        for r in np.flatnonzero(outlier).tolist()
    }

    hours = np.asarray(ctx.hours, dtype=np.float64)
    seen = hours.sum()
    hour = frame["hour"].to_numpy()
    share = (hours[hour] / seen) if seen >= 500 else np.full(n, 1.0 / 24)
    rare_hour = sale & (share < cfg.unusual_hour_share) & (merchant_z >= cfg.unusual_hour_amount_z)
    hits["unusual_hour"] = rare_hour
    reasons["unusual_hour"] = {
        r: (
            f"amount {_money(cents[r])} at {hour[r]:02d}:00, an hour with {share[r] * 100:.2f} % of this "
            "merchant's transactions"
        )
        for r in np.flatnonzero(rare_hour).tolist()
    }

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
            "is_refund": refund.astype(np.float64),
            "refund_ratio": refund_ratio,
            "avs_mismatch": avs_bad.astype(np.float64),
            "csc_mismatch": csc_bad.astype(np.float64),
            "walk_in": (~has_customer).astype(np.float64),
            "declined": (frame["state"].to_numpy() == "declined").astype(np.float64),
        },
        columns=list(MODEL_FEATURES),
    )
    return Evaluation(
        hits=pd.DataFrame({p: np.asarray(hits[p], dtype=bool) for p in RULE_PATTERNS}),
        reasons=reasons,
        features=features,
    )
