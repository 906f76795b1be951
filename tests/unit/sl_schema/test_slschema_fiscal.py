"""Fiscal calendar: PerPost is fiscal year + period number, not the calendar month."""

from __future__ import annotations

import datetime as dt

import pytest

from paytrace_sl.sl.fiscal import FiscalCalendar, FiscalCalendarError, fiscal_year

D = dt.date


def test_calendar_year_periods_are_calendar_months() -> None:
    cal = FiscalCalendar.calendar_year()
    assert cal.period_for(D(2025, 1, 1)) == "202501"
    assert cal.period_for(D(2025, 2, 28)) == "202502"
    assert cal.period_for(D(2025, 3, 1)) == "202503"
    assert cal.period_for(D(2024, 12, 31)) == "202412"
    assert cal.period_for(dt.datetime(2025, 6, 30, 23, 59)) == "202506"
    assert cal.period_start("202503") == D(2025, 3, 1)
    assert cal.period_end("202502") == D(2025, 2, 28)
    assert cal.period_end("202402") == D(2024, 2, 29)  # '0229' style clamping works both ways


def test_july_june_year_named_by_end_year() -> None:
    """BegFiscalYr = 0 (SL: "use the year of the end period"): July 2024 is period 01 of FY2025."""
    cal = FiscalCalendar.starting_in_month(7)
    assert cal.period_ends[0] == "0731" and cal.period_ends[-1] == "0630"
    assert cal.period_for(D(2024, 7, 1)) == "202501"
    assert cal.period_for(D(2024, 12, 31)) == "202506"
    assert cal.period_for(D(2025, 1, 1)) == "202507"
    assert cal.period_for(D(2025, 6, 30)) == "202512"
    assert cal.period_for(D(2025, 7, 1)) == "202601"
    assert cal.period_end("202507") == D(2025, 1, 31)
    assert cal.period_start("202501") == D(2024, 7, 1)
    assert fiscal_year(cal.period_for(D(2025, 3, 15))) == "2025"


def test_july_june_year_named_by_begin_year() -> None:
    """BegFiscalYr = 1 ("use the year of the beginning period"): July 2024 is period 01 of FY2024."""
    cal = FiscalCalendar.starting_in_month(7, named_by_begin_year=True)
    assert cal.period_for(D(2024, 7, 1)) == "202401"
    assert cal.period_for(D(2025, 1, 15)) == "202407"
    assert cal.period_for(D(2025, 6, 30)) == "202412"
    assert cal.period_end("202412") == D(2025, 6, 30)


def test_thirteen_periods_with_adjustment_period() -> None:
    """Period 13 ending with period 12 is an adjustment period: no date falls into it."""
    ends = (*FiscalCalendar.calendar_year().period_ends, "1231")
    cal = FiscalCalendar(nbr_per=13, period_ends=ends, beg_fiscal_yr=0)
    assert cal.period_for(D(2025, 12, 31)) == "202512"
    assert cal.period_for(D(2026, 1, 1)) == "202601"
    assert cal.period_end("202513") == D(2025, 12, 31)


def test_thirteen_four_week_periods_not_ending_dec_31() -> None:
    """13 × 4 weeks ending Dec 27 (no wrap): the year starts Dec 28 of the previous calendar year."""
    start = D(2024, 12, 28)
    ends = tuple((start + dt.timedelta(days=28 * (i + 1) - 1)).strftime("%m%d") for i in range(13))
    assert ends[-1] == "1226"
    cal = FiscalCalendar(nbr_per=13, period_ends=ends, beg_fiscal_yr=0)
    assert cal.period_for(D(2025, 1, 24)) == "202501"
    assert cal.period_for(D(2025, 1, 25)) == "202502"
    assert cal.period_for(D(2025, 12, 26)) == "202513"
    assert cal.period_for(D(2025, 12, 27)) == "202601"
    assert cal.period_for(D(2024, 12, 28)) == "202501"


def test_every_day_of_a_year_maps_to_exactly_one_contiguous_period() -> None:
    for cal in (
        FiscalCalendar.calendar_year(),
        FiscalCalendar.starting_in_month(4),
        FiscalCalendar.starting_in_month(10, named_by_begin_year=True),
    ):
        day, previous = D(2023, 1, 1), None
        while day < D(2026, 1, 1):
            per = cal.period_for(day)
            assert cal.period_start(per) <= day <= cal.period_end(per)
            if previous is not None and previous != per:
                assert cal.period_start(per) == day  # periods are contiguous
            previous, day = per, day + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nbr_per": 0, "period_ends": ()}, "NbrPer"),
        ({"nbr_per": 12, "period_ends": ("0131",)}, "FiscalPerEnd"),
        ({"nbr_per": 2, "period_ends": ("0131", "1332")}, "FiscalPerEnd01"),
        ({"nbr_per": 2, "period_ends": ("0631", "1231")}, "FiscalPerEnd00"),
        ({"nbr_per": 1, "period_ends": ("1231",), "beg_fiscal_yr": 2}, "BegFiscalYr"),
    ],
)
def test_malformed_calendar_is_rejected_with_the_field_name(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FiscalCalendarError, match=message):
        FiscalCalendar(**kwargs)  # type: ignore[arg-type]


def test_bad_per_post() -> None:
    cal = FiscalCalendar.calendar_year()
    with pytest.raises(FiscalCalendarError, match="YYYYPP"):
        cal.period_end("2025-1")
    with pytest.raises(FiscalCalendarError, match="outside"):
        cal.period_end("202513")
