"""Token bucket pacing and day windows, on an injected clock (no sleeping)."""

from __future__ import annotations

import datetime as dt

from paytrace_sl.paytrace.client import TokenBucket, day_windows


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_paces_to_the_rate_after_the_burst() -> None:
    fake = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=2, clock=fake.clock, sleep=fake.sleep)
    for _ in range(10):
        bucket.acquire()
    assert fake.slept[:1] == [0.25] and len(fake.slept) == 8  # 2 free, then one every 1/4 s
    assert abs((fake.now - 100.0) - 8 * 0.25) < 1e-9


def test_bucket_refills_while_idle_but_not_beyond_burst() -> None:
    fake = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=3, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        bucket.acquire()
    fake.now += 100.0  # a long pause saves up at most `burst` tokens
    for _ in range(3):
        assert bucket.acquire() == 0.0
    assert bucket.acquire() == 1.0


def test_disabled_bucket_never_waits() -> None:
    fake = FakeClock()
    bucket = TokenBucket(rate=0, clock=fake.clock, sleep=fake.sleep)
    assert all(bucket.acquire() == 0.0 for _ in range(100)) and fake.slept == []


def test_day_windows_cover_the_range_exactly() -> None:
    start, end = dt.date(2025, 2, 27), dt.date(2025, 3, 3)
    assert list(day_windows(start, end, 1)) == [
        (dt.date(2025, 2, 27), dt.date(2025, 2, 28)),
        (dt.date(2025, 2, 28), dt.date(2025, 3, 1)),
        (dt.date(2025, 3, 1), dt.date(2025, 3, 2)),
        (dt.date(2025, 3, 2), dt.date(2025, 3, 3)),
    ]
    assert list(day_windows(start, end, 3)) == [(start, dt.date(2025, 3, 2)), (dt.date(2025, 3, 2), end)]
    assert list(day_windows(start, start, 1)) == []
