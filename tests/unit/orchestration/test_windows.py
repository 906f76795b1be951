"""Merchant-tz windows: hourly windows are one real hour, merchant days are 23/25 h on DST days."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from paytrace_sl.pipeline.windows import Interval, Window, day_window, day_windows, hour_windows

LA = "America/Los_Angeles"
UTC = dt.UTC


def test_spring_forward_day_is_23_hours_and_has_23_real_hours() -> None:
    day = day_window(dt.date(2025, 3, 9), LA)
    assert day.duration == dt.timedelta(hours=23)
    hours = hour_windows(day)
    assert len(hours) == 23
    assert all(h.duration == dt.timedelta(hours=1) for h in hours)
    assert hours[2].start.isoformat() == "2025-03-09T03:00:00-07:00"  # 02:00 local does not exist


def test_fall_back_day_is_25_hours_and_has_25_real_hours() -> None:
    day = day_window(dt.date(2025, 11, 2), LA)
    assert day.duration == dt.timedelta(hours=25)
    hours = hour_windows(day)
    assert len(hours) == 25
    assert all(h.duration == dt.timedelta(hours=1) for h in hours)
    # 01:00 local happens twice: once in PDT, once in PST
    assert [h.start.isoformat() for h in hours[1:3]] == [
        "2025-11-02T01:00:00-07:00",
        "2025-11-02T01:00:00-08:00",
    ]
    assert hours[0].start == day.start and hours[-1].end == day.end


def test_day_windows_are_contiguous_and_end_exclusive() -> None:
    days = day_windows(dt.date(2025, 3, 8), dt.date(2025, 3, 11), LA)
    assert [d.start.date() for d in days] == [dt.date(2025, 3, 8), dt.date(2025, 3, 9), dt.date(2025, 3, 10)]
    assert [d.duration.total_seconds() / 3600 for d in days] == [24, 23, 24]
    for prev, nxt in itertools.pairwise(days):
        assert prev.end == nxt.start
    with pytest.raises(ValueError, match="after start date"):
        day_windows(dt.date(2025, 3, 8), dt.date(2025, 3, 8), LA)


def test_lookback_widens_the_fetch_range_in_real_time() -> None:
    hour = Window(dt.datetime(2025, 3, 9, 10, tzinfo=UTC), dt.datetime(2025, 3, 9, 11, tzinfo=UTC), LA)
    fetch = hour.fetch_range(dt.timedelta(days=1))
    assert fetch.end == hour.end
    assert hour.end.astimezone(UTC) - fetch.start.astimezone(UTC) == dt.timedelta(hours=25)
    assert fetch.request_dates() == (dt.date(2025, 3, 8), dt.date(2025, 3, 9))
    with pytest.raises(ValueError):
        hour.fetch_range(dt.timedelta(hours=-1))


def test_request_dates_end_exclusive_and_split_at_local_midnight() -> None:
    w = Window(
        dt.datetime(2025, 11, 1, 22, tzinfo=ZoneInfo(LA)),
        dt.datetime(2025, 11, 3, 0, tzinfo=ZoneInfo(LA)),
        LA,
    )
    assert w.request_dates() == (dt.date(2025, 11, 1), dt.date(2025, 11, 2))
    pieces = w.days()
    assert [p.duration.total_seconds() / 3600 for p in pieces] == [2, 25]


def test_window_rejects_naive_and_empty_and_round_trips() -> None:
    with pytest.raises(ValueError, match="naive"):
        Window(dt.datetime(2025, 1, 1), dt.datetime(2025, 1, 2), LA)
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="not after"):
        Window(start, start, LA)
    w = day_window(dt.date(2025, 11, 2), LA)
    assert Window.from_json_dict(w.to_json_dict()) == w
    assert w.start.utcoffset() == dt.timedelta(hours=-7)


def test_interval_parse() -> None:
    assert Interval.parse(" Daily ").cron == "0 0 * * *"
    assert Interval.parse("hourly").cron == "0 * * * *"
    with pytest.raises(ValueError, match="unknown interval"):
        Interval.parse("weekly")
