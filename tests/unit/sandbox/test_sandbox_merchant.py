"""The generator: determinism, realistic shape, internal consistency (batches, refunds, invoices)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from decimal import Decimal

import pytest

from paytrace_sl.paytrace.timefmt import parse_paytrace_datetime
from paytrace_sl_sandbox import shapes
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation

START = dt.date(2025, 4, 1)
STAMP = re.compile(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} (AM|PM)$")


def _sim(**kw: object) -> MerchantSimulation:
    base: dict[str, object] = {"seed": 7, "start": START, "days": 7, "tx_per_day": 300}
    base.update(kw)
    return MerchantSimulation(MerchantConfig(**base))  # type: ignore[arg-type]


def _day_bytes(sim: MerchantSimulation, day: dt.date) -> bytes:
    return "\n".join(r.to_json() for r in sim.rows_for_day(day)).encode()


_ALL_CACHE: dict[MerchantConfig, list[dict]] = {}


def _all(sim: MerchantSimulation) -> list[dict]:
    """Every record of the window (memoized per config: the generator is deterministic, tests only read)."""
    if sim.config not in _ALL_CACHE:
        out: list[dict] = []
        for i in range(sim.config.days):
            out += list(sim.transactions_for_day(START + dt.timedelta(days=i)))
        _ALL_CACHE[sim.config] = out
    return _ALL_CACHE[sim.config]


def _cents(value: object) -> int:
    return int(Decimal(str(value)) * 100)


def test_same_seed_same_bytes_and_other_seed_differs() -> None:
    a, b, c = _sim(), _sim(), _sim(seed=8)
    for i in range(3):
        day = START + dt.timedelta(days=i)
        assert _day_bytes(a, day) == _day_bytes(b, day)
    assert _day_bytes(a, START) != _day_bytes(c, START)


def test_a_day_does_not_depend_on_query_order() -> None:
    forward, backward = _sim(), _sim()
    days = [START + dt.timedelta(days=i) for i in range(7)]
    seen_forward = {d: _day_bytes(forward, d) for d in days}
    seen_backward = {d: _day_bytes(backward, d) for d in reversed(days)}
    assert seen_forward == seen_backward
    # Asking a single day cold gives the same bytes too.
    assert _day_bytes(_sim(), days[5]) == seen_forward[days[5]]


def test_fast_json_equals_json_dumps_of_the_dict() -> None:
    sim = _sim(bad_records=True)
    for include_bin in (False, True):
        for row in sim.rows_for_day(START + dt.timedelta(days=2), include_bin):
            assert row.to_json() == json.dumps(row.to_dict(), separators=(",", ":"))


def test_record_formats_follow_the_reference() -> None:
    sim = _sim()
    records = _all(sim)
    assert len(records) >= 7 * 300
    for rec in records:
        assert isinstance(rec["transaction_id"], int) and 8 <= len(str(rec["transaction_id"])) <= 9
        assert isinstance(rec["amount"], (int, float)) and not isinstance(rec["amount"], bool)
        assert Decimal(str(rec["amount"])) == Decimal(str(rec["amount"])).quantize(Decimal("0.01"))
        assert isinstance(rec["tax_amount"], str) and re.fullmatch(r"\d+\.\d\d", rec["tax_amount"])
        assert STAMP.match(rec["created"]["at"]), rec["created"]["at"]
        assert rec["settled"] == "" or STAMP.match(rec["settled"])
        assert re.fullmatch(r"\*{11,12}\d{4}", rec["credit_card"]["masked_number"])
        assert rec["transaction_type"] in {"SALE", "AUTHORIZATION", "REFUND", "VOID"}
        assert rec["created"]["through"] in {"API", "Virtual Terminal", "Recurring"}
        if rec["status_code"].startswith("GB"):
            assert rec["settled"] and rec["status_message"] == shapes.SETTLED_STATUS_MESSAGE
        else:
            assert rec["settled"] == ""
            assert (rec["status_code"], rec["status_message"]) in {
                shapes.STATUS_PENDING,
                shapes.STATUS_AUTH_ONLY,
                shapes.STATUS_VOIDED,
                shapes.STATUS_DECLINED,
            }
    with_bin = list(sim.rows_for_day(START, include_bin=True))
    for row in with_bin:
        assert re.fullmatch(r"\d{6}\*{5,6}\d{4}", row.to_dict()["credit_card"]["masked_number"])


def test_mix_is_realistic() -> None:
    records = _all(_sim())
    kinds = Counter((r["transaction_type"], r["status_message"]) for r in records)
    total = len(records)
    sales = sum(v for (t, _), v in kinds.items() if t == "SALE")
    assert 0.6 < sales / total < 0.9
    assert kinds[("AUTHORIZATION", "Authorization Only")] > 0
    assert kinds[("AUTHORIZATION", shapes.SETTLED_STATUS_MESSAGE)] > 0  # captured in place
    assert kinds[("REFUND", shapes.SETTLED_STATUS_MESSAGE)] > 0
    assert kinds[("SALE", "Voided")] == kinds[("VOID", "Voided")] > 0
    assert kinds[("SALE", "Declined")] > 0
    assert kinds[("SALE", "Pending Settlement")] > 0  # the last day's after-cut-off sales
    hours = Counter(parse_paytrace_datetime(r["created"]["at"], _sim().tz).hour for r in records)
    assert sum(hours[h] for h in range(9, 17)) > 0.5 * total  # business-hours peak


def test_ids_increase_with_time() -> None:
    sim = _sim()
    records = _all(sim)
    keyed = [(parse_paytrace_datetime(r["created"]["at"], sim.tz), r["transaction_id"]) for r in records]
    assert [tid for _, tid in sorted(keyed)] == sorted(tid for _, tid in keyed)
    assert len({tid for _, tid in keyed}) == len(keyed)
    assert sim.day_of_id(records[-1]["transaction_id"]) == sim.end


def test_settlement_follows_the_cutoff() -> None:
    sim = _sim()
    for rec in _all(sim):
        created = parse_paytrace_datetime(rec["created"]["at"], sim.tz)
        if rec["status_code"].startswith("GB"):
            settled = parse_paytrace_datetime(rec["settled"], sim.tz)
            expected_day = (
                created.date() if created.time() < dt.time(20, 0) else created.date() + dt.timedelta(1)
            )
            assert settled.date() == expected_day
            assert rec["status_code"] == f"GB{sim.batch_number(expected_day)}"
        if rec["status_code"] == "Y":
            assert created.date() == sim.end and created.time() >= dt.time(20, 0)
        if rec["status_message"] == "Voided":
            assert created.time() < dt.time(20, 0)


def test_declines_include_the_magic_amount() -> None:
    sim = _sim(tx_per_day=1500, days=3)
    declined = [r for r in _all(sim) if r["status_message"] == "Declined"]
    magic = [r for r in declined if r["amount"] == 0.29]
    assert magic, "expected at least one $0.29 decline"
    assert all(r["approval_message"] == shapes.MAGIC_DECLINE_APPROVAL for r in magic)
    assert all(r["status_code"] == "N" and r["approval_code"] == "" for r in declined)
    assert all(r["amount"] != 0.29 for r in _all(sim) if r["status_message"] != "Declined")


@pytest.mark.parametrize("options", [{}, {"bad_records": True, "void_records": False}])
def test_batches_equal_their_transactions(options: dict) -> None:
    sim = _sim(**options)
    records = _all(sim)
    by_batch: dict[str, list[dict]] = {}
    for rec in records:
        if rec["status_code"].startswith("GB"):
            by_batch.setdefault(rec["status_code"], []).append(rec)
    batches = list(sim.batches())
    assert [b["number"] for b in batches] == sorted(b["number"] for b in batches)
    assert len(batches) == sim.config.days
    for b in batches:
        members = by_batch[f"GB{b['number']}"]
        sales = [r for r in members if r["transaction_type"] != "REFUND"]
        refunds = [r for r in members if r["transaction_type"] == "REFUND"]
        assert b["transaction_count"] == len(members)
        assert b["sales_count"] == len(sales) and b["refund_count"] == len(refunds)
        assert _cents(b["sales_amount"]) == sum(_cents(r["amount"]) for r in sales)
        assert _cents(b["refund_amount"]) == sum(_cents(r["amount"]) for r in refunds)
        assert _cents(b["net_amount"]) == _cents(b["sales_amount"]) - _cents(b["refund_amount"])
        assert sum(b[brand]["sales_count"] for brand in shapes.BATCH_BRANDS) == len(sales)
        assert sum(_cents(b[brand]["refund_amount"]) for brand in shapes.BATCH_BRANDS) == _cents(
            b["refund_amount"]
        )


def test_refunds_point_at_earlier_settled_sales() -> None:
    sim = _sim()
    records = _all(sim)
    sales = [r for r in records if r["transaction_type"] in ("SALE", "AUTHORIZATION") and r["settled"]]
    refunds = [r for r in records if r["transaction_type"] == "REFUND"]
    assert refunds
    for ref in refunds:
        when = parse_paytrace_datetime(ref["created"]["at"], sim.tz)
        candidates = [
            s
            for s in sales
            if s["credit_card"] == ref["credit_card"]
            and s["invoice_id"] == ref["invoice_id"]
            and s["customer_id"] == ref["customer_id"]
            and parse_paytrace_datetime(s["settled"], sim.tz) < when
            and _cents(s["amount"]) >= _cents(ref["amount"])
        ]
        assert candidates, f"refund {ref['transaction_id']} has no settled original"


def test_void_records_are_configurable() -> None:
    with_voids = Counter(r["transaction_type"] for r in _all(_sim()))
    without = Counter(r["transaction_type"] for r in _all(_sim(void_records=False)))
    assert with_voids["VOID"] > 0 and without["VOID"] == 0


def test_sl_side_matches_the_payments() -> None:
    sim = _sim()
    invoices = {i.ref_nbr: i for i in sim.invoices()}
    orders = {o.ord_nbr: o for o in sim.sales_orders()}
    customers = sim.customers()
    by_paytrace_id = {c.customer_id: c for c in customers}
    assert len(customers) == 50 and len(by_paytrace_id) == 50
    assert 1 <= sum(c.sl_cust_id != c.customer_id for c in customers) <= 15
    assert all(len(c.sl_cust_id) <= 15 for c in customers)
    assert all(len(ref) <= 10 for ref in invoices)
    sales = [r for r in _all(sim) if r["transaction_type"] == "SALE" and r["status_message"] != "Declined"]
    kinds = Counter()
    for sale in sales:
        inv = sale["invoice_id"]
        if inv in invoices:
            kinds["sl"] += 1
            assert invoices[inv].amount >= Decimal(str(sale["amount"]))
            if sale["customer_id"]:
                assert invoices[inv].cust_id == by_paytrace_id[sale["customer_id"]].sl_cust_id
        elif inv in orders:
            kinds["so"] += 1
            assert inv.startswith("SO") and orders[inv].amount >= Decimal(str(sale["amount"]))
        elif inv:
            kinds["missing"] += 1
        else:
            kinds["none"] += 1
    assert 0.5 < kinds["sl"] / len(sales) < 0.7
    assert kinds["so"] > 0 and kinds["missing"] > 0 and kinds["none"] > 0
    # Deterministic and stable across calls.
    assert [i.ref_nbr for i in sim.invoices()] == [i.ref_nbr for i in _sim().invoices()]


def test_bad_records_only_when_asked() -> None:
    assert all("transaction_id" in r and r["amount"] != "abc" for r in _all(_sim()))
    bad = _all(_sim(bad_records=True))
    assert sum(1 for r in bad if "transaction_id" not in r) == 7
    assert sum(1 for r in bad if r.get("amount") == "abc") == 7
    assert sum(1 for r in bad if not STAMP.match(r["created"]["at"])) == 7


def test_days_outside_the_window_are_empty() -> None:
    sim = _sim()
    assert list(sim.transactions_for_day(START - dt.timedelta(days=1))) == []
    assert list(sim.transactions_for_day(sim.end + dt.timedelta(days=1))) == []


@pytest.mark.parametrize("tz", ["America/New_York", "UTC"])
def test_timezone_is_configuration(tz: str) -> None:
    sim = _sim(timezone=tz, days=2)
    assert all(STAMP.match(r["created"]["at"]) for r in _all(sim))


def test_row_by_id_renders_the_same_record() -> None:
    sim = _sim()
    day = START + dt.timedelta(days=3)
    rows = list(sim.rows_for_day(day, include_bin=True))
    for row in rows[::37]:
        found = sim.row_by_id(row.transaction_id, include_bin=True)
        assert found is not None and found.to_json() == row.to_json()
    assert sim.row_by_id(rows[-1].transaction_id + 1) is None
    assert sim.row_by_id(1234) is None
