"""Time windows in the merchant's time zone: what one pipeline run is responsible for.

A window is the half-open interval ``[start, end)`` of zone-aware instants. Arithmetic on instants is
done in UTC, never on wall-clock time, so an hourly window is one real hour even on DST days, while a
merchant *day* (midnight to midnight local time) is 23 or 25 hours long on the switch days. The
look-back widens only what is *fetched* from PayTrace, so late records and state changes are caught;
the window itself (what the run reports on) stays as scheduled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

UTC = dt.UTC


class Interval(StrEnum):
    """Schedule granularity of ``paytrace_payments_to_sl``."""

    HOURLY = "hourly"
    DAILY = "daily"

    @property
    def cron(self) -> str:
        """Cron expression whose data intervals, read in the merchant tz, are this granularity."""
        return {"hourly": "0 * * * *", "daily": "0 0 * * *"}[self.value]

    @classmethod
    def parse(cls, value: str) -> Interval:
        try:
            return cls(value.strip().lower())
        except ValueError as exc:
            raise ValueError(f"unknown interval {value!r}: expected 'hourly' or 'daily'") from exc


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The first instant of ``day`` in ``tz`` (normalised through UTC for zones that skip midnight)."""
    naive = dt.datetime.combine(day, dt.time(0))
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def _as_aware(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; windows need zone-aware instants")
    return value.astimezone(tz)


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in the merchant time zone ``tz_name``."""

    start: dt.datetime
    end: dt.datetime
    tz_name: str

    def __post_init__(self) -> None:
        tz = ZoneInfo(self.tz_name)
        object.__setattr__(self, "start", _as_aware(self.start, tz))
        object.__setattr__(self, "end", _as_aware(self.end, tz))
        # Compare in UTC: datetimes sharing a tzinfo compare by wall clock and ignore ``fold``, which
        # gets the repeated hour of a fall-back day wrong.
        if self.end.astimezone(UTC) <= self.start.astimezone(UTC):
            raise ValueError(f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    @property
    def duration(self) -> dt.timedelta:
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)

    @property
    def label(self) -> str:
        """Short human label, e.g. ``2025-03-09 00:00-08:00 → 2025-03-10 00:00-07:00``."""
        fmt = "%Y-%m-%d %H:%M%z"
        return f"{self.start.strftime(fmt)} → {self.end.strftime(fmt)}"

    def contains(self, instant: dt.datetime) -> bool:
        return self.start.astimezone(UTC) <= instant.astimezone(UTC) < self.end.astimezone(UTC)

    def fetch_range(self, lookback: dt.timedelta) -> Window:
        """The wider range fetched from PayTrace: the window plus ``lookback`` before it."""
        if lookback < dt.timedelta(0):
            raise ValueError("look-back must not be negative")
        start = (self.start.astimezone(UTC) - lookback).astimezone(self.tz)
        return Window(start, self.end, self.tz_name)

    def request_dates(self) -> tuple[dt.date, dt.date]:
        """Inclusive merchant-local date range covering the window (PayTrace exports take dates)."""
        last_instant = (self.end.astimezone(UTC) - dt.timedelta(microseconds=1)).astimezone(self.tz)
        return self.start.date(), last_instant.date()

    def days(self) -> list[Window]:
        """The window cut at merchant midnights (one piece per local day it touches)."""
        pieces: list[Window] = []
        cursor = self.start.astimezone(UTC)
        end = self.end.astimezone(UTC)
        while cursor < end:
            local_day = cursor.astimezone(self.tz).date()
            next_midnight = local_midnight(local_day + dt.timedelta(days=1), self.tz).astimezone(UTC)
            piece_end = min(next_midnight, end)
            pieces.append(Window(cursor, piece_end, self.tz_name))
            cursor = piece_end
        return pieces

    def to_json_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "tz": self.tz_name}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Window:
        return cls(
            dt.datetime.fromisoformat(data["start"]), dt.datetime.fromisoformat(data["end"]), data["tz"]
        )


def day_window(day: dt.date, tz_name: str) -> Window:
    """One merchant day, midnight to midnight local time (23 h or 25 h on DST switch days)."""
    tz = ZoneInfo(tz_name)
    return Window(local_midnight(day, tz), local_midnight(day + dt.timedelta(days=1), tz), tz_name)


def day_windows(first_day: dt.date, end_day: dt.date, tz_name: str) -> list[Window]:
    """Merchant days ``[first_day, end_day)`` (end exclusive, like ``sync --start/--end``)."""
    if end_day <= first_day:
        raise ValueError(f"end date {end_day} must be after start date {first_day}")
    return [day_window(first_day + dt.timedelta(days=i), tz_name) for i in range((end_day - first_day).days)]


def hour_windows(window: Window) -> list[Window]:
    """The window cut into real hours (UTC arithmetic): 23 pieces on spring-forward days, 25 on fall-back."""
    pieces: list[Window] = []
    cursor = window.start.astimezone(UTC)
    end = window.end.astimezone(UTC)
    while cursor < end:
        nxt = min(cursor + dt.timedelta(hours=1), end)
        pieces.append(Window(cursor, nxt, window.tz_name))
        cursor = nxt
    return pieces


def window_from_interval(start: dt.datetime, end: dt.datetime, tz_name: str) -> Window:
    """An Airflow data interval (UTC instants) as a merchant-tz window."""
    return Window(start, end, tz_name)
