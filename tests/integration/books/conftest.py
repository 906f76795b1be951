"""Fixtures for the books scenarios: a fresh merchant + SL company per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scenario import Scenario


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Callable[..., Scenario]]:
    """``scenario(unidentified=False)`` builds one; each is stopped after the test."""
    made: list[Scenario] = []

    def make(**kwargs: object) -> Scenario:
        sc = Scenario(tmp_path / f"s{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(sc)
        return sc

    yield make
    for sc in made:
        sc.close()
