"""A suggested SL customer for a PayTrace payer: what the workbench shows and one click applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PayerFacts:
    """What we know of a PayTrace payer (never card data beyond the masked number)."""

    paytrace_customer_id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    address: str | None = None
    invoice: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """One candidate SL customer with its score (0..1) and the fields that agreed."""

    cust_id: str
    score: float
    agreed: tuple[str, ...]
    auto_link: bool
    source: str  # "exact", "xref", "invoice" or "fuzzy"


class Suggester(Protocol):
    """Anything that ranks SL customers for a payer, best first."""

    def suggest(self, payer: PayerFacts, limit: int = 3) -> list[Suggestion]: ...
