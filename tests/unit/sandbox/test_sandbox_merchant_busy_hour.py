"""The benchmark option ``busy_hour``: a day's volume concentrated in one local hour, all else unchanged."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from paytrace_sl.paytrace.timefmt import parse_paytrace_datetime
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation

START = dt.date(2025, 4, 1)
TZ = "America/Los_Angeles"


def _sim(**kw: object) -> MerchantSimulation:
    base: dict[str, object] = {"seed": 11, "start": START, "days": 2, "tx_per_day": 2000, "timezone": TZ}
    base.update(kw)
    return MerchantSimulation(MerchantConfig(**base))  # type: ignore[arg-type]


def _local_hour(record: dict) -> int:
    return parse_paytrace_datetime(record["created"]["at"], ZoneInfo(TZ)).hour


def test_default_is_the_normal_profile() -> None:
    assert MerchantConfig().busy_hour is None
    hours = [_local_hour(r) for r in _sim().transactions_for_day(START)]
    assert sum(h == 12 for h in hours) < 0.25 * len(hours)  # the normal peak hour holds ~13 %


def test_every_slot_in_the_busy_hour() -> None:
    sim = _sim(busy_hour=12)
    for day in (START, START + dt.timedelta(days=1)):
        records = list(sim.transactions_for_day(day))
        slots = [r for r in records if r["transaction_type"] != "VOID"]  # a void comes minutes later
        assert len(slots) == 2000
        assert {_local_hour(r) for r in slots} == {12}
        ids = [r["transaction_id"] for r in records]
        assert ids == sorted(ids)  # ids still increase with time


def test_share_keeps_the_rest_of_the_day() -> None:
    hours = [_local_hour(r) for r in _sim(busy_hour=9, busy_hour_share=0.5).transactions_for_day(START)]
    in_hour = sum(h == 9 for h in hours) / len(hours)
    assert 0.45 < in_hour < 0.65
    assert len(set(hours)) > 5


def test_deterministic_and_only_times_move() -> None:
    a, b = _sim(busy_hour=15), _sim(busy_hour=15)
    assert [r.to_json() for r in a.rows_for_day(START)] == [r.to_json() for r in b.rows_for_day(START)]
    # The SL side (invoices, sales orders) does not depend on creation times: same as without the option.
    assert list(a.invoices()) == list(_sim().invoices())
    assert list(a.sales_orders()) == list(_sim().sales_orders())
    # Same amounts per slot kind: the option draws from its own random stream.
    plain = sorted((r["transaction_type"], r["amount"]) for r in _sim().transactions_for_day(START))
    busy = sorted((r["transaction_type"], r["amount"]) for r in a.transactions_for_day(START))
    non_void = [x for x in plain if x[0] != "VOID"]
    assert [x for x in busy if x[0] != "VOID"] == non_void


@pytest.mark.parametrize(("hour", "share"), [(24, 1.0), (-1, 1.0), (12, 1.5), (12, -0.1)])
def test_invalid_values_are_refused(hour: int, share: float) -> None:
    with pytest.raises(ValueError, match="busy_hour"):
        _sim(busy_hour=hour, busy_hour_share=share)
