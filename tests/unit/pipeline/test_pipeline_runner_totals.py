"""Totals and the demo/sync summary table: review items waiting unposted vs posted with a note."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.pipeline.runner import PAYMENTS_DAG_ID, record_reviews, record_run, totals
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install, xPTLedger, xPTReview
from paytrace_sl_sandbox import demo

NOW = dt.datetime(2025, 4, 2, 12, tzinfo=dt.UTC)


def _ledger_row(txid: int) -> dict[str, Any]:
    return {
        "ledger_key": f"paytrace:{txid}:payment",
        "transaction_id": txid,
        "kind": "payment",
        "cpny_id": "PTDEMO",
        "module": "AR",
        "bat_nbr": "000101",
        "doc_type": "PA",
        "ref_nbr": str(txid),
        "cust_id": "UNIDENTIFIED",
        "amount": "12.34",
        "cury_id": "USD",
        "per_post": "202504",
        "paytrace_state": "settled",
        "content_hash": "x" * 64,
        "status": "posted",
        "run_id": "r1",
        "posted_at": NOW,
        "updated_at": NOW,
    }


def _world(url: str) -> sa.Engine:
    """Run r1 posted 2 payments, one of them to the unidentified customer with a note, and left 2 items
    waiting unposted (an unmatched customer; a settlement that could not be planned)."""
    engine = create_sl_engine(url)
    install(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(xPTLedger), [_ledger_row(1), _ledger_row(2)])
        conn.execute(
            sa.insert(xPTReview).values(  # the writer's note on a posted document
                transaction_id=1,
                ledger_key="paytrace:1:payment",
                reason_code="plan_review",
                reason="unidentified_customer: posted to UNIDENTIFIED",
                run_id="r1",
                created_at=NOW,
            )
        )
    record_reviews(
        engine,
        "r1",
        [
            {"transaction_id": 3, "reason_code": "customer_unmatched", "reason": "no SL customer"},
            {
                "transaction_id": None,
                "ledger_key": "paytrace-batch:9:settlement",
                "reason_code": "settlement_not_planned",
                "reason": "brand totals do not add up",
            },
        ],
    )
    record_run(
        engine,
        "r1",
        PAYMENTS_DAG_ID,
        day_window(dt.date(2025, 4, 1), demo.TIMEZONE),
        "partial",
        {"in_window": 4},
    )
    return engine


def test_totals_split_review_into_unposted_and_posted_with_note(sl_sqlite_url: str) -> None:
    engine = _world(sl_sqlite_url)
    try:
        got = totals(engine, ["r1"])
    finally:
        engine.dispose()
    assert got["review"] == 3 and got["posted_with_note"] == 1
    assert got["posted"] == {"payment": 2}


def test_demo_summary_shows_review_and_posted_with_note_apart(
    sl_sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _world(sl_sqlite_url).dispose()
    monkeypatch.setenv("COLUMNS", "200")
    transactions, result = demo.demo_totals(sl_sqlite_url)
    assert transactions == 4 and json.loads(json.dumps(result["runs"])) == {"partial": 1}
    demo.print_summary(transactions, result, sl_sqlite_url, tmp_path, 1.0)
    out = capsys.readouterr().out
    rows = {m.group(1).strip(): int(m.group(2)) for m in re.finditer(r"│ ([a-z -]+?)\s+│\s+(\d+) │", out)}
    assert rows["review"] == 2, out  # waiting for a person, nothing posted
    assert rows["posted with note"] == 1, out  # in SL on the UNIDENTIFIED customer, with a note
    assert rows["posted"] == 2, out
