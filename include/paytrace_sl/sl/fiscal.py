"""SL's fiscal calendar: which fiscal period (``PerPost`` = ``YYYYPP``) a date falls in.

SL stores the calendar in ``GLSetup``: ``NbrPer`` periods (12 or 13), the end of period *n* as ``'MMDD'``
in ``FiscalPerEnd{n-1:02}`` (``FiscalPerEnd00`` ends period 1), and ``BegFiscalYr``, which names the
fiscal year: ``1`` → by the calendar year in which it *begins*, ``0`` → by the year in which it *ends*.
This mirrors SL's own procedures (``ReverseGL`` border-period logic, ``ADG_GLPeriod_GetEndDateAndYear``):
periods before the first period whose end ``MMDD`` wraps past December 31 fall in calendar year
``FY + BegFiscalYr - 1``, the rest in ``FY + BegFiscalYr``; without a wrap, a year ending ``1231`` lies
entirely in ``FY`` and any other year entirely in ``FY + BegFiscalYr``.

End ``MMDD`` values are taken literally, as SL does: with ``FiscalPerEnd01 = '0228'`` the 29th of February
of a leap year belongs to period 3; ``'0229'`` means February month-end (the 28th in common years).

A 13th period that ends on the same day as period 12 (an adjustment period) is never chosen for a
date — dates go to the first period whose end is on or after them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from dataclasses import dataclass, field

from paytrace_sl.errors import PaytraceSlError


class FiscalCalendarError(PaytraceSlError, ValueError):
    """The GLSetup calendar is malformed, or a period/date lies outside it."""


def _end_date(year: int, mmdd: str) -> dt.date:
    month, day = int(mmdd[:2]), int(mmdd[2:])
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))  # '0229' in non-leap years


@dataclass(frozen=True, slots=True)
class FiscalCalendar:
    """GLSetup's calendar. ``period_ends[i]`` is the ``'MMDD'`` end of period ``i + 1``."""

    nbr_per: int
    period_ends: tuple[str, ...]
    beg_fiscal_yr: int = 0
    _deltas: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.nbr_per <= 13:
            raise FiscalCalendarError(f"GLSetup.NbrPer must be 1..13, got {self.nbr_per}")
        if len(self.period_ends) < self.nbr_per:
            raise FiscalCalendarError(
                f"GLSetup has {len(self.period_ends)} FiscalPerEnd values for NbrPer={self.nbr_per}"
            )
        for i, mmdd in enumerate(self.period_ends[: self.nbr_per]):
            valid = len(mmdd) == 4 and mmdd.isdigit() and 1 <= int(mmdd[:2]) <= 12
            if valid:
                valid = 1 <= int(mmdd[2:]) <= calendar.monthrange(2000, int(mmdd[:2]))[1]
            if not valid:
                raise FiscalCalendarError(f"GLSetup.FiscalPerEnd{i:02d} is not a valid 'MMDD': {mmdd!r}")
        if self.beg_fiscal_yr not in (0, 1):
            raise FiscalCalendarError(f"GLSetup.BegFiscalYr must be 0 or 1, got {self.beg_fiscal_yr}")
        object.__setattr__(self, "period_ends", tuple(self.period_ends[: self.nbr_per]))
        object.__setattr__(self, "_deltas", tuple(self._year_deltas()))

    @classmethod
    def calendar_year(cls) -> FiscalCalendar:
        """12 monthly periods, January–December (PerPost = calendar ``YYYYMM``)."""
        return cls.starting_in_month(1)

    @classmethod
    def starting_in_month(cls, first_month: int, *, named_by_begin_year: bool = False) -> FiscalCalendar:
        """12 monthly periods starting in ``first_month`` (e.g. 7 for a July–June year)."""
        ends = []
        for i in range(12):
            month = (first_month - 1 + i) % 12 + 1
            # '0229' = February month-end: clamped to the 28th in common years (as SL's ReverseGL treats it)
            ends.append(f"{month:02d}{calendar.monthrange(2000, month)[1]:02d}")
        return cls(nbr_per=12, period_ends=tuple(ends), beg_fiscal_yr=1 if named_by_begin_year else 0)

    def _year_deltas(self) -> list[int]:
        """Per period: calendar year of its end date minus the fiscal year number."""
        ends = self.period_ends
        if self.nbr_per == 1:
            return [0]
        border = next((p for p in range(1, self.nbr_per) if ends[p] < ends[p - 1]), None)
        if border is None:
            delta = 0 if ends[-1] == "1231" else self.beg_fiscal_yr
            return [delta] * self.nbr_per
        return [self.beg_fiscal_yr - 1 if p < border else self.beg_fiscal_yr for p in range(self.nbr_per)]

    def period_end(self, per_post: str) -> dt.date:
        """Last day of fiscal period ``per_post`` (``'YYYYPP'``)."""
        fiscal_year, period = self._split(per_post)
        return _end_date(fiscal_year + self._deltas[period - 1], self.period_ends[period - 1])

    def period_start(self, per_post: str) -> dt.date:
        """First day of fiscal period ``per_post``: the day after the previous period ends."""
        fiscal_year, period = self._split(per_post)
        previous = (
            f"{fiscal_year:04d}{period - 1:02d}" if period > 1 else f"{fiscal_year - 1:04d}{self.nbr_per:02d}"
        )
        return self.period_end(previous) + dt.timedelta(days=1)

    def period_for(self, day: dt.date) -> str:
        """The fiscal period ``'YYYYPP'`` containing ``day`` (fiscal year + period number)."""
        if isinstance(day, dt.datetime):
            day = day.date()
        return _period_for(self, day)

    def _search_period(self, day: dt.date) -> str:
        for fiscal_year in (day.year - 1, day.year, day.year + 1, day.year + 2):
            start = self.period_start(f"{fiscal_year:04d}01")
            if day < start:
                continue
            for period in range(1, self.nbr_per + 1):
                if day <= self.period_end(f"{fiscal_year:04d}{period:02d}"):
                    return f"{fiscal_year:04d}{period:02d}"
        raise FiscalCalendarError(f"no fiscal period contains {day.isoformat()}")  # pragma: no cover

    @staticmethod
    def fiscal_year(per_post: str) -> str:
        """``FiscYr`` of a period: its first four characters (SL: ``left(PerPost, 4)``)."""
        if len(per_post) != 6 or not per_post.isdigit():
            raise FiscalCalendarError(f"PerPost must be 'YYYYPP', got {per_post!r}")
        return per_post[:4]

    def _split(self, per_post: str) -> tuple[int, int]:
        year = int(self.fiscal_year(per_post))
        period = int(per_post[4:])
        if not 1 <= period <= self.nbr_per:
            raise FiscalCalendarError(f"period {per_post!r} outside 01..{self.nbr_per:02d}")
        return year, period


def fiscal_year(per_post: str) -> str:
    """``FiscYr`` of ``per_post`` (module-level convenience for :meth:`FiscalCalendar.fiscal_year`)."""
    return FiscalCalendar.fiscal_year(per_post)


@functools.lru_cache(maxsize=8192)
def _period_for(cal: FiscalCalendar, day: dt.date) -> str:
    """Memoised :meth:`FiscalCalendar._search_period` (a few distinct days, looked up once per document)."""
    return cal._search_period(day)
