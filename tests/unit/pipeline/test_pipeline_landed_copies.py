"""LandedCopies (records written as they come) lands byte for byte what Copies + resolve_copies + writing
the resolved records lands, with the same dead letters and counts, for any order of copies."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_tx_builders import tx

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.pipeline.copies import Copies, resolve_copies
from paytrace_sl.pipeline.dead_letters import DeadLetter, parse_failure_letter
from paytrace_sl.pipeline.landing import Landing, LandingError

# one copy of a record: ("tx", id, variant) or ("bad", id or None, field)
Copy = tuple[str, Any, Any]


def _version(key: int, variant: int) -> Transaction:
    base = tx(key, amount="100.00")
    if variant == 1:
        return dataclasses.replace(base, amount=Decimal("7.77"))  # a differing copy
    if variant == 2:
        return dataclasses.replace(base, amount=Decimal("100.0"))  # equal (==), but a different line
    if variant == 3:
        return dataclasses.replace(base, description="changed", customer_id="C9")
    return base


def _letter(key: int | None, field: str) -> DeadLetter:
    raw = {"transaction_id": key, "broken": field} if key is None else {"transaction_id": key}
    return parse_failure_letter(raw, RecordParseError(key, field, "not readable"), "paytrace-transaction")


def _old(copies_in: list[Copy], landing: Landing) -> tuple[bytes, Any]:
    copies = Copies()
    for kind, key, what in copies_in:
        if kind == "tx":
            copies.add(_version(key, what))
        else:
            copies.add_failure(_letter(key, what))
    resolved = resolve_copies(copies)
    landing.write_jsonl("old.jsonl", (t.to_json_dict() for t in resolved.records))
    return landing.path("old.jsonl").read_bytes(), resolved


def _new(copies_in: list[Copy], landing: Landing) -> tuple[bytes, Any, list[int]]:
    written: list[int] = []
    with landing.landed_copies("new.jsonl") as copies:
        for kind, key, what in copies_in:
            if kind == "tx":
                if copies.add(_version(key, what)):
                    written.append(key)
            else:
                copies.add_failure(_letter(key, what))
        landed = copies.finish()
    return landing.path("new.jsonl").read_bytes(), landed, written


copy_strategy = st.one_of(
    st.tuples(st.just("tx"), st.integers(1, 12), st.integers(0, 3)),
    st.tuples(
        st.just("bad"), st.one_of(st.none(), st.integers(1, 12)), st.sampled_from(["amount", "created"])
    ),
)


@given(st.lists(copy_strategy, max_size=40))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_streamed_landing_equals_resolve_copies(tmp_path: Path, copies_in: list[Copy]) -> None:
    landing = Landing(tmp_path, f"run-{abs(hash(tuple(copies_in)))}")
    old_bytes, resolved = _old(copies_in, landing)
    new_bytes, landed, written = _new(copies_in, landing)
    assert new_bytes == old_bytes
    assert landed.written == len(resolved.records)
    assert landed.parse_failures == resolved.parse_failures
    assert landed.conflicts == resolved.conflicts
    assert landed.repeats == resolved.repeats
    # what was written and then taken out again: exactly the first copies of the conflicting ids
    kept = {t.transaction_id for t in resolved.records}
    assert sorted(t.transaction_id for t in landed.removed) == sorted(set(written) - kept)
    assert not [p for p in landing.dir.iterdir() if p.name.endswith(".tmp")]


def test_in_order_without_conflicts_needs_no_second_pass(tmp_path: Path) -> None:
    landing = Landing(tmp_path, "run")
    with landing.landed_copies("t.jsonl") as copies:
        for key in (1, 2, 2, 3):
            copies.add(tx(key))
        first_file = copies._tmp  # the temporary file itself becomes the landing file
        inode = first_file.stat().st_ino
        landed = copies.finish()
    assert landing.path("t.jsonl").stat().st_ino == inode
    assert (landed.written, landed.repeats) == (3, 1)


def test_a_card_number_refuses_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    landing = Landing(tmp_path, "run")
    with pytest.raises(LandingError):
        with landing.landed_copies("t.jsonl") as copies:
            copies.add(tx(1))
            copies.add(tx(2, description="card 4111111111111111"))
            copies.finish()
    assert list(landing.dir.iterdir()) == []


def test_a_failure_part_way_leaves_no_file(tmp_path: Path) -> None:
    landing = Landing(tmp_path, "run")
    with pytest.raises(RuntimeError):
        with landing.landed_copies("t.jsonl") as copies:
            for key in range(20_000, 0, -1):
                copies.add(tx(key))
            raise RuntimeError("PayTrace failed after the records")
    assert list(landing.dir.iterdir()) == []
