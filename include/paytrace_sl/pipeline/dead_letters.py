"""The dead-letter record: one record set aside, with what a person needs to find and fix it.

Its own module so that both the runner (which stores them) and :mod:`paytrace_sl.pipeline.copies`
(which makes them for ids PayTrace returned twice) can use it without importing each other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["DeadLetter", "parse_failure_letter", "record_digest"]

_HEX_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def record_digest(text: str) -> str:
    """128 bits of SHA-256 of ``text`` written with the letters a–p only (hex, digits moved to g–p).

    Landed files are scanned for card numbers; a hex digest holds a Luhn-valid run of 13+ digits about
    once in 550 records, and such a false positive refused every later run that saw the record. Letters
    cannot look like a card number, so our own digests are never a finding.
    """
    return hashlib.sha256(text.encode()).hexdigest()[:32].translate(_HEX_TO_LETTERS)


@dataclass(frozen=True)
class DeadLetter:
    """One record set aside: never the raw value, only what a person needs to find and fix it."""

    transaction_id: int | None
    source: str
    payload: dict[str, Any]
    reason: str
    failed_checks: tuple[str, ...] = ()


def parse_failure_letter(raw: Any, exc: Any, source: str, **extra: Any) -> DeadLetter:
    """A dead letter for a record that could not be parsed: its id, the field and the reason.

    The raw record is never stored (it could hold anything); for a record without a usable id, a digest
    of it tells two broken records apart and recognises the same record seen again.
    """
    txid = exc.transaction_id if isinstance(exc.transaction_id, int) else None
    # With an id, the id names the record (exports differ in details such as include_bin).
    identity = {"transaction_id": txid} if txid is not None else raw
    digest = record_digest(json.dumps(identity, sort_keys=True, default=str))
    return DeadLetter(
        transaction_id=txid,
        source=source,
        payload={"transaction_id": txid, "field": exc.field, "record_digest": digest, **extra},
        reason=f"could not parse field {exc.field!r}: {exc.reason}",
        failed_checks=(f"parse:{exc.field}",),
    )
