"""Sandbox vault customers whose ids differ from SL's, with realistic noise and known ground truth.

A merchant's PayTrace vault and its SL customer list are kept by different people: the vault profile of
SL customer ``C00042`` "Garcia Builders Inc." may be ``PT381920`` "Garcia Builders, LLC" with a gmail
address and last year's street. This module makes such pairs, deterministic for a seed:

* :class:`SLTruth` — an SL customer as the matcher sees it (name, email, phone, address);
* :func:`synthetic_sl_customers` — a population of them (the benchmark's SL side);
* :func:`sl_truth_from_sim` — the SL customers of the sandbox merchant (:mod:`.merchant`), with the
  address and phone the SL sandbox seed writes;
* :func:`noisy_vault` — vault records (the ``customer/export`` shape) for a share of them, each with one
  to three kinds of noise (typo, legal suffix added/dropped/changed, name order swapped, e-mail domain
  changed or e-mail missing, address moved, phone reformatted or missing, case changed), plus *decoys*:
  vault customers that are in no SL table (some share a name with an SL customer).

The ground truth (vault id → SL CustId or None) is returned beside the records and never served by the
API (:class:`VaultSet`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from paytrace_sl_sandbox.merchant import MerchantSimulation

FIRST = (
    "Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Dana", "Kim",
    "Chris", "Terry", "Jesse", "Cameron", "Maria", "James", "Linda", "Robert", "Patricia", "Michael",
    "Barbara", "William", "Susan", "David", "Karen", "Richard", "Nancy", "Joseph", "Lisa", "Thomas",
    "Sandra", "Daniel", "Ashley", "Matthew", "Emily", "Anthony", "Donna", "Mark", "Michelle",
)  # fmt: skip
LAST = (
    "Smith", "Garcia", "Nguyen", "Johnson", "Brown", "Lopez", "Miller", "Davis", "Wilson", "Anderson",
    "Clark", "Lewis", "Walker", "Young", "Hall", "Allen", "King", "Wright", "Scott", "Torres", "Hill",
    "Flores", "Green", "Adams", "Nelson", "Baker", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy",
)  # fmt: skip
BUSINESS = (
    "Supply", "Industries", "Holdings", "Services", "Builders", "Foods", "Outfitters", "Labs", "Electric",
    "Plumbing", "Logistics", "Dental", "Landscaping", "Auto Repair", "Bakery", "Consulting", "Marine",
    "Roofing", "Printing", "Hardware",
)  # fmt: skip
SUFFIXES = ("Inc.", "LLC", "Co.", "Corp.", "Ltd.")
CITIES = (
    ("Spokane", "WA", "99201"), ("Seattle", "WA", "98101"), ("Portland", "OR", "97201"),
    ("Boise", "ID", "83702"), ("Phoenix", "AZ", "85284"), ("Denver", "CO", "80202"),
    ("Sacramento", "CA", "95814"), ("Reno", "NV", "89501"), ("Tacoma", "WA", "98402"),
    ("Eugene", "OR", "97401"), ("Tucson", "AZ", "85701"), ("Fresno", "CA", "93721"),
)  # fmt: skip
STREETS = (
    "Main St", "Oak Ave", "Pine St", "Maple Dr", "Cedar Ln", "1st Ave", "Market St", "Elm St", "Lake Rd",
    "Hill St", "Park Ave", "River Rd", "Sunset Blvd", "Washington St", "Broadway",
)  # fmt: skip
AREA_CODES = ("509", "206", "503", "208", "602", "303", "916", "775")
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "comcast.net")
NOISE_KINDS = ("typo", "suffix", "swap", "email_domain", "email_missing", "moved", "phone", "case")


@dataclass(frozen=True, slots=True)
class SLTruth:
    """An SL customer as the matcher compares it."""

    cust_id: str
    name: str
    email: str
    phone: str  # digits only, 10
    street: str
    city: str
    state: str
    postal_code: str
    person: tuple[str, str] | None = None  # (first, last) for a person, None for a business


@dataclass(frozen=True)
class VaultSet:
    """Vault records in the ``customer/export`` shape and the ground truth the API never shows."""

    records: list[dict[str, Any]]
    truth: dict[str, str | None]  # vault customer id → SL CustId (None = a decoy, in no SL table)
    noise: dict[str, tuple[str, ...]] = field(default_factory=dict)  # vault id → kinds of noise applied


def _person(r: random.Random) -> tuple[str, tuple[str, str]]:
    first, last = r.choice(FIRST), r.choice(LAST)
    return f"{first} {last}", (first, last)


def _business(r: random.Random) -> str:
    base = f"{r.choice(LAST)} {r.choice(BUSINESS)}"
    return f"{base} {r.choice(SUFFIXES)}" if r.random() < 0.6 else base


def _identity(r: random.Random, cust_id: str, index: int) -> SLTruth:
    if r.random() < 0.5:
        name, person = _person(r)
        local = f"{person[0].lower()}.{person[1].lower()}{index}"
        domain = r.choice(FREE_MAIL) if r.random() < 0.5 else "example.com"
    else:
        name, person = _business(r), None
        local = r.choice(("info", "billing", "ap", "accounts", "office"))
        domain = "".join(ch for ch in name.split()[0].lower() if ch.isalpha()) + f"{index}.example.com"
    city = r.choice(CITIES)
    return SLTruth(
        cust_id=cust_id,
        name=name,
        email=f"{local}@{domain}",
        phone=f"{r.choice(AREA_CODES)}555{r.randrange(10**4):04d}",
        street=f"{r.randint(100, 9999)} {r.choice(STREETS)}",
        city=city[0],
        state=city[1],
        postal_code=city[2],
        person=person,
    )


def synthetic_sl_customers(count: int, seed: int = 1) -> list[SLTruth]:
    """``count`` SL customers ``C00001``… (people and businesses; some share a name, as in real books)."""
    return [_identity(random.Random(f"sl:{seed}:{i}"), f"C{i + 1:05d}", i + 1) for i in range(count)]


def sl_truth_from_sim(sim: MerchantSimulation) -> list[SLTruth]:
    """The sandbox merchant's SL customers (one per SL CustId) with the address and phone the SL seed
    writes: the vault record's address, and a phone derived from the customer's position."""
    out: dict[str, SLTruth] = {}
    for i, rec in enumerate(sim.customer_records()):
        sl_id = sim.customers()[i].sl_cust_id
        if sl_id in out:
            continue
        bill = rec["billing_address"]
        out[sl_id] = SLTruth(
            cust_id=sl_id,
            name=bill["name"],
            email=rec["email"],
            phone=f"509555{i:04d}",
            street=bill["street_address"].rstrip("."),
            city=bill["city"],
            state=bill["state"],
            postal_code=bill["zip"],
        )
    return list(out.values())


def _typo(r: random.Random, text: str) -> str:
    positions = [i for i, ch in enumerate(text) if ch.isalpha() and i > 0]
    if not positions:
        return text
    i = r.choice(positions)
    kind = r.randrange(3)
    if kind == 0:  # substitution
        return text[:i] + r.choice("aeiounrst") + text[i + 1 :]
    if kind == 1:  # deletion
        return text[:i] + text[i + 1 :]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :] if i > 0 else text  # transposition


def _suffix(r: random.Random, name: str) -> str:
    words = name.split()
    if words and words[-1] in SUFFIXES:
        return " ".join(words[:-1]) if r.random() < 0.5 else " ".join([*words[:-1], r.choice(SUFFIXES)])
    return f"{name}, {r.choice(SUFFIXES)}" if r.random() < 0.5 else f"{name} {r.choice(SUFFIXES)}"


def _phone_format(r: random.Random, digits: str) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return r.choice((f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", digits))


def _noisy(r: random.Random, t: SLTruth, kinds: tuple[str, ...]) -> SLTruth:
    out = t
    for kind in kinds:
        if kind == "typo":
            out = replace(out, name=_typo(r, out.name))
        elif kind == "suffix":
            out = replace(out, name=_suffix(r, out.name))
        elif kind == "swap":
            first, last = out.name.split(" ", 1) if " " in out.name else (out.name, "")
            out = replace(out, name=r.choice((f"{last}, {first}", f"{last} {first}")).strip(", "))
        elif kind == "email_domain":
            out = replace(out, email=out.email.split("@")[0] + "@" + r.choice(FREE_MAIL))
        elif kind == "email_missing":
            out = replace(out, email="")
        elif kind == "moved":
            city = r.choice(CITIES) if r.random() < 0.5 else (out.city, out.state, out.postal_code)
            out = replace(
                out,
                street=f"{r.randint(100, 9999)} {r.choice(STREETS)}",
                city=city[0],
                state=city[1],
                postal_code=city[2],
            )
        elif kind == "phone":
            out = replace(out, phone="" if r.random() < 0.4 else _phone_format(r, out.phone))
        elif kind == "case":
            out = replace(out, name=out.name.upper())
    return out


def _record(vault_id: str, t: SLTruth, r: random.Random) -> dict[str, Any]:
    last4 = f"{r.randrange(10**4):04d}"
    return {
        "customer_id": vault_id,
        "credit_card": {
            "masked_number": "x" * 12 + last4,
            "expiration_month": r.randint(1, 12),
            "expiration_year": r.randint(2025, 2030),
        },
        "billing_address": {
            "name": t.name,
            "street_address": t.street,
            "street_address2": "",
            "city": t.city,
            "state": t.state,
            "zip": t.postal_code,
            "country": "US",
        },
        "email": t.email,
        "phone": t.phone,
        "created": {"at": "1/15/2025 9:00:00 AM", "by": "sandbox"},
    }


def noisy_vault(
    sl: list[SLTruth], *, seed: int = 1, matched_share: float = 0.5, decoys: int | None = None
) -> VaultSet:
    """Vault records for ``matched_share`` of ``sl`` (noisy copies under new ids) plus ``decoys``
    (default: a quarter as many as the copies) customers found in no SL table."""
    r = random.Random(f"vault:{seed}")
    chosen = [t for t in sl if r.random() < matched_share]
    records: list[dict[str, Any]] = []
    truth: dict[str, str | None] = {}
    noise: dict[str, tuple[str, ...]] = {}
    used: set[str] = set()

    def new_id() -> str:
        while True:
            vid = f"PT{r.randrange(10**6):06d}"
            if vid not in used:
                used.add(vid)
                return vid

    for t in chosen:
        pool = [k for k in NOISE_KINDS if k != "swap" or t.person is not None]
        pool = [k for k in pool if k != "suffix" or t.person is None]
        kinds = tuple(r.sample(pool, r.randint(1, 3)))
        if "email_domain" in kinds and "email_missing" in kinds:
            kinds = tuple(k for k in kinds if k != "email_domain")
        vid = new_id()
        records.append(_record(vid, _noisy(r, t, kinds), r))
        truth[vid] = t.cust_id
        noise[vid] = kinds
    n_decoys = len(chosen) // 4 if decoys is None else decoys
    names = [t.name for t in sl]
    for i in range(n_decoys):
        fake = _identity(random.Random(f"decoy:{seed}:{i}"), "", 100_000 + i)
        if names and i % 3 == 0:  # a namesake: same name as an SL customer, otherwise someone else
            fake = replace(fake, name=r.choice(names))
        vid = new_id()
        records.append(_record(vid, fake, r))
        truth[vid] = None
        noise[vid] = ("decoy",)
    return VaultSet(records=records, truth=truth, noise=noise)


def sandbox_vault(sim: MerchantSimulation) -> VaultSet:
    """The extra vault customers the sandbox serves when ``SandboxConfig.vault_noise`` is on."""
    return noisy_vault(sl_truth_from_sim(sim), seed=sim.config.seed, matched_share=0.6)
