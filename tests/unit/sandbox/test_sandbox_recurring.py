"""The sandbox's recurring calendar: month ends keep the schedule's anchor day."""

from __future__ import annotations

import datetime as dt

import pytest

from paytrace_sl_sandbox.recurring import next_due


@pytest.mark.parametrize(
    ("day", "frequency", "anchor", "expected"),
    [
        (dt.date(2025, 1, 31), "monthly", 31, dt.date(2025, 2, 28)),
        (dt.date(2025, 2, 28), "monthly", 31, dt.date(2025, 3, 31)),
        (dt.date(2025, 12, 15), "monthly", 15, dt.date(2026, 1, 15)),
        (dt.date(2025, 11, 30), "quarterly", 30, dt.date(2026, 2, 28)),
        (dt.date(2024, 2, 29), "annually", 29, dt.date(2025, 2, 28)),
        (dt.date(2025, 4, 17), "first_of_month", 17, dt.date(2025, 5, 1)),
        (dt.date(2025, 4, 1), "weekly", 1, dt.date(2025, 4, 8)),
        (dt.date(2025, 4, 1), "biweekly", 1, dt.date(2025, 4, 15)),
        (dt.date(2025, 4, 30), "daily", 30, dt.date(2025, 5, 1)),
    ],
)
def test_next_due(day: dt.date, frequency: str, anchor: int, expected: dt.date) -> None:
    assert next_due(day, frequency, anchor) == expected
