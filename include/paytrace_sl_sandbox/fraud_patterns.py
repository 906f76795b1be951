"""Labelled fraud patterns the PayTrace sandbox injects (issue 16 §1; docs/fraud.md).

``FraudInjection(rate=...)`` adds, per generated day, ``rate × tx_per_day`` (at least one) fraud
*incidents*, the patterns taking turns; each incident is one or more records in PayTrace's §3.1 export
shape, added to the day as new transactions (pending, declined or authorization-only; the server
settles the pending ones of each day but the last in an evening batch of their own). The ground
truth (``transaction_id → pattern``) is kept by the server outside the API answers:
``GET /_sandbox/fraud_labels`` (admin), or :func:`inject_day`'s return value in benches.

Every record is built from a clean record of the same merchant (so channel, address and shape look
normal) and changed only where the pattern says:

- ``card_testing``: 6–12 attempts of $0.50–$3.00 within 2–8 minutes, mostly declined, the rest
  authorization-only, from one new card, or from one new IP with a new card each, or on one customer;
- ``refund_exceeds_sale`` / ``refund_other_card``: a refund of a sale 1–5 days old for 1.3–3× its amount,
  or to a new card with the sale's invoice; ``refund_no_sale``: a refund to a card never seen;
- ``refund_clerk``: a new user (``clerk<N>``) refunding 4–6 earlier sales (in full, same card) in a day;
- ``velocity_cards``: one customer paying with 4–5 new cards; ``velocity_customers``: one new card paying
  for 4–6 different customers;
- ``avs_csc_mismatch``: an approved sale whose AVS and CSC both did not match;
- ``amount_outlier``: a customer's sale 250–1,100× the merchant's typical amount;
- ``unusual_hour``: a large walk-in sale between 01:00 and 05:00 local time.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from paytrace_sl.paytrace.timefmt import format_paytrace_datetime
from paytrace_sl_sandbox import shapes
from paytrace_sl_sandbox.merchant import MerchantSimulation, cents_to_json

INJECTED_PATTERNS: tuple[str, ...] = (
    "card_testing",
    "refund_exceeds_sale",
    "refund_other_card",
    "refund_no_sale",
    "refund_clerk",
    "velocity_cards",
    "velocity_customers",
    "avs_csc_mismatch",
    "amount_outlier",
    "unusual_hour",
)
_BINS = ("411111", "545454", "601100", "371449")
_SCAN = 3000  # clean records read per earlier day when looking for sales to refund


@dataclass(frozen=True)
class FraudInjection:
    """``rate``: incidents per clean transaction (0 = off, the default); ``patterns``: which ones."""

    rate: float = 0.0
    seed: int = 16
    patterns: tuple[str, ...] = INJECTED_PATTERNS

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 0.5:
            raise ValueError("fraud rate must be between 0 and 0.5")
        unknown = [p for p in self.patterns if p not in INJECTED_PATTERNS]
        if unknown or not self.patterns:
            raise ValueError(f"unknown fraud pattern(s) {unknown}; known: {', '.join(INJECTED_PATTERNS)}")

    def incidents(self, tx_per_day: int) -> int:
        return 0 if self.rate <= 0 else max(1, round(self.rate * tx_per_day))


class _Day:
    """One day's injection state: the clean templates, time helpers and the id source."""

    def __init__(self, sim: MerchantSimulation, day: dt.date, rnd: random.Random, next_id: Callable[[], int]):
        self.sim, self.day, self.rnd, self.next_id = sim, day, rnd, next_id
        self.template = next(iter(sim.rows_for_day(day, include_bin=True)), None)
        self._sales: list[dict[str, Any]] | None = None

    def at(self, seconds: int) -> str:
        moment = dt.datetime.combine(self.day, dt.time(), self.sim.tz) + dt.timedelta(seconds=seconds)
        return format_paytrace_datetime(moment, self.sim.tz)

    def new_card(self) -> str:
        b = self.rnd.choice(_BINS)
        length = 15 if b.startswith("37") else 16
        return b + "*" * (length - 10) + f"{self.rnd.randrange(10000):04d}"

    def record(
        self, seconds: int, cents: int, ttype: str = "SALE", status: tuple[str, str] = shapes.STATUS_PENDING
    ) -> dict[str, Any]:
        assert self.template is not None
        rec = copy.deepcopy(self.template.to_dict())
        rec["transaction_id"] = self.next_id()
        rec["transaction_type"] = ttype
        rec["amount"] = cents_to_json(cents)
        rec["tax_amount"] = "0.00"
        rec["status_code"], rec["status_message"] = status
        rec["settled"] = shapes.UNSETTLED_SETTLED_VALUE
        rec["created"]["at"] = self.at(seconds)
        rec["created"]["through"], rec["created"]["by"] = "API", "apiuser"
        rec["created"]["from_ip"] = f"203.0.113.{self.rnd.randint(1, 254)}"
        rec["avs_response"], rec["csc_response"] = "Full Exact Match", "Match"
        rec["approval_code"] = (
            "" if status == shapes.STATUS_DECLINED else f"TAS{self.rnd.randrange(1000):03d}"
        )
        rec["approval_message"] = (
            shapes.RANDOM_DECLINE_APPROVAL
            if status == shapes.STATUS_DECLINED
            else "EXACT MATCH - Approved and completed"
        )
        rec["invoice_id"], rec["customer_reference_id"], rec["description"] = "", "", ""
        rec["customer_id"] = ""
        rec["credit_card"]["masked_number"] = self.new_card()
        return rec

    def customer(self) -> tuple[str, str, str]:
        """A vault customer: (customer_id, masked card WITH bin, name)."""
        records = self.sim.customer_records(include_bin=True)
        c = records[self.rnd.randrange(len(records))]
        return c["customer_id"], c["credit_card"]["masked_number"], c["billing_address"]["name"]

    def sales(self) -> list[dict[str, Any]]:
        """Settled clean sales of the last 1–5 days (what a fraudulent refund refers to)."""
        if self._sales is None:
            found: list[dict[str, Any]] = []
            for back in range(1, 6):
                d = self.day - dt.timedelta(days=back)
                if not self.sim.in_window(d):
                    break
                for row in itertools.islice(self.sim.rows_for_day(d, include_bin=True), _SCAN):
                    if row.transaction_type == "SALE" and row.status_code.startswith("GB") and not row.is_bad:
                        found.append(row.to_dict())
            self._sales = found
        return self._sales

    def daytime(self) -> int:
        return self.rnd.randint(9 * 3600, 18 * 3600)


def _card_testing(d: _Day, k: int) -> list[dict[str, Any]]:
    variant = k % 3  # one card, one IP, one customer
    start, span = d.daytime(), d.rnd.randint(120, 480)
    n = d.rnd.randint(6, 12)
    card = d.new_card()
    ip = f"198.51.100.{d.rnd.randint(1, 254)}"
    cust = d.customer()
    out = []
    for i in range(n):
        declined = d.rnd.random() < 0.8
        rec = d.record(
            start + span * i // n,
            d.rnd.randint(50, 300),
            "SALE" if declined else "AUTHORIZATION",
            shapes.STATUS_DECLINED if declined else shapes.STATUS_AUTH_ONLY,
        )
        if variant == 0:
            rec["credit_card"]["masked_number"] = card
        elif variant == 1:
            rec["created"]["from_ip"] = ip
        else:
            rec["customer_id"] = cust[0]
            rec["credit_card"]["masked_number"] = cust[1]
            rec["billing_address"]["name"] = cust[2]
        out.append(rec)
    return out


def _refund_of(d: _Day, sale: dict[str, Any], cents: int, seconds: int) -> dict[str, Any]:
    rec = d.record(seconds, cents, "REFUND")
    rec["customer_id"] = sale["customer_id"]
    rec["invoice_id"] = sale["invoice_id"]
    rec["credit_card"]["masked_number"] = sale["credit_card"]["masked_number"]
    rec["billing_address"] = copy.deepcopy(sale["billing_address"])
    return rec


def _sale_cents(sale: dict[str, Any]) -> int:
    return int(Decimal(str(sale["amount"])) * 100)  # a 2-decimal JSON amount, never through float


def _refund_exceeds(d: _Day, k: int) -> list[dict[str, Any]]:
    # a sale the refund names (invoice) or a walk-in card's sale: "the sale" is then unambiguous
    sales = [s for s in d.sales() if s["invoice_id"] or not s["customer_id"]]
    if not sales:
        return []
    sale = d.rnd.choice(sales)
    return [_refund_of(d, sale, int(_sale_cents(sale) * d.rnd.uniform(1.3, 3.0)) + 1, d.daytime())]


def _refund_other(d: _Day, k: int) -> list[dict[str, Any]]:
    sales = [s for s in d.sales() if s["invoice_id"]]
    if not sales:
        return []
    sale = d.rnd.choice(sales)
    rec = _refund_of(d, sale, max(100, int(_sale_cents(sale) * d.rnd.uniform(0.5, 1.0))), d.daytime())
    rec["credit_card"]["masked_number"] = d.new_card()
    rec["customer_id"] = ""
    return [rec]


def _refund_no_sale(d: _Day, k: int) -> list[dict[str, Any]]:
    return [d.record(d.daytime(), int(math.exp(4 + d.rnd.gauss(0, 1)) * 100) + 100, "REFUND")]


def _refund_clerk(d: _Day, k: int) -> list[dict[str, Any]]:
    sales = d.sales()
    if len(sales) < 6:
        return []
    clerk = f"clerk{d.rnd.randint(10, 99)}"
    out = []
    for sale in d.rnd.sample(sales, d.rnd.randint(4, 6)):
        rec = _refund_of(d, sale, _sale_cents(sale), d.daytime())
        rec["created"]["through"], rec["created"]["by"] = "Virtual Terminal", clerk
        out.append(rec)
    return out


def _velocity_cards(d: _Day, k: int) -> list[dict[str, Any]]:
    cust_id, _, name = d.customer()
    start = d.daytime()
    out = []
    for i in range(d.rnd.randint(4, 5)):
        rec = d.record(start + i * d.rnd.randint(300, 1800), int(math.exp(4 + d.rnd.gauss(0, 0.7)) * 100))
        rec["customer_id"] = cust_id
        rec["billing_address"]["name"] = name
        out.append(rec)
    return out


def _velocity_customers(d: _Day, k: int) -> list[dict[str, Any]]:
    card = d.new_card()
    records = d.sim.customer_records(include_bin=True)
    out = []
    start = d.daytime()
    for i, c in enumerate(d.rnd.sample(records, min(len(records), d.rnd.randint(4, 6)))):
        rec = d.record(start + i * d.rnd.randint(300, 1800), int(math.exp(4 + d.rnd.gauss(0, 0.7)) * 100))
        rec["customer_id"] = c["customer_id"]
        rec["credit_card"]["masked_number"] = card
        out.append(rec)
    return out


def _avs_csc(d: _Day, k: int) -> list[dict[str, Any]]:
    rec = d.record(d.daytime(), int(math.exp(4 + d.rnd.gauss(0, 1)) * 100) + 100)
    rec["avs_response"], rec["csc_response"] = "No Match", "No Match"
    rec["approval_message"] = "  NO  MATCH - Approved and completed"
    return [rec]


def _amount_outlier(d: _Day, k: int) -> list[dict[str, Any]]:
    cust_id, card, name = d.customer()
    dollars = min(math.exp(4 + d.rnd.uniform(5.5, 7.0)), 99_999.0)
    rec = d.record(d.daytime(), int(dollars * 100))
    rec["customer_id"], rec["credit_card"]["masked_number"] = cust_id, card
    rec["billing_address"]["name"] = name
    return [rec]


def _unusual_hour(d: _Day, k: int) -> list[dict[str, Any]]:
    dollars = math.exp(4 + d.rnd.uniform(3.5, 4.8))
    return [d.record(d.rnd.randint(1 * 3600, 5 * 3600 - 1), int(dollars * 100))]


_MAKERS: dict[str, Callable[[_Day, int], list[dict[str, Any]]]] = {
    "card_testing": _card_testing,
    "refund_exceeds_sale": _refund_exceeds,
    "refund_other_card": _refund_other,
    "refund_no_sale": _refund_no_sale,
    "refund_clerk": _refund_clerk,
    "velocity_cards": _velocity_cards,
    "velocity_customers": _velocity_customers,
    "avs_csc_mismatch": _avs_csc,
    "amount_outlier": _amount_outlier,
    "unusual_hour": _unusual_hour,
}
assert set(_MAKERS) == set(INJECTED_PATTERNS)


def inject_day(
    sim: MerchantSimulation, day: dt.date, cfg: FraudInjection, next_id: Callable[[], int]
) -> list[tuple[dict[str, Any], str]]:
    """The day's injected records (masked numbers WITH bin, like the server's overlay) and their labels."""
    if cfg.rate <= 0 or not sim.in_window(day):
        return []
    rnd = random.Random(f"fraud:{cfg.seed}:{sim.config.seed}:{day.isoformat()}")
    state = _Day(sim, day, rnd, next_id)
    if state.template is None:
        return []
    out: list[tuple[dict[str, Any], str]] = []
    count = cfg.incidents(sim.config.tx_per_day)
    offset = sim.day_index(day) * count
    for i in range(count):
        pattern = cfg.patterns[(offset + i) % len(cfg.patterns)]
        out.extend((rec, pattern) for rec in _MAKERS[pattern](state, offset + i))
    return out


def inject_all(
    sim: MerchantSimulation, cfg: FraudInjection, next_id: Callable[[], int]
) -> Iterator[tuple[dt.date, dict[str, Any], str]]:
    """Every generated day's injected records, in day order."""
    for i in range(sim.config.days):
        day = sim.config.start + dt.timedelta(days=i)
        for rec, label in inject_day(sim, day, cfg, next_id):
            yield day, rec, label
