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

import hashlib
import json
import os
import tempfile
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from paytrace_sl.paytrace.records import SettlementBatch, Transaction
from paytrace_sl.pipeline.dead_letters import DeadLetter

__all__ = [
    "SETTLEMENT_BATCH",
    "TRANSACTION",
    "Copies",
    "Landed",
    "LandedCopies",
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


@dataclass(frozen=True)
class Landed:
    """What :class:`LandedCopies` wrote: like :class:`Resolved`, with the records in the file instead."""

    written: int  # lines in the final file (one per kept id)
    parse_failures: list[DeadLetter]
    conflicts: list[DeadLetter]
    repeats: int = 0
    # first copies of conflicting ids: written while they came, taken out of the file at the end
    removed: list[Transaction] = field(default_factory=list)


_LINES_PER_WRITE = 5000


class LandedCopies:
    """:class:`Copies` + :func:`resolve_copies` for transactions, streamed into a JSON-lines file.

    Each id's first copy is encoded and written to a temporary file next to ``final`` as it comes; the
    process keeps per id only an index entry (id, file offset, an 8-byte digest of the line: about
    100 bytes per id with the dict), never the records. A later copy whose line has the same digest is
    an exact repeat; one with a different line is compared, as :func:`resolve_copies` does, with the
    first copy read back from the file (``Transaction ==``): equal, it is a repeat; different, the id
    conflicts and its distinct versions are kept (rare). :meth:`finish` applies ``resolve_copies``'
    rules: a conflicting id (or one with an unparseable copy) is a dead letter and its line is taken
    out again; lines come out in id order. The temporary file becomes ``final`` as is when it is
    already in id order with nothing to take out; otherwise one more pass copies the kept lines in id
    order. The result is byte for byte the file ``resolve_copies`` + writing ``Resolved.records``
    gives, the letters and counts are the same.

    ``encode`` turns ``Transaction.to_json_dict()`` into one ASCII line; ``check`` (optional) turns a
    batch of lines into the text to write and may refuse it (the landing's card-number scan).
    Use as a context manager: leaving it by an exception removes every temporary file.
    """

    def __init__(
        self,
        final: Path,
        encode: Callable[[dict[str, Any]], str],
        check: Callable[[list[str]], str] | None = None,
    ) -> None:
        self.final = final
        self._encode = encode
        self._check = check or (lambda lines: "\n".join(lines) + "\n")
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
        self._tmp = Path(tmp)
        self._out: BinaryIO = os.fdopen(fd, "w+b")
        self._index: dict[int, int] = {}  # id -> position in the arrays below
        self._ids = array("q")
        self._offsets = array("q")
        self._digests = array("Q")
        self._size = 0  # bytes written + pending
        self._pending: list[str] = []
        self._in_order = True
        self._copies: dict[int, int] = {}  # position -> parsed copies seen, once more than one
        self._distinct: dict[int, list[Transaction]] = {}  # position -> distinct versions (conflicts)
        self._failures = Copies()
        self.records = 0  # parsed copies added

    def __enter__(self) -> LandedCopies:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if not self._out.closed:
            self._out.close()
        self._tmp.unlink(missing_ok=True)

    def add_failure(self, letter: DeadLetter) -> None:
        """A copy that could not be parsed (:meth:`Copies.add_failure`)."""
        self._failures.add_failure(letter)

    def add(self, tx: Transaction) -> bool:
        """One parsed copy; True when it was written (the first copy of its id)."""
        self.records += 1
        key = tx.transaction_id
        line = self._encode(tx.to_json_dict())
        digest = int.from_bytes(hashlib.blake2b(line.encode(), digest_size=8).digest(), "big")
        pos = self._index.get(key)
        if pos is None:
            pos = len(self._ids)
            if pos and self._ids[pos - 1] >= key:
                self._in_order = False
            self._index[key] = pos
            self._ids.append(key)
            self._offsets.append(self._size)
            self._digests.append(digest)
            self._pending.append(line)
            self._size += (len(line) if line.isascii() else len(line.encode())) + 1
            if len(self._pending) >= _LINES_PER_WRITE:
                self._flush()
            return True
        self._copies[pos] = self._copies.get(pos, 1) + 1
        if digest == self._digests[pos]:
            return False  # the same line: an exact repeat
        distinct = self._distinct.get(pos)
        if distinct is None:
            first = self._read_back(pos)
            if first != tx:
                self._distinct[pos] = [first, tx]
        elif tx not in distinct:
            distinct.append(tx)
        return False

    def _flush(self) -> None:
        if self._pending:
            self._out.write(self._check(self._pending).encode())
            self._pending = []

    def _line(self, pos: int, source: BinaryIO) -> bytes:
        start = self._offsets[pos]
        end = self._offsets[pos + 1] if pos + 1 < len(self._offsets) else self._size
        source.seek(start)
        return source.read(end - start)

    def _read_back(self, pos: int) -> Transaction:
        self._flush()
        line = self._line(pos, self._out)
        self._out.seek(0, os.SEEK_END)
        return Transaction.from_json_dict(json.loads(line))

    def finish(self) -> Landed:
        """Resolve the copies, put the final file in place (atomically) and say what was written."""
        self._flush()
        failures = self._failures
        unparseable = dict(failures.unparseable)
        conflicting = set(self._distinct)
        conflicting.update(self._index[k] for k in unparseable if k in self._index)
        conflicts: list[DeadLetter] = []
        removed: list[Transaction] = []
        for pos in sorted(conflicting, key=self._ids.__getitem__):
            key = self._ids[pos]
            versions = self._copies.get(pos, 1)
            distinct = self._distinct.get(pos)
            removed.append(distinct[0] if distinct else self._read_back(pos))
            bad = unparseable.pop(key, None)
            if bad is not None:
                field_name = str(bad.payload.get("field", "?"))
                conflicts.append(
                    conflict_letter(TRANSACTION, key, versions + 1, [f"unparseable:{field_name}"])
                )
            else:
                assert distinct is not None
                fields = sorted({f for other in distinct[1:] for f in differing_fields(distinct[0], other)})
                conflicts.append(conflict_letter(TRANSACTION, key, versions, fields))
        repeats = failures.repeats + sum(n - 1 for pos, n in self._copies.items() if pos not in conflicting)
        if self._in_order and not conflicting:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            os.replace(self._tmp, self.final)
        else:
            self._rewrite(conflicting)
        parse_failures = [*failures.anonymous, *(unparseable[k] for k in sorted(unparseable))]
        return Landed(len(self._ids) - len(conflicting), parse_failures, conflicts, repeats, removed)

    def _rewrite(self, leave_out: set[int]) -> None:
        """The second pass: the kept lines in id order into a new temporary file, renamed to ``final``."""
        order = sorted((p for p in range(len(self._ids)) if p not in leave_out), key=self._ids.__getitem__)
        self._out.flush()
        fd, tmp = tempfile.mkstemp(dir=self.final.parent, prefix=f".{self.final.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                chunk: list[bytes] = []
                for pos in order:
                    chunk.append(self._line(pos, self._out))
                    if len(chunk) >= _LINES_PER_WRITE:
                        out.write(b"".join(chunk))
                        chunk = []
                out.write(b"".join(chunk))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        finally:
            self._out.close()
            self._tmp.unlink(missing_ok=True)
