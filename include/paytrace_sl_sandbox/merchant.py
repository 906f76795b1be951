"""A deterministic, lazily generated PayTrace merchant: the data behind the sandbox server.

Everything derives from ``(seed, day, slot)`` so a day looks the same whichever days you ask for and in
whatever order, and the output is byte-for-byte reproducible per seed. Each day has ``tx_per_day``
"slots"; each slot has its own RNG and becomes one business event (a sale, an authorization, a refund
of an earlier sale, a decline...). Only one day is ever materialized (to sort it by time and give ids
that increase with time), so a million-record window streams in bounded memory.

Inferred modelling choices (see docs/paytrace-sandbox.md):
* captures happen in place: a captured authorization keeps its transaction_id and ``transaction_type``
  "AUTHORIZATION", its ``amount`` becomes the captured amount and it settles like a sale;
* a void flips the sale to ``N``/"Voided" and, when ``void_records`` is on (default), also adds a
  separate ``VOID`` record with its own id at the void time;
* a refund is its own ``REFUND`` record (new id) carrying the original's invoice_id, customer_id, card;
* the merchant day and the settlement cut-off are merchant-local; a transaction created before the
  cut-off settles in that evening's batch, after it in the next evening's; the last day's late
  transactions stay pending ("Y").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from paytrace_sl.paytrace.timefmt import format_paytrace_datetime
from paytrace_sl_sandbox import shapes

ID_BASE = 80_000_000  # ids look like PayTrace's 8-9 digit integers
BATCH_BASE = 500
REFUND_LOOKBACK_DAYS = 6

_FIRST = (
    "Pat",
    "Alex",
    "Jordan",
    "Casey",
    "Morgan",
    "Taylor",
    "Jamie",
    "Riley",
    "Sam",
    "Drew",
    "Avery",
    "Quinn",
    "Robin",
    "Lee",
    "Dana",
    "Kim",
    "Chris",
    "Terry",
    "Jesse",
    "Cameron",
)
_LAST = (
    "Example",
    "Smith",
    "Garcia",
    "Nguyen",
    "Johnson",
    "Brown",
    "Lopez",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Hall",
    "Allen",
    "King",
    "Wright",
    "Scott",
)
_COMPANY = ("Supply Co", "Industries", "Holdings", "Services", "Builders", "Foods", "Outfitters", "Labs")
_CITIES = (
    ("Spokane", "WA", "99201"),
    ("Seattle", "WA", "98101"),
    ("Portland", "OR", "97201"),
    ("Boise", "ID", "83702"),
    ("Phoenix", "AZ", "85284"),
    ("Denver", "CO", "80202"),
    ("Sacramento", "CA", "95814"),
    ("Reno", "NV", "89501"),
)
_STREETS = ("Main St.", "Oak Ave.", "Pine St.", "Maple Dr.", "Cedar Ln.", "1st Ave.", "Market St.")
# brand, weight, BINs, card length
_BRANDS: tuple[tuple[str, int, tuple[str, ...], int], ...] = (
    ("visa", 55, ("411111", "401200", "414720", "426684", "453201", "476173"), 16),
    ("mastercard", 25, ("545454", "549974", "510510", "522223", "555555"), 16),
    ("amex", 12, ("371449", "378282", "341111"), 15),
    ("discover", 8, ("601100", "601111", "644564"), 16),
)
_BRAND_CUM: tuple[int, ...] = tuple(sum(b[1] for b in _BRANDS[: i + 1]) for i in range(len(_BRANDS)))
_BRAND_BY_BIN = {bin6: b[0] for b in _BRANDS for bin6 in b[2]}


@dataclass(frozen=True)
class SimCustomer:
    """A PayTrace vault customer and the SL customer it belongs to."""

    customer_id: str
    name: str
    email: str
    card_masked: str
    sl_cust_id: str  # == customer_id for most; different for ~10% (exercises the cross-reference table)


@dataclass(frozen=True)
class SimInvoice:
    """An open, released SL invoice that some generated payment references."""

    ref_nbr: str
    cust_id: str  # SL CustId
    amount: Decimal
    doc_date: dt.date


@dataclass(frozen=True)
class SimSalesOrder:
    """An SL sales order whose number some generated payment carries as its invoice_id."""

    ord_nbr: str
    cust_id: str
    amount: Decimal
    order_date: dt.date


@dataclass(frozen=True)
class MerchantConfig:
    seed: int = 42
    start: dt.date = dt.date(2025, 4, 1)
    days: int = 30
    tx_per_day: int = 200
    timezone: str = "America/Los_Angeles"
    settle_cutoff: dt.time = dt.time(20, 0)
    customers: int = 50
    bad_records: bool = False  # add a few deliberately malformed records per day (dead-letter tests)
    void_records: bool = True  # a void also emits its own VOID record (inferred; see module doc)
    # Benchmarks: put ``busy_hour_share`` of each day's slots into the local hour [busy_hour, busy_hour+1)
    # (uniformly), the rest keep the normal profile. None (default) = the normal profile, unchanged output.
    busy_hour: int | None = None
    busy_hour_share: float = 1.0


class _Card:
    """A generated card: only BIN and last four digits ever exist (PCI)."""

    __slots__ = ("bin6", "exp_month", "exp_year", "last4", "length", "masked", "masked_bin")

    def __init__(self, bin6: str, last4: str, length: int, exp_month: int, exp_year: int) -> None:
        self.bin6, self.last4, self.length = bin6, last4, length
        self.exp_month, self.exp_year = exp_month, exp_year  # year is 2-digit, as in the doc example
        self.masked = "*" * (length - 4) + last4
        self.masked_bin = bin6 + "*" * (length - 10) + last4

    @property
    def brand(self) -> str:
        return _BRAND_BY_BIN.get(self.bin6, "private")


def _pick_card(rnd: Callable[[], float]) -> _Card:
    x = int(rnd() * _BRAND_CUM[-1])
    for i, cum in enumerate(_BRAND_CUM):
        if x < cum:
            _, _, bins, length = _BRANDS[i]
            return _Card(
                bins[int(rnd() * len(bins))],
                f"{int(rnd() * 10000):04d}",
                length,
                1 + int(rnd() * 12),
                26 + int(rnd() * 6),
            )
    raise AssertionError("unreachable")


# Flattened BIN table: index -> (bin6, card length, brand)
_BINS: tuple[tuple[str, int, str], ...] = tuple(
    (b, length, name) for name, _, bins, length in _BRANDS for b in bins
)
_BIN_INDEX = {b[0]: i for i, b in enumerate(_BINS)}
_BRAND_FIRST_BIN = np.array(
    [sum(len(b[2]) for b in _BRANDS[:i]) for i in range(len(_BRANDS))], dtype=np.int64
)
_BRAND_NBINS = np.array([len(b[2]) for b in _BRANDS], dtype=np.int64)
_BRAND_EDGES = np.array(_BRAND_CUM, dtype=np.int64)

# Slot kinds (int codes in the day arrays)
K_SALE, K_AUTH, K_DECLINE, K_REFUND_ATTEMPT, K_REFUND = 0, 1, 2, 3, 4
# Invoice reference kinds
INV_NONE, INV_SL, INV_SO, INV_MISSING = 0, 1, 2, 3
# Channels
_CHANNELS = ("API", "Virtual Terminal", "Recurring")
_BY = {"API": "apiuser", "Virtual Terminal": "frontdesk", "Recurring": "recurring"}
# Defects of the deliberately malformed records (``bad_records``), one record each per day.
BAD_RECORD_DEFECTS = ("bad_date", "bad_amount", "missing_transaction_id")
_DRAWS = 34  # uniform draws per slot
_CACHE_DAYS = 7  # raw day arrays kept: today + the REFUND_LOOKBACK_DAYS days refunds look back at
_BLOCK = 4096  # records converted to Python objects at a time while streaming


def brand_of_masked(masked: str) -> str:
    """Card brand from a first6+last4 mask (``include_bin``), else "private"."""
    return _BRAND_BY_BIN.get(masked[:6], "private")


def cents_to_json(cents: int) -> int | float:
    """PayTrace's ``amount``: a JSON number, integral when whole dollars (doc example shows ``110``)."""
    return cents // 100 if cents % 100 == 0 else cents / 100


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _box_muller(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


class _DayArrays:
    """One day's slots as column arrays (index = slot number). Immutable once built."""

    __slots__ = (
        "address_city",
        "address_num",
        "address_street",
        "approval",
        "avs",
        "bin_ix",
        "capture",
        "cents",
        "channel",
        "cust_ix",
        "desc",
        "doc_back",
        "expm",
        "expy",
        "first",
        "follow_amount",
        "inv_kind",
        "inv_seq",
        "inv_total",
        "ip",
        "kind",
        "last",
        "last4",
        "magic",
        "n",
        "po",
        "sec",
        "tax",
        "void_sec",
    )

    n: int
    address_city: np.ndarray
    address_num: np.ndarray
    address_street: np.ndarray
    approval: np.ndarray
    avs: np.ndarray
    bin_ix: np.ndarray
    capture: np.ndarray
    cents: np.ndarray
    channel: np.ndarray
    cust_ix: np.ndarray
    desc: np.ndarray
    doc_back: np.ndarray
    expm: np.ndarray
    expy: np.ndarray
    first: np.ndarray
    follow_amount: np.ndarray
    inv_kind: np.ndarray
    inv_seq: np.ndarray
    inv_total: np.ndarray
    ip: np.ndarray
    kind: np.ndarray
    last: np.ndarray
    last4: np.ndarray
    magic: np.ndarray
    po: np.ndarray
    sec: np.ndarray
    tax: np.ndarray
    void_sec: np.ndarray

    def __init__(self, n: int) -> None:
        self.n = n

    def copy(self) -> _DayArrays:
        out = _DayArrays(self.n)
        for name in self.__slots__:
            if name != "n":
                setattr(out, name, getattr(self, name).copy())
        return out


class Row:
    """One generated export record: the fields the server filters on, rendered to dict/JSON on demand.

    ``to_json`` is a hand-written template (several times faster than ``json.dumps``) that must produce
    exactly ``json.dumps(to_dict(), separators=(",", ":"))``; a unit test holds the two together. It is
    safe because every generated string comes from constant, quote-free word lists.
    """

    __slots__ = (
        "_address",
        "_avs",
        "_cents",
        "_channel",
        "_created",
        "_defect",
        "_description",
        "_exp_month",
        "_exp_year",
        "_ip",
        "_masked",
        "_name",
        "_po",
        "_settled",
        "_tax",
        "approval_code",
        "approval_message",
        "brand",
        "customer_id",
        "invoice_id",
        "status_code",
        "status_message",
        "transaction_id",
        "transaction_type",
    )

    _address: tuple[str, ...]
    _avs: bool
    _cents: int
    _channel: str
    _created: str
    _defect: str
    _description: str
    _exp_month: int
    _exp_year: int
    _ip: str
    _masked: str
    _name: str
    _po: str
    _settled: str
    _tax: int
    approval_code: str
    approval_message: str
    brand: str
    customer_id: str
    invoice_id: str
    status_code: str
    status_message: str
    transaction_id: int
    transaction_type: str

    def __init__(self) -> None:
        self._defect = ""

    @property
    def amount_cents(self) -> int:
        return self._cents

    @property
    def is_bad(self) -> bool:
        return bool(self._defect)

    def to_dict(self) -> dict[str, Any]:
        street, city, state, zip_code = self._address
        avs = self._avs
        rec: dict[str, Any] = {
            "transaction_id": self.transaction_id,
            "credit_card": {
                "masked_number": self._masked,
                "expiration_month": self._exp_month,
                "expiration_year": self._exp_year,
            },
            "transaction_type": self.transaction_type,
            "description": self._description,
            "amount": cents_to_json(self._cents),
            "invoice_id": self.invoice_id,
            "shipping_address": {
                "name": "",
                "street_address": "",
                "street_address2": "",
                "city": "",
                "county": "",
                "state": "",
                "zip": "",
                "country": "",
            },
            "billing_address": {
                "name": self._name,
                "street_address": street,
                "street_address2": "",
                "city": city,
                "state": state,
                "zip": zip_code,
                "country": "US",
            },
            "receipt_emailed_to": "",
            "tax_amount": f"{self._tax // 100}.{self._tax % 100:02d}",
            "customer_reference_id": self._po,
            "approval_code": self.approval_code,
            "approval_message": self.approval_message,
            "avs_response": "Full Exact Match" if avs else "No Match",
            "csc_response": "Match" if avs else "",
            "status_code": self.status_code,
            "status_message": self.status_message,
            "created": {
                "through": self._channel,
                "at": self._created,
                "by": _BY[self._channel],
                "from_ip": self._ip,
            },
            "settled": self._settled,
            "customer_id": self.customer_id,
        }
        if self._defect == "bad_date":
            rec["created"]["at"] = "13/45/2025 99:99:99 XM"
        elif self._defect == "bad_amount":
            rec["amount"] = "abc"
        elif self._defect == "missing_transaction_id":
            del rec["transaction_id"]
        return rec

    def to_json(self) -> str:
        if self._defect:
            return json.dumps(self.to_dict(), separators=(",", ":"))
        street, city, state, zip_code = self._address
        tax = self._tax
        avs = self._avs
        channel = self._channel
        return (
            f'{{"transaction_id":{self.transaction_id},"credit_card":{{"masked_number":"{self._masked}",'
            f'"expiration_month":{self._exp_month},"expiration_year":{self._exp_year}}},'
            f'"transaction_type":"{self.transaction_type}","description":"{self._description}",'
            f'"amount":{cents_to_json(self._cents)},"invoice_id":"{self.invoice_id}",'
            f'"shipping_address":{_EMPTY_SHIPPING},'
            f'"billing_address":{{"name":"{self._name}","street_address":"{street}","street_address2":"",'
            f'"city":"{city}","state":"{state}","zip":"{zip_code}","country":"US"}},'
            f'"receipt_emailed_to":"","tax_amount":"{tax // 100}.{tax % 100:02d}",'
            f'"customer_reference_id":"{self._po}","approval_code":"{self.approval_code}",'
            f'"approval_message":"{self.approval_message}",'
            f'"avs_response":"{"Full Exact Match" if avs else "No Match"}",'
            f'"csc_response":"{"Match" if avs else ""}","status_code":"{self.status_code}",'
            f'"status_message":"{self.status_message}",'
            f'"created":{{"through":"{channel}","at":"{self._created}","by":"{_BY[channel]}",'
            f'"from_ip":"{self._ip}"}},"settled":"{self._settled}","customer_id":"{self.customer_id}"}}'
        )


_EMPTY_SHIPPING = (
    '{"name":"","street_address":"","street_address2":"","city":"","county":"",'
    '"state":"","zip":"","country":""}'
)
_APPROVED = "EXACT MATCH - Approved and completed"
_APPROVED_NO_MATCH = "  NO  MATCH - Approved and completed"


class MerchantSimulation:
    """The generated merchant. Cheap to construct; every method generates on demand."""

    def __init__(self, config: MerchantConfig) -> None:
        if config.days < 0 or config.tx_per_day < 0 or config.customers < 1:
            raise ValueError("days and tx_per_day must be >= 0 and customers >= 1")
        if config.busy_hour is not None and not 0 <= config.busy_hour <= 23:
            raise ValueError("busy_hour must be an hour 0..23 (or None)")
        if not 0.0 <= config.busy_hour_share <= 1.0:
            raise ValueError("busy_hour_share must be between 0 and 1")
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self._cutoff_sec = config.settle_cutoff.hour * 3600 + config.settle_cutoff.minute * 60
        self._id_stride = 10 ** max(3, math.ceil(math.log10(2 * config.tx_per_day + 20)))
        self._raw_cache: OrderedDict[int, _DayArrays] = OrderedDict()
        self._cache_lock = threading.Lock()

    # ----------------------------------------------------------------------------- public helpers
    @property
    def end(self) -> dt.date:
        """Last day of the window (inclusive)."""
        return self.config.start + dt.timedelta(days=self.config.days - 1)

    def in_window(self, day: dt.date) -> bool:
        return self.config.start <= day <= self.end

    def day_index(self, day: dt.date) -> int:
        return (day - self.config.start).days

    def id_base(self, day_index: int) -> int:
        """First transaction id of a day; days never overlap, so ids increase with time."""
        return ID_BASE + day_index * self._id_stride

    def next_free_id(self) -> int:
        """First id after the generated window (the server's processing overlay starts here)."""
        return self.id_base(self.config.days)

    def batch_number(self, day: dt.date) -> int:
        return BATCH_BASE + self.day_index(day) + 1

    def next_free_batch_number(self) -> int:
        return BATCH_BASE + self.config.days + 1

    def settle_time(self, day: dt.date) -> dt.datetime:
        """When the day's batch closes: the cut-off plus a small seeded delay."""
        r = random.Random(f"settle:{self.config.seed}:{day.isoformat()}")
        sec = self._cutoff_sec + r.randint(60, 14 * 60)
        return dt.datetime.combine(day, dt.time(), self.tz) + dt.timedelta(seconds=sec)

    def day_of_id(self, transaction_id: int) -> dt.date | None:
        ix = (transaction_id - ID_BASE) // self._id_stride
        if transaction_id < ID_BASE or ix >= self.config.days:
            return None
        return self.config.start + dt.timedelta(days=ix)

    # ----------------------------------------------------------------------------- customers
    @cached_property
    def _customers(self) -> list[tuple[SimCustomer, _Card, tuple[str, str, str, str]]]:
        out = []
        for i in range(self.config.customers):
            r = random.Random(f"customer:{self.config.seed}:{i}")
            first, last = r.choice(_FIRST), r.choice(_LAST)
            company = r.random() < 0.4
            name = f"{last} {r.choice(_COMPANY)}" if company else f"{first} {last}"
            cid = f"CUST{i + 1:05d}"
            sl = cid if r.random() >= 0.10 else f"SL{r.randrange(10**6):06d}{i:03d}"
            card = _pick_card(r.random)
            email = f"{first.lower()}.{last.lower()}{i + 1}@example.com"
            city = r.choice(_CITIES)
            addr = (f"{r.randint(100, 9999)} {r.choice(_STREETS)}", *city)
            out.append((SimCustomer(cid, name, email, card.masked, sl), card, addr))
        return out

    def customers(self) -> list[SimCustomer]:
        return [c[0] for c in self._customers]

    def customer_records(self, include_bin: bool = False) -> list[dict[str, Any]]:
        """Raw ``customer/export`` rows (shape [I]: v1 customer export fields are undocumented)."""
        rows = []
        for i, (c, card, addr) in enumerate(self._customers):
            created = dt.datetime.combine(self.config.start, dt.time(9, 0), self.tz) - dt.timedelta(
                days=400 - i
            )
            rows.append(
                {
                    "customer_id": c.customer_id,
                    "credit_card": {
                        "masked_number": card.masked_bin if include_bin else card.masked,
                        "expiration_month": card.exp_month,
                        "expiration_year": card.exp_year,
                    },
                    "billing_address": {
                        "name": c.name,
                        "street_address": addr[0],
                        "street_address2": "",
                        "city": addr[1],
                        "state": addr[2],
                        "zip": addr[3],
                        "country": "US",
                    },
                    "email": c.email,
                    "phone": "",
                    "created": {"at": format_paytrace_datetime(created, self.tz), "by": "sandbox"},
                }
            )
        return rows

    # ----------------------------------------------------------------------------- day generation
    def _raw_day(self, day: dt.date) -> _DayArrays:
        """The day's slots before refund resolution (what refunds of later days look back at). Cached."""
        key = day.toordinal()
        with self._cache_lock:
            hit = self._raw_cache.get(key)
            if hit is not None:
                self._raw_cache.move_to_end(key)
                return hit
        arrays = self._generate_raw(day)
        with self._cache_lock:
            self._raw_cache[key] = arrays
            while len(self._raw_cache) > _CACHE_DAYS:
                self._raw_cache.popitem(last=False)
        return arrays

    def _generate_raw(self, day: dt.date) -> _DayArrays:
        cfg = self.config
        n = cfg.tx_per_day
        # PCG64 seeded from (seed, day): a day never depends on which other days were generated.
        rng = np.random.Generator(np.random.PCG64([cfg.seed & 0xFFFFFFFF, day.toordinal(), 0x5A4D]))
        u = rng.random((_DRAWS, n))
        a = _DayArrays(n)
        ix = np.arange(n, dtype=np.int64)
        # Time of day: business-hours peak plus a flat background (seconds after local midnight).
        peak = np.clip((12.5 * 3600 + 2.6 * 3600 * _box_muller(u[1], u[2])).astype(np.int64), 5 * 3600, 86399)
        a.sec = np.where(u[0] < 0.85, peak, (u[3] * 86400).astype(np.int64))
        if cfg.busy_hour is not None:
            # Own RNG stream, so every other field of a slot is the same as without the option.
            busy = np.random.Generator(np.random.PCG64([cfg.seed & 0xFFFFFFFF, day.toordinal(), 0xB5E4]))
            v = busy.random((2, n))
            in_hour = cfg.busy_hour * 3600 + (v[1] * 3600).astype(np.int64)
            a.sec = np.where(v[0] < cfg.busy_hour_share, in_hour, a.sec)
        kind = np.select(
            [u[4] < 0.06, u[4] < 0.18, u[4] < 0.21], [K_REFUND_ATTEMPT, K_AUTH, K_DECLINE], K_SALE
        )
        # Amount: log-normal, to the cent; a few $0.29 sales decline (§7.2).
        cents = np.clip(np.rint(np.exp(4.0 + _box_muller(u[5], u[6])) * 100).astype(np.int64), 100, 2_500_000)
        magic = u[7] < 0.003
        cents[magic] = shapes.MAGIC_DECLINE_AMOUNT_CENTS
        a.magic = magic
        kind[a.magic] = K_DECLINE
        a.kind = kind
        a.cents = cents
        # Customer (vault) or a walk-in card.
        n_cust = len(self._customers)
        has_cust = u[8] < 0.5
        cust_ix = np.where(has_cust, (u[9] * n_cust).astype(np.int64), -1)
        a.cust_ix = cust_ix
        cust_bin, cust_last4, cust_m, cust_y = self._customer_card_arrays
        brand = np.searchsorted(_BRAND_EDGES, (u[10] * _BRAND_EDGES[-1]).astype(np.int64), side="right")
        walk_in_bin = _BRAND_FIRST_BIN[brand] + (u[11] * _BRAND_NBINS[brand]).astype(np.int64)
        safe_cust = np.maximum(cust_ix, 0)
        a.bin_ix = np.where(has_cust, cust_bin[safe_cust], walk_in_bin)
        a.last4 = np.where(has_cust, cust_last4[safe_cust], (u[12] * 10000).astype(np.int64))
        a.expm = np.where(has_cust, cust_m[safe_cust], 1 + (u[13] * 12).astype(np.int64))
        a.expy = np.where(has_cust, cust_y[safe_cust], 26 + (u[14] * 6).astype(np.int64))
        a.first = (u[15] * len(_FIRST)).astype(np.int64)
        a.last = (u[16] * len(_LAST)).astype(np.int64)
        a.address_num = 100 + (u[17] * 9900).astype(np.int64)
        a.address_street = (u[18] * len(_STREETS)).astype(np.int64)
        a.address_city = (u[19] * len(_CITIES)).astype(np.int64)
        # Invoice reference: ~60% an SL invoice, ~5% a sales order, ~5% an unknown invoice, rest none.
        w = u[20]
        a.inv_kind = np.select([w < 0.60, w < 0.65, w < 0.70], [INV_SL, INV_SO, INV_MISSING], INV_NONE)
        a.inv_seq = self.day_index(day) * n + ix
        pf = u[21]
        a.inv_total = np.where(
            pf < 0.7,
            cents,
            np.where(
                a.inv_kind == INV_SL,
                (cents * (1.2 + 6 * (pf - 0.7))).astype(np.int64),
                (cents * (1.2 + 3 * (pf - 0.7))).astype(np.int64),
            ),
        )
        a.doc_back = (u[22] * 31).astype(np.int64)
        a.channel = np.where((u[23] < 0.1) & has_cust, 2, np.where(u[23] < 0.3, 1, 0))
        a.tax = np.where(u[24] < 0.3, np.rint(cents * 0.08 / 1.08).astype(np.int64), 0)
        a.po = np.where(u[25] < 0.2, (u[26] * 100000).astype(np.int64), -1)
        a.desc = np.where(u[27] < 0.3, (u[28] * 1_000_000).astype(np.int64), -1)
        a.approval = (u[29] * 1000).astype(np.int64)
        a.avs = u[30] < 0.8
        a.ip = 1 + (u[31] * 254).astype(np.int64)
        follow, af = u[32], u[33]
        a.follow_amount = np.stack([follow, af])
        # Captures happen in place (an authorization becomes captured, maybe for less).
        partial_capture = np.maximum(1, (cents * (0.5 + af / 3)).astype(np.int64))
        a.capture = np.where(
            (kind == K_AUTH) & (follow < 0.75), np.where(af < 0.85, cents, partial_capture), -1
        )
        # Same-day voids of sales, before the cut-off.
        cutoff = self._cutoff_sec
        voidable = (kind == K_SALE) & (a.sec < cutoff - 120) & (follow < 0.03)
        span = np.minimum(cutoff - a.sec - 61, 3 * 3600)
        a.void_sec = np.where(voidable, a.sec + 60 + (af * np.maximum(span, 0)).astype(np.int64), -1)
        # Keep the cached days small: every integer column fits in 32 bits (amounts are cents <= 75M).
        for name in _DayArrays.__slots__:
            column = getattr(a, name, None)
            if isinstance(column, np.ndarray) and column.dtype == np.int64:
                setattr(a, name, column.astype(np.int32))
        return a

    def _day(self, day: dt.date) -> _DayArrays:
        """The day with refund attempts resolved: a refund of an earlier settled sale, or else a sale."""
        raw = self._raw_day(day)
        attempts = np.flatnonzero(raw.kind == K_REFUND_ATTEMPT)
        a = raw.copy()
        a.kind[attempts] = K_SALE  # unless a refundable original is found below
        if attempts.size == 0:
            return a
        here_abs = day.toordinal() * 86400 + a.sec.astype(np.int64)
        for back in range(1, REFUND_LOOKBACK_DAYS + 1):
            ks = attempts[(attempts % REFUND_LOOKBACK_DAYS) + 1 == back]
            tday = day - dt.timedelta(days=back)
            if ks.size == 0 or not self.in_window(tday):
                continue
            t = self._raw_day(tday)
            tk = t.kind[ks]
            ok = ((tk == K_SALE) & (t.void_sec[ks] < 0)) | ((tk == K_AUTH) & (t.capture[ks] >= 0))
            # It must have settled before the refund: tday's batch, or the next day's if after the cut-off.
            late = t.sec[ks] >= self._cutoff_sec
            settle_today = self._settle_abs(tday)
            next_day = tday + dt.timedelta(days=1)
            settle_next = self._settle_abs(next_day) if self.in_window(next_day) else 2**62
            settle_abs = np.where(late, settle_next, settle_today)
            ok &= settle_abs < here_abs[ks]
            ks = ks[ok]
            if ks.size == 0:
                continue
            a.kind[ks] = K_REFUND
            base = np.where(t.capture[ks] >= 0, t.capture[ks], t.cents[ks]).astype(np.int64)
            follow, af = a.follow_amount[0][ks], a.follow_amount[1][ks]
            a.cents[ks] = np.where(
                follow < 0.6, base, np.maximum(1, (base * (0.1 + 0.8 * af)).astype(np.int64))
            )
            for name in (
                "cust_ix",
                "bin_ix",
                "last4",
                "expm",
                "expy",
                "first",
                "last",
                "address_num",
                "address_street",
                "address_city",
                "inv_kind",
                "inv_seq",
            ):
                getattr(a, name)[ks] = getattr(t, name)[ks]
            a.tax[ks] = 0
            a.channel[ks] = np.where(a.channel[ks] == 2, 1, a.channel[ks])  # no recurring refunds
            a.capture[ks] = -1
            a.void_sec[ks] = -1
            a.magic[ks] = False
        return a

    def _settle_abs(self, day: dt.date) -> int:
        """The settlement moment as local wall-clock seconds since 0001-01-01 (for vector comparisons)."""
        t = self.settle_time(day)
        return day.toordinal() * 86400 + t.hour * 3600 + t.minute * 60 + t.second

    @cached_property
    def _customer_card_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cards = [c[1] for c in self._customers]
        return (
            np.array([_BIN_INDEX[c.bin6] for c in cards], dtype=np.int64),
            np.array([int(c.last4) for c in cards], dtype=np.int64),
            np.array([c.exp_month for c in cards], dtype=np.int64),
            np.array([c.exp_year for c in cards], dtype=np.int64),
        )

    # ----------------------------------------------------------------------------- SL side
    def invoices(self) -> Iterator[SimInvoice]:
        """Open, released SL invoices that generated payments reference (one per referencing payment)."""
        yield from self._sl_documents(INV_SL, SimInvoice)  # type: ignore[misc]

    def sales_orders(self) -> Iterator[SimSalesOrder]:
        """SL sales orders whose numbers generated payments carry as invoice_id."""
        yield from self._sl_documents(INV_SO, SimSalesOrder)  # type: ignore[misc]

    def _sl_documents(self, inv_kind: int, cls: type) -> Iterator[Any]:
        for di in range(self.config.days):
            day = self.config.start + dt.timedelta(days=di)
            a = self._day(day)
            pick = np.flatnonzero((a.inv_kind == inv_kind) & np.isin(a.kind, (K_SALE, K_AUTH, K_DECLINE)))
            for i in pick.tolist():
                ref = _invoice_id(int(a.inv_kind[i]), int(a.inv_seq[i]))
                yield cls(
                    ref,
                    self._sl_customer(int(a.cust_ix[i]), ref),
                    _money(int(a.inv_total[i])),
                    day - dt.timedelta(days=int(a.doc_back[i])),
                )

    def _sl_customer(self, cust_ix: int, ref: str) -> str:
        if cust_ix >= 0:
            return self._customers[cust_ix][0].sl_cust_id
        # A walk-in card payment for an invoice still belongs to some SL customer.
        return self._customers[int(ref[-6:]) % len(self._customers)][0].sl_cust_id

    # ----------------------------------------------------------------------------- transactions
    def transactions_for_day(self, day: dt.date) -> Iterator[dict[str, Any]]:
        """Raw PayTrace export records (§3.1 shape) created on ``day`` (merchant-local), as finally seen."""
        for row in self.rows_for_day(day, include_bin=False):
            yield row.to_dict()

    def rows_for_day(self, day: dt.date, include_bin: bool = False) -> Iterator[Row]:
        """The day's records in time order as :class:`Row` (filterable fields + lazy dict/JSON)."""
        if not self.in_window(day):
            return iter(())
        return self._rows(day, include_bin, 0, None)

    def row_by_id(self, transaction_id: int, include_bin: bool = False) -> Row | None:
        """One generated record by id, rendering only that record (ids are day base + time rank)."""
        day = self.day_of_id(transaction_id)
        if day is None:
            return None
        rank = transaction_id - self.id_base(self.day_index(day))
        return next(self._rows(day, include_bin, rank, rank + 1), None)

    def _rows(self, day: dt.date, include_bin: bool, lo: int, hi: int | None) -> Iterator[Row]:
        a = self._day(day)
        n = a.n
        # Events: every slot, plus a VOID record per voided sale, plus the bad records; sorted by time.
        voided = np.flatnonzero(a.void_sec >= 0) if self.config.void_records else np.empty(0, dtype=np.int64)
        ev_sec = [a.sec, a.void_sec[voided]]
        ev_slot = [np.arange(n, dtype=np.int64), voided]
        ev_sub = [np.zeros(n, dtype=np.int64), np.ones(voided.size, dtype=np.int64)]
        if self.config.bad_records and n > 0:
            r = random.Random(f"bad:{self.config.seed}:{day.isoformat()}")
            count = len(BAD_RECORD_DEFECTS)
            ev_sec.append(
                np.array([8 * 3600 + int(r.random() * 9 * 3600) for _ in range(count)], dtype=np.int64)
            )
            ev_slot.append(np.arange(count, dtype=np.int64) % n)
            ev_sub.append(np.arange(2, 2 + count, dtype=np.int64))
        sec_all = np.concatenate(ev_sec)
        slot_all = np.concatenate(ev_slot)
        sub_all = np.concatenate(ev_sub)
        order = np.lexsort((sub_all, slot_all, sec_all))
        order = order[lo:hi]
        sec_all, slot_all, sub_all = sec_all[order], slot_all[order], sub_all[order]

        base_id = self.id_base(self.day_index(day))
        tz = self.tz
        midnight = dt.datetime.combine(day, dt.time(), tz)
        tomorrow = day + dt.timedelta(days=1)
        today_status = (f"GB{self.batch_number(day)}", format_paytrace_datetime(self.settle_time(day), tz))
        tomorrow_status = (
            (f"GB{self.batch_number(tomorrow)}", format_paytrace_datetime(self.settle_time(tomorrow), tz))
            if self.in_window(tomorrow)
            else None
        )
        cutoff = self._cutoff_sec
        customers = [c[0].customer_id for c in self._customers]
        names = [c[0].name for c in self._customers]
        addresses = [c[2] for c in self._customers]
        # created.at = "<M/D/YYYY> <h:mm:ss AM/PM>": the date part is the day's, the time part comes from a
        # table of the 86,400 local times, both rendered by format_paytrace_datetime.
        date_part = format_paytrace_datetime(midnight, tz).split(" ", 1)[0]
        times = _time_of_day_strings()
        rank = lo
        for start in range(0, sec_all.size, _BLOCK):
            ks = slot_all[start : start + _BLOCK]
            columns = [getattr(a, name)[ks].tolist() for name in _RENDER_COLUMNS]
            secs = sec_all[start : start + _BLOCK].tolist()
            subs = sub_all[start : start + _BLOCK].tolist()
            for (
                sec,
                sub,
                kind,
                cust,
                bin_ix,
                last4,
                expm,
                expy,
                first,
                last,
                address_num,
                address_street,
                address_city,
                inv_kind,
                inv_seq,
                po,
                desc,
                channel,
                tax,
                ip,
                avs,
                approval,
                cents,
                capture,
                void_sec,
                magic,
            ) in zip(secs, subs, *columns, strict=True):
                row = Row()
                row.transaction_id = base_id + rank
                rank += 1
                row._created = f"{date_part} {times[sec]}"
                bin6, length, brand = _BINS[bin_ix]
                last4s = f"{last4:04d}"
                row._masked = (
                    (bin6 + "*" * (length - 10) + last4s) if include_bin else "*" * (length - 4) + last4s
                )
                row.brand = brand
                row._exp_month = expm
                row._exp_year = expy
                if cust >= 0:
                    row.customer_id = customers[cust]
                    row._name = names[cust]
                    row._address = addresses[cust]
                else:
                    row.customer_id = ""
                    row._name = f"{_FIRST[first]} {_LAST[last]}"
                    row._address = (f"{address_num} {_STREETS[address_street]}", *_CITIES[address_city])
                row.invoice_id = _invoice_id(inv_kind, inv_seq) if inv_kind else ""
                row._po = f"PO-{po}" if po >= 0 else ""
                row._description = f"Order {desc:06d}" if desc >= 0 else ""
                row._channel = _CHANNELS[channel]
                row._tax = tax
                row._ip = f"203.0.113.{ip}"
                row._avs = avs
                row.approval_code = f"TAS{approval:03d}"
                row.approval_message = _APPROVED if avs else _APPROVED_NO_MATCH
                row._settled = shapes.UNSETTLED_SETTLED_VALUE
                ttype = "SALE"
                if kind == K_AUTH:
                    ttype = "AUTHORIZATION"
                elif kind == K_REFUND:
                    ttype = "REFUND"
                settled = today_status if sec < cutoff else tomorrow_status
                if sub >= 2:
                    status = shapes.STATUS_DECLINED
                    row._defect = BAD_RECORD_DEFECTS[sub - 2]
                    row.approval_code, row.approval_message = "", shapes.RANDOM_DECLINE_APPROVAL
                elif kind == K_DECLINE:
                    status = shapes.STATUS_DECLINED
                    row.approval_code = ""
                    row.approval_message = (
                        shapes.MAGIC_DECLINE_APPROVAL if magic else shapes.RANDOM_DECLINE_APPROVAL
                    )
                elif kind == K_AUTH and capture < 0:
                    status = shapes.STATUS_AUTH_ONLY
                elif sub == 1:
                    ttype = "VOID"
                    status = shapes.STATUS_VOIDED
                elif void_sec >= 0:
                    status = shapes.STATUS_VOIDED
                elif settled is None:
                    status = shapes.STATUS_PENDING
                else:
                    status = (settled[0], shapes.SETTLED_STATUS_MESSAGE)
                    row._settled = settled[1]
                if kind == K_AUTH and capture >= 0:
                    cents = capture
                row._cents = cents
                row.transaction_type = ttype
                row.status_code, row.status_message = status
                yield row

    # ----------------------------------------------------------------------------- batches
    def batches(self) -> Iterator[dict[str, Any]]:
        """Settled batches (raw §3.3 shape, brands included) whose totals equal their transactions."""
        for di in range(self.config.days):
            yield self.settled_batch(self.config.start + dt.timedelta(days=di))

    def settled_batch(self, day: dt.date) -> dict[str, Any]:
        """The summary of the batch closed on ``day``, computed on the day arrays (no record rendering).

        A batch holds yesterday's after-cut-off settleable slots and today's earlier ones. Settleable =
        what the records show as ``GB<n>``: not declined, not voided, not an uncaptured authorization; VOID
        and bad records never settle. A test checks this against the rendered records.
        """
        totals = np.zeros((len(shapes.BATCH_BRANDS), 4), dtype=np.int64)
        brand_of_bin = np.array([shapes.BATCH_BRANDS.index(b[2]) for b in _BINS], dtype=np.int64)
        for d, late in ((day - dt.timedelta(days=1), True), (day, False)):
            if not self.in_window(d):
                continue
            a = self._day(d)
            settleable = (
                (a.kind != K_DECLINE) & ~((a.kind == K_AUTH) & (a.capture < 0)) & (a.void_sec < 0)
            ) & ((a.sec >= self._cutoff_sec) if late else (a.sec < self._cutoff_sec))
            cents = np.where(a.kind == K_AUTH, a.capture, a.cents).astype(np.int64)
            brand = brand_of_bin[a.bin_ix]
            refund = a.kind == K_REFUND
            for col, mask in ((0, settleable & ~refund), (2, settleable & refund)):
                totals[:, col] += np.bincount(brand[mask], minlength=len(shapes.BATCH_BRANDS))
                totals[:, col + 1] += np.bincount(
                    brand[mask], weights=cents[mask], minlength=len(shapes.BATCH_BRANDS)
                ).astype(np.int64)
        brands = {b: [int(v) for v in totals[i]] for i, b in enumerate(shapes.BATCH_BRANDS)}
        created = format_paytrace_datetime(self.settle_time(day), self.tz)
        return _summary_dict(self.batch_number(day), created, brands)

    def batch_day(self, number: int) -> dt.date | None:
        """The day whose evening settlement produced batch ``number`` (None if not a generated batch)."""
        ix = number - BATCH_BASE - 1
        if 0 <= ix < self.config.days:
            return self.config.start + dt.timedelta(days=ix)
        return None

    def batch_rows(self, day: dt.date, include_bin: bool = False) -> Iterator[Row]:
        """The settled records of the batch closed on ``day`` (yesterday's late ones + today's early ones)."""
        number = f"GB{self.batch_number(day)}"
        for d in (day - dt.timedelta(days=1), day):
            for row in self.rows_for_day(d, include_bin):
                if row.status_code == number:
                    yield row


def summarize_batch(number: int, created: str, items: list[tuple[str, str, int]]) -> dict[str, Any]:
    """A §3.3 batch summary from (transaction_type, brand, cents): REFUNDs are refunds, the rest sales."""
    brands: dict[str, list[int]] = {b: [0, 0, 0, 0] for b in shapes.BATCH_BRANDS}
    for ttype, brand, cents in items:
        slot = brands.setdefault(brand, [0, 0, 0, 0])
        if ttype == "REFUND":
            slot[2] += 1
            slot[3] += cents
        else:
            slot[0] += 1
            slot[1] += cents
    return _summary_dict(number, created, brands)


def _summary_dict(number: int, created: str, brands: dict[str, list[int]]) -> dict[str, Any]:
    """Per-brand [sales_count, sales_cents, refund_count, refund_cents] -> the wire shape (``shapes``)."""
    f = shapes.BATCH_FIELDS
    sales_c = sum(v[0] for v in brands.values())
    sales_cents = sum(v[1] for v in brands.values())
    refund_c = sum(v[2] for v in brands.values())
    refund_cents = sum(v[3] for v in brands.values())
    out: dict[str, Any] = {
        f["number"]: number,
        f["created"]: created,
        f["transaction_count"]: sales_c + refund_c,
        f["net_amount"]: cents_to_json(sales_cents - refund_cents),
        f["sales_count"]: sales_c,
        f["sales_amount"]: cents_to_json(sales_cents),
        f["refund_count"]: refund_c,
        f["refund_amount"]: cents_to_json(refund_cents),
    }
    for b, (sc, sa, rc, ra) in brands.items():
        out[b] = {
            f["sales_count"]: sc,
            f["sales_amount"]: cents_to_json(sa),
            f["refund_count"]: rc,
            f["refund_amount"]: cents_to_json(ra),
        }
    return out


_RENDER_COLUMNS = (
    "kind",
    "cust_ix",
    "bin_ix",
    "last4",
    "expm",
    "expy",
    "first",
    "last",
    "address_num",
    "address_street",
    "address_city",
    "inv_kind",
    "inv_seq",
    "po",
    "desc",
    "channel",
    "tax",
    "ip",
    "avs",
    "approval",
    "cents",
    "capture",
    "void_sec",
    "magic",
)


@functools.cache
def _time_of_day_strings() -> tuple[str, ...]:
    """ "h:mm:ss AM/PM" for every second of a day, via format_paytrace_datetime (built once, ~5 MB)."""
    utc = ZoneInfo("UTC")
    base = dt.datetime(2000, 1, 1, tzinfo=utc)
    return tuple(
        format_paytrace_datetime(base + dt.timedelta(seconds=sec), utc).split(" ", 1)[1]
        for sec in range(86400)
    )


def _invoice_id(inv_kind: int, seq: int) -> str:
    """The invoice_id a payment carries: SL invoice refs are numeric (<= 10 chars, SL RefNbr), sales
    orders "SO" + digits, unknown invoices a number SL never issued, or ""."""
    if inv_kind == INV_SL:
        return f"{1_000_000 + seq}"
    if inv_kind == INV_SO:
        return f"SO{100_000 + seq:07d}"
    if inv_kind == INV_MISSING:
        return f"{900_000_000 + seq}"
    return ""
