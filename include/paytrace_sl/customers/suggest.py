"""Assisted customer matching: rank SL customers for a PayTrace payer, best first.

Comparisons are rapidfuzz's (``token_sort_ratio`` for names and streets, so "Smith, Jordan" meets
"Jordan Smith" and a typo costs a few points; ``process.extract`` for blocking) on five fields, each
normalized first: name (case, punctuation and legal suffixes such as Inc./LLC/Co. dropped), e-mail
(the address, else its local part when only the domain changed), phone (last ten digits), postal code
(first five) and street address (common abbreviations folded). The score is a weighted sum of the
field similarities over the fields the payer has (a field SL lacks counts 0), so a payer known only by
name can never reach the auto-link threshold on a name alone.

Auto-link (``Suggestion.auto_link``) needs all of: score ≥ ``auto_link_threshold`` (default 0.9), at
least two agreeing fields besides the name, and a lead of ≥ ``margin`` (0.1) over the next candidate —
two SL customers of the same name and city are a person's call. Below the suggestion threshold
(default 0.55) nothing is suggested. Both thresholds are set in mapping.yaml (``customers:``) and were
chosen with ``bench/bench_matching.py`` (docs/customers.md).

Exact CustId and the cross-reference table (``xPTCustXref``) come first, with score 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from rapidfuzz import fuzz, process, utils

from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTCustXref
from paytrace_sl.suggestion import PayerFacts, Suggestion

WEIGHTS: dict[str, float] = {"name": 0.35, "email": 0.25, "phone": 0.15, "postal_code": 0.1, "address": 0.15}
AGREE_AT = 0.85  # a field similarity at or above this is "agreed" (shown on the workbench)
DEFAULT_AUTO_LINK = 0.9
DEFAULT_SUGGEST = 0.55
DEFAULT_MARGIN = 0.1
BLOCK = 25  # candidates per blocking key

_LEGAL = {
    "inc", "incorporated", "llc", "l l c", "ltd", "limited", "co", "corp", "corporation", "company",
    "the", "lp", "llp", "pllc", "pc",
}  # fmt: skip
_STREET_WORDS = {
    "street": "st", "avenue": "ave", "drive": "dr", "lane": "ln", "road": "rd", "boulevard": "blvd",
    "north": "n", "south": "s", "east": "e", "west": "w", "suite": "ste", "apartment": "apt",
}  # fmt: skip


def norm_name(value: str | None) -> str:
    words = utils.default_process(value or "").split()
    return " ".join(w for w in words if w not in _LEGAL)


def norm_email(value: str | None) -> str:
    text = (value or "").strip().lower()
    return text if "@" in text else ""


# shared mailboxes: the same name at another domain is another business, not a moved one
ROLE_MAILBOXES = frozenset(
    "info billing ap ar accounts accounting office admin sales contact support orders invoices hello "
    "service payments finance mail team".split()
)


def _personal_local(email: str) -> str:
    """The local part of an address when it names a person (``""`` for role mailboxes)."""
    local = email.split("@")[0]
    return "" if local in ROLE_MAILBOXES else local


def norm_phone(value: str | None) -> str:
    digits = re.sub(r"\D", "", value or "")
    return digits[-10:] if len(digits) >= 7 else ""


def norm_postal(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")[:5]


def norm_address(value: str | None) -> str:
    words = utils.default_process(value or "").split()
    return " ".join(_STREET_WORDS.get(w, w) for w in words)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An SL customer in comparable form."""

    cust_id: str
    name: str
    email: str
    phone: str
    postal_code: str
    address: str
    active: bool = True

    @classmethod
    def of(
        cls,
        cust_id: str,
        name: str | None,
        email: str | None = None,
        phone: str | None = None,
        postal_code: str | None = None,
        address: str | None = None,
        active: bool = True,
    ) -> Candidate:
        return cls(
            cust_id=cust_id.strip(),
            name=norm_name(name),
            email=norm_email(email),
            phone=norm_phone(phone),
            postal_code=norm_postal(postal_code),
            address=norm_address(address),
            active=active,
        )


def compare(payer: Candidate, sl: Candidate) -> dict[str, float]:
    """Per-field similarity 0..1 for the fields the payer has (absent on the SL side → 0)."""
    out: dict[str, float] = {}
    if payer.name:
        out["name"] = fuzz.token_sort_ratio(payer.name, sl.name) / 100 if sl.name else 0.0
    if payer.email:
        if payer.email == sl.email:
            out["email"] = 1.0
        elif sl.email and _personal_local(payer.email) == _personal_local(sl.email) != "":
            out["email"] = 0.85  # same mailbox name, another domain (moved to gmail, new company domain)
        else:
            out["email"] = 0.0
    if payer.phone:
        out["phone"] = 1.0 if sl.phone and payer.phone[-7:] == sl.phone[-7:] else 0.0
    if payer.postal_code:
        out["postal_code"] = 1.0 if payer.postal_code == sl.postal_code else 0.0
    if payer.address:
        out["address"] = fuzz.token_sort_ratio(payer.address, sl.address) / 100 if sl.address else 0.0
    return out


def score(similarities: dict[str, float]) -> float:
    known = sum(WEIGHTS[f] for f in similarities)
    if not known:
        return 0.0
    # fields the payer lacks shrink the evidence: a payer with name only scores at most 0.35/0.6
    evidence = sum(WEIGHTS[f] * s for f, s in similarities.items())
    return round(evidence / max(known, 0.6), 4)


class FuzzySuggester:
    """Ranks SL customers for a payer (implements :class:`paytrace_sl.suggestion.Suggester`)."""

    def __init__(
        self,
        customers: Iterable[Candidate],
        xref: dict[str, str] | None = None,
        *,
        auto_link_threshold: float = DEFAULT_AUTO_LINK,
        suggest_threshold: float = DEFAULT_SUGGEST,
        margin: float = DEFAULT_MARGIN,
        invoice_lookup: Callable[[str], str | None] | None = None,
    ) -> None:
        self.customers = [c for c in customers if c.cust_id]
        self.invoice_lookup = invoice_lookup
        self.by_id = {c.cust_id: c for c in self.customers}
        self.xref = dict(xref or {})
        self.auto_link_threshold = auto_link_threshold
        self.suggest_threshold = suggest_threshold
        self.margin = margin
        self._names = [c.name for c in self.customers]
        self._by_email: dict[str, list[int]] = {}
        self._by_local: dict[str, list[int]] = {}
        self._by_phone: dict[str, list[int]] = {}
        for i, c in enumerate(self.customers):
            if c.email:
                self._by_email.setdefault(c.email, []).append(i)
                self._by_local.setdefault(c.email.split("@")[0], []).append(i)
            if c.phone:
                self._by_phone.setdefault(c.phone[-7:], []).append(i)

    def _block(self, payer: Candidate) -> set[int]:
        found: set[int] = set()
        if payer.name:
            hits = process.extract(
                payer.name, self._names, scorer=fuzz.token_sort_ratio, limit=BLOCK, score_cutoff=60
            )
            found.update(i for _, s, i in hits if s >= 60)
        if payer.email:
            found.update(self._by_email.get(payer.email, ()))
            found.update(self._by_local.get(_personal_local(payer.email) or payer.email, ()))
        if payer.phone:
            found.update(self._by_phone.get(payer.phone[-7:], ()))
        return found

    def suggest(self, payer: PayerFacts, limit: int = 3) -> list[Suggestion]:
        pid = (payer.paytrace_customer_id or "").strip()
        if pid and pid in self.by_id:
            return [Suggestion(pid, 1.0, ("customer_id",), True, "exact")]
        if pid and pid in self.xref:
            return [Suggestion(self.xref[pid], 1.0, ("customer_id",), True, "xref")]
        probe = Candidate.of(
            pid, payer.name, payer.email, payer.phone, payer.postal_code, payer.address, active=True
        )
        out: list[Suggestion] = []
        invoice = (payer.invoice or "").strip()
        by_invoice = self.invoice_lookup(invoice) if invoice and self.invoice_lookup else None
        if by_invoice:
            # the customer of the SL invoice the payer quoted: first, never auto-linked (a quoted number
            # can be a typo); the fields that also agree with that customer are shown beside it
            sims = compare(probe, self.by_id[by_invoice]) if by_invoice in self.by_id else {}
            agreed_inv = ("invoice", *(f for f in WEIGHTS if sims.get(f, 0.0) >= AGREE_AT))
            out.append(Suggestion(by_invoice, max(0.9, score(sims)), agreed_inv, False, "invoice"))
        ranked: list[tuple[float, Candidate, dict[str, float]]] = []
        for i in self._block(probe):
            sl = self.customers[i]
            sims = compare(probe, sl)
            ranked.append((score(sims), sl, sims))
        ranked.sort(key=lambda t: (-t[0], t[1].cust_id))
        for pos, (value, sl, sims) in enumerate(ranked[:limit]):
            if value < self.suggest_threshold or len(out) >= limit:
                break
            if sl.cust_id == by_invoice:
                continue
            agreed = tuple(f for f in WEIGHTS if sims.get(f, 0.0) >= AGREE_AT)
            runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
            auto = (
                pos == 0
                and not by_invoice
                and sl.active
                and value >= self.auto_link_threshold
                and len([f for f in agreed if f != "name"]) >= 2
                and value - runner_up >= self.margin
            )
            out.append(Suggestion(sl.cust_id, value, agreed, auto, "fuzzy"))
        return out


def load_candidates(conn: sa.Connection) -> list[Candidate]:
    """Every SL customer (inactive ones too: a suggestion may name one, it is never auto-linked)."""
    c = catalog.Customer.c
    rows = conn.execute(
        sa.select(
            c.CustId,
            c.Name,
            c.BillName,
            c.EMailAddr,
            c.Phone,
            c.BillPhone,
            c.Zip,
            c.BillZip,
            c.Addr1,
            c.BillAddr1,
            c.Status,
        )
    ).all()
    out = []
    for cust_id, name, bill_name, email, phone, bill_phone, zip_, bill_zip, addr, bill_addr, status in rows:

        def pick(main: str | None, bill: str | None) -> str:
            return (main or "").strip() or (bill or "").strip()

        out.append(
            Candidate.of(
                str(cust_id),
                pick(name, bill_name),
                pick(email, None),
                pick(bill_phone, phone),
                pick(bill_zip, zip_),
                pick(bill_addr, addr),
                active=(status or "").strip() != "I",
            )
        )
    return out


def load_xref(conn: sa.Connection) -> dict[str, str]:
    x = xPTCustXref.c
    return {
        str(pid): str(cid).strip()
        for pid, cid in conn.execute(sa.select(x.paytrace_customer_id, x.cust_id).where(x.active == 1))
    }


def build_suggester(
    engine: sa.Engine,
    *,
    auto_link_threshold: float | None = None,
    suggest_threshold: float | None = None,
    margin: float = DEFAULT_MARGIN,
) -> FuzzySuggester:
    """A :class:`FuzzySuggester` over the SL database's customers and our cross-reference (one read).

    Thresholds not given come from mapping.yaml (``customers.auto_link_threshold`` and
    ``suggest_threshold``, found as everywhere: ``PAYTRACE_SL_MAPPING``, else the shipped file), so the
    workbench and the customers DAG agree.
    """
    if auto_link_threshold is None or suggest_threshold is None:
        from paytrace_sl.pipeline.mapping import load_mapping
        from paytrace_sl.settings import mapping_path

        matching = load_mapping(mapping_path(None)).customers
        auto_link_threshold = (
            matching.auto_link_threshold if auto_link_threshold is None else auto_link_threshold
        )
        suggest_threshold = matching.suggest_threshold if suggest_threshold is None else suggest_threshold
    with engine.connect() as conn:
        customers = load_candidates(conn)
        xref = load_xref(conn)
    return FuzzySuggester(
        customers,
        xref,
        auto_link_threshold=auto_link_threshold,
        suggest_threshold=suggest_threshold,
        margin=margin,
        invoice_lookup=invoice_customer(engine),
    )


INVOICE_DOC_TYPES = ("IN", "DM", "FI")


def invoice_customer(engine: sa.Engine) -> Callable[[str], str | None]:
    """A look-up: SL invoice RefNbr → its customer (None when no invoice, or several customers, have it)."""
    d = catalog.ARDoc.c

    def lookup(ref_nbr: str) -> str | None:
        if not ref_nbr or len(ref_nbr) > 10:  # ARDoc.RefNbr is char(10)
            return None
        with engine.connect() as conn:
            found = {
                str(c).strip()
                for (c,) in conn.execute(
                    sa.select(d.CustId)
                    .where(d.RefNbr == ref_nbr, d.DocType.in_(INVOICE_DOC_TYPES))
                    .distinct()
                )
            }
        return found.pop() if len(found) == 1 else None

    return lookup


def best(suggestions: Sequence[Suggestion]) -> Suggestion | None:
    return suggestions[0] if suggestions else None
