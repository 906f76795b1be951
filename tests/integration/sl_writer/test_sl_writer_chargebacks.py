"""The chargeback writer (sl/writer/chargebacks.py) on both dialects: SL's release checks pass, two
concurrent writers of the same case stage write it once, a closed period refuses without writing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import BANK, CLEARING, CPNY, CUST, REFUNDS, count, fetch, snapshot

from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTChargeback, xPTLedger, xPTReview
from paytrace_sl.sl.preflight import run_preflight
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl.sl.writer.chargebacks import PlannedChargeback

pytestmark = pytest.mark.integration

CASE = PlannedChargeback(
    case_number="CB-9001",
    transaction_id=81230001,
    stage="chargeback",
    case_date=dt.date(2024, 3, 20),
    amount=Decimal("120.50"),
    fee=Decimal("25.00"),
    reason_code="13.1",
    cpny_id=CPNY,
    cust_id=CUST,
    debited_account=CLEARING,
    fee_account=REFUNDS,
    bank_account=BANK,
    source_file="f.csv",
    file_row=2,
)


def test_chargeback_and_won_pass_the_release_preflight(sl_engine: sa.Engine) -> None:
    writer = SLWriter(sl_engine, run_id="cb")
    first = writer.write_chargeback(CASE)
    assert first.posted == 1 and len(first.touched) == 2  # AR + GL batch
    (dm,) = fetch(sl_engine, catalog.ARDoc, catalog.ARDoc.c.DocType == "DM")
    (line,) = fetch(sl_engine, catalog.ARTran, catalog.ARTran.c.TranType == "DM")
    assert (dm["CustId"].strip(), dm["OrigDocAmt"], line["Acct"].strip(), line["DrCr"]) == (
        CUST,
        120.5,
        CLEARING.acct,
        "C",
    )
    gl = fetch(sl_engine, catalog.GLTran, catalog.GLTran.c.BatNbr == first.touched[1])
    assert sorted((r["Acct"].strip(), r["DrAmt"], r["CrAmt"]) for r in gl) == [
        ("1010", 0, 25),
        ("4900", 25, 0),
    ]
    won = writer.write_chargeback(
        dataclasses.replace(
            CASE, stage="won", case_date=dt.date(2024, 3, 28), dm_ref_nbr=dm["RefNbr"].strip()
        )
    )
    assert won.posted == 1 and won.outcomes[f"chargeback:CB-9001:{CASE.transaction_id}:won"].doc_type == "PA"
    with sl_engine.connect() as conn:
        assert run_preflight(conn) == []
    assert writer.write_chargeback(CASE).already_posted == 1
    assert count(sl_engine, xPTLedger) == 3 and count(sl_engine, xPTChargeback) == 2


@pytest.mark.timeout(120)
def test_two_writers_of_one_case_stage_write_it_once(sl_pg_engine: sa.Engine) -> None:
    url = sl_pg_engine.url.render_as_string(hide_password=False)
    barrier = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        engine = create_sl_engine(url)
        try:
            barrier.wait()
            res = SLWriter(engine).write_chargeback(CASE)
            results.append(next(iter(res.outcomes.values())).outcome)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=100)
    assert not errors, errors
    assert sorted(results) == ["already_posted", "posted"]
    assert count(sl_engine := sl_pg_engine, catalog.ARDoc, catalog.ARDoc.c.DocType == "DM") == 1
    assert count(sl_engine, xPTChargeback) == 1 and count(sl_engine, xPTLedger) == 2


def test_a_closed_period_refuses_once_and_writes_nothing(sl_engine: sa.Engine) -> None:
    before = snapshot(sl_engine)
    writer = SLWriter(sl_engine, late_items="refuse")
    late = dataclasses.replace(CASE, case_date=dt.date(2024, 2, 10))  # period 202408: closed
    first = writer.write_chargeback(late)
    assert (first.refused, first.refused_new, first.posted) == (1, 1, 0)
    again = writer.write_chargeback(late)
    assert (again.refused, again.refused_new) == (1, 0)
    assert [r["reason_code"] for r in fetch(sl_engine, xPTReview)] == ["closed_period"]
    after = snapshot(sl_engine)
    assert (
        after[:8] == before[:8] and count(sl_engine, xPTChargeback) == 0 and count(sl_engine, xPTLedger) == 0
    )
