"""Issue 11 §6: an authorization captured after the look-back is posted by the settlement run (the
completeness backstop) before its deposit entry is written, dated when it was captured."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from scenario import Scenario

from paytrace_sl.pipeline.runner import run_settlements
from paytrace_sl.pipeline.windows import day_window

pytestmark = pytest.mark.integration


def test_late_capture_is_posted_by_the_settlement_run(scenario: Callable[..., Scenario]) -> None:
    sc = scenario()  # look-back 3 days
    sc.at("2025-05-01T10:00")
    auth = sc.sale("90.00", customer=0, auth=True)
    sc.sync("2025-05-01", settlements=False)
    assert sc.ledger(auth) == []  # "Authorization Only": skipped, awaiting capture
    sc.at("2025-05-06T11:00")  # five days later: the 05-06 run reads 05-03..05-06 only
    sc.capture(auth, "85.00")
    sc.at("2025-05-06T22:00")
    sc.settle()
    summary = sc.sync("2025-05-06", settlements=False)
    assert summary["posted"] == 0  # the payment run cannot see it (created.at is 05-01)
    steps = _settle(sc, "2025-05-06")
    assert steps["settle_load"]["backstop"]["posted"] == 1, steps["settle_load"]
    pa = sc.doc("PA", str(auth))
    assert (pa["OrigDocAmt"], pa["DocDate"].date()) == (85.0, dt.date(2025, 5, 6))
    sc.release()
    books = sc.books()
    books.assert_ok()
    assert books.account_change("1020") == 0 and books.account_change("1010") == Decimal("85.00")
    again = _settle(sc, "2025-05-06")  # re-running the settlement changes nothing
    assert again["settle_load"]["backstop"]["missing"] == 0


def _settle(sc: Scenario, day: str) -> dict[str, dict[str, Any]]:
    """One settlement run; the summary of each step by name."""
    steps: dict[str, dict[str, Any]] = {}
    window = day_window(dt.date.fromisoformat(day), "America/Los_Angeles")
    run_settlements(sc.cfg, window, f"s-{day}-{len(sc.runs)}", on_step=lambda n, s: steps.__setitem__(n, s))
    sc.runs.append(steps)
    return steps
