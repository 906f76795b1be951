"""One policy for "PayTrace returned an id more than once", for transactions and settlement batches.

PayTrace may list one ``transaction_id`` (or batch ``number``) more than once: in both the regular and
the ``DECLINED`` export, in overlapping requests, or — a PayTrace fault — with different content. Every
place that reads exports (the ``extract`` CLI, the payments and settlements extract steps, replay) puts
each copy into :class:`Copies` and asks :func:`resolve_copies`:

* exact repeats collapse into one record;
* an id whose copies differ (or of which one copy could not be parsed) is set aside as one dead letter
  naming the id and the differing *field names*, never a value (the fields may be card data); none of
  its copies is processed, because nobody can tell which one is true;
* a record that could not be parsed is a dead letter of its own (:func:`parse_failure_letter`).

No raw record is kept: dead letters carry ids, field names and digests only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paytrace_sl.paytrace.records import SettlementBatch, Transaction
from paytrace_sl.pipeline.dead_letters import DeadLetter

__all__ = [
    "SETTLEMENT_BATCH",
    "TRANSACTION",
    "Copies",
    "RecordKind",
    "Resolved",
    "conflict_letter",
    "differing_fields",
    "resolve_copies",
]


@dataclass(frozen=True, slots=True)
class RecordKind:
    """What kind of PayTrace record an id names: its label in messages, its payload key, its source."""

    label: str
    key_field: str
    source: str


TRANSACTION = RecordKind("transaction", "transaction_id", "paytrace-transaction")
SETTLEMENT_BATCH = RecordKind("settlement batch", "batch_number", "paytrace-batch")


def record_key(record: Transaction | SettlementBatch) -> int:
    """The id PayTrace names a record by: a transaction's ``transaction_id``, a batch's ``number``."""
    return record.transaction_id if isinstance(record, Transaction) else record.number


def differing_fields(a: Transaction | SettlementBatch, b: Transaction | SettlementBatch) -> list[str]:
    """Names of the normalized fields in which two copies of one record differ (names only, no values)."""
    left, right = a.to_json_dict(), b.to_json_dict()
    return sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))


@dataclass
class Copies:
    """Every copy of each record one extract saw, before :func:`resolve_copies` decides what to keep."""

    kind: RecordKind = TRANSACTION
    parsed: dict[int, list[Any]] = field(default_factory=dict)
    unparseable: dict[int, DeadLetter] = field(default_factory=dict)  # parse failures with an id
    anonymous: list[DeadLetter] = field(default_factory=list)  # parse failures without a usable id
    repeats: int = 0  # unparseable copies seen again (parsed repeats are counted by resolve_copies)
    _anonymous_digests: set[str] = field(default_factory=set)

    def add(self, record: Transaction | SettlementBatch) -> None:
        self.parsed.setdefault(record_key(record), []).append(record)

    def add_failure(self, letter: DeadLetter, key: int | None = None) -> None:
        """A copy that could not be parsed; ``key`` is its id when the letter does not carry it (batches)."""
        key = letter.transaction_id if key is None else key
        if key is not None:
            if key in self.unparseable:
                self.repeats += 1
            self.unparseable.setdefault(key, letter)
        elif letter.payload["record_digest"] not in self._anonymous_digests:
            self._anonymous_digests.add(letter.payload["record_digest"])
            self.anonymous.append(letter)
        else:
            self.repeats += 1


@dataclass(frozen=True)
class Resolved:
    """One record per id (``records``, in id order), the parse failures and the conflicting ids."""

    records: list[Any]
    parse_failures: list[DeadLetter]
    conflicts: list[DeadLetter]
    repeats: int = 0  # exact repeats collapsed

    @property
    def transactions(self) -> list[Transaction]:
        return list(self.records)


def conflict_letter(kind: RecordKind, key: int, copies: int, fields: Sequence[str]) -> DeadLetter:
    """The dead letter of an id PayTrace returned with different content: the id and the differing field
    names, never a value (the fields may be card data)."""
    names = ", ".join(fields)
    return DeadLetter(
        transaction_id=key if kind is TRANSACTION else None,
        source=kind.source,
        payload={kind.key_field: key, "copies": copies, "differing_fields": list(fields)},
        reason=(
            f"PayTrace returned {kind.label} {key} {copies} times with different content "
            f"(differing fields: {names}); none of the copies was processed"
        ),
        failed_checks=tuple(f"duplicate_id:{f}" for f in fields),
    )


def resolve_copies(copies: Copies) -> Resolved:
    """One record per id: identical copies collapse silently; an id whose copies differ (or of which one
    copy could not be parsed) becomes one dead letter naming the id and the differing fields."""
    kept: list[Any] = []
    conflicts: list[DeadLetter] = []
    repeats = copies.repeats
    unparseable = dict(copies.unparseable)
    for key in sorted(copies.parsed):
        versions = copies.parsed[key]
        distinct: list[Any] = []
        for version in versions:
            if version not in distinct:
                distinct.append(version)
        bad = unparseable.pop(key, None)
        if bad is not None:
            field_name = str(bad.payload.get("field", "?"))
            conflicts.append(
                conflict_letter(copies.kind, key, len(versions) + 1, [f"unparseable:{field_name}"])
            )
        elif len(distinct) > 1:
            fields = sorted({f for other in distinct[1:] for f in differing_fields(distinct[0], other)})
            conflicts.append(conflict_letter(copies.kind, key, len(versions), fields))
        else:
            repeats += len(versions) - 1
            kept.append(distinct[0])
    failures = [*copies.anonymous, *(unparseable[k] for k in sorted(unparseable))]
    return Resolved(kept, failures, conflicts, repeats)
