"""End to end through Airflow (``dag.test()``) and through the runner: SL rows, ledger, idempotency,
overlapping windows, dead letters.

PayTrace is the real sandbox HTTP server; SL is a PostgreSQL replica created from SL's own DDL script
and seeded like the SL sandbox (customers, open invoices) so payments match invoices.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PipelineConfig, replay, reports_dir, run_window
from paytrace_sl.pipeline.windows import Window, day_window
from paytrace_sl.redaction import contains_pan
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTDeadLetter
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
START = dt.date(2025, 4, 1)
# the ``paytrace_sandbox`` fixture's merchant (tests/integration/conftest.py)
MERCHANT = MerchantConfig(seed=7, start=START, days=7, tx_per_day=60)


def sl_state(url: str) -> dict[str, Any]:
    """What we wrote to SL, independent of batch numbering: documents, lines, GL lines, posted ledger keys."""
    engine = create_sl_engine(url)
    try:
        with engine.connect() as conn:
            docs = sorted(
                tuple(str(v).strip() for v in r)
                for r in conn.execute(
                    sa.text("SELECT doctype, refnbr, custid, origdocamt FROM ardoc WHERE crtd_prog = 'PTSL'")
                )
            )
            lines = sorted(
                tuple(str(v).strip() for v in r)
                for r in conn.execute(
                    sa.text("SELECT trantype, refnbr, acct, tranamt FROM artran WHERE crtd_prog = 'PTSL'")
                )
            )
            gl = sorted(
                tuple(str(v).strip() for v in r)
                for r in conn.execute(
                    sa.text("SELECT refnbr, acct, dramt, cramt FROM gltran WHERE crtd_prog = 'PTSL'")
                )
            )
            ledger = sorted(
                (str(k), str(a), str(s))
                for k, a, s in conn.execute(sa.text("SELECT ledger_key, amount, status FROM xptledger"))
            )
            batches = conn.execute(
                sa.text("SELECT count(*) FROM batch WHERE crtd_prog = 'PTSL'")
            ).scalar_one()
    finally:
        engine.dispose()
    return {"docs": docs, "lines": lines, "gl": gl, "ledger": ledger, "batches": batches}


@pytest.fixture
def seeded_sl(sl_pg_url: str) -> str:
    init_sandbox(sl_pg_url, MERCHANT)
    return sl_pg_url


@pytest.fixture
def sandbox_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped mapping.yaml, as shipped: its accounts are the SL sandbox chart."""
    monkeypatch.delenv("PAYTRACE_SL_MAPPING", raising=False)
    return DEFAULT_MAPPING


def test_payments_and_settlements_through_airflow_are_idempotent(
    dagbag: Any,
    run_dag: Callable[[str, dt.date], Any],
    airflow_connections: Callable[[str, str], None],
    paytrace_sandbox: SandboxServer,
    seeded_sl: str,
    sandbox_mapping: Path,
    pipeline_dirs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    airflow_connections(paytrace_sandbox.url, seeded_sl)
    monkeypatch.setenv("PAYTRACE_SL_REPORTS_DIR", str(pipeline_dirs / "reports"))
    day = dt.date(2025, 4, 3)

    dr = run_dag("paytrace_payments_to_sl", day)
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert str(dr.state) == "success", states
    assert set(states.values()) == {"success"}
    first = sl_state(seeded_sl)
    payments = [k for k, _, status in first["ledger"] if k.endswith(":payment") and status == "posted"]
    assert payments, "the window posted no payment"
    assert len([d for d in first["docs"] if d[0] == "PA"]) == len(payments)
    ledger_refs = {k.split(":")[1] for k in payments}
    assert ledger_refs <= {d[1] for d in first["docs"] if d[0] == "PA"}  # PA RefNbr = PayTrace id
    assert first["batches"] >= 1

    engine = create_sl_engine(seeded_sl)
    with engine.connect() as conn:
        run = conn.execute(
            sa.text("SELECT status, counts FROM xptrun WHERE dag_id = 'paytrace_payments_to_sl'")
        ).one()
    engine.dispose()
    counts = json.loads(run.counts)
    assert run.status in ("success", "partial")
    assert counts["posted"] == len(payments) + sum(1 for k, _, _ in first["ledger"] if k.endswith(":refund"))
    # summarize checked the row accounting; every extracted record sits in one bucket
    assert counts["transactions"] >= (
        counts["posted"] + counts["already_posted"] + counts["skipped"] + counts["dead_letter"]
    )
    landing = pipeline_dirs / "landing"
    for path in landing.rglob("*"):
        if path.is_file():
            assert not contains_pan(path.read_text()), f"card number in {path}"

    # the same window again (a backfill with --reprocess-behavior completed does exactly this)
    dr = run_dag("paytrace_payments_to_sl", day)
    assert str(dr.state) == "success"
    assert sl_state(seeded_sl) == first

    dr = run_dag("paytrace_settlements_to_sl", day)
    assert str(dr.state) == "success", {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    engine = create_sl_engine(seeded_sl)
    with engine.connect() as conn:
        recon = conn.execute(sa.text("SELECT batch_number, status FROM xptrecon")).all()
    engine.dispose()
    assert recon, "no reconciliation record for the day's settled batch"
    first_after_settlement = sl_state(seeded_sl)
    assert all(status in ("matched", "difference", "pending") for _, status in recon)
    # the auditor report of the run's one merchant day, under <reports dir>/<day>/
    assert sorted(p.name for p in reports_dir().iterdir()) == [day.isoformat()]
    assert (reports_dir() / day.isoformat() / "report.html").is_file()

    # the replay DAG, with its Params: the same day again changes nothing in SL
    replay_dag = dagbag.get_dag("paytrace_sl_replay")
    dr = replay_dag.test(
        run_conf={"start_date": day.isoformat(), "end_date": (day + dt.timedelta(days=1)).isoformat()}
    )
    assert str(dr.state) == "success", {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert sl_state(seeded_sl) == first_after_settlement

    # naming only a closed dead letter: nothing to do, the replay task ends skipped (not failed)
    engine = create_sl_engine(seeded_sl)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        letter_id = conn.execute(
            sa.insert(xPTDeadLetter)
            .values(
                transaction_id=99,
                source="paytrace-transaction",
                payload="{}",
                reason="test",
                created_at=now,
                replayed_at=now,
                replay_run_id="replay-done",
            )
            .returning(xPTDeadLetter.c.id)
        ).scalar_one()
    engine.dispose()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)  # a run of its own, not the one above
    conf = {"dead_letter_ids": [letter_id], "start_date": None, "end_date": None}
    dr = replay_dag.test(run_after=later, logical_date=later, run_conf=conf)
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert str(dr.state) == "success" and set(states.values()) == {"skipped"}, states


def _config(
    sandbox_url: str, sl_url: str, root: Path, mapping: Path, lookback_hours: float
) -> PipelineConfig:
    return PipelineConfig(
        sl_url=sl_url,
        paytrace=PayTraceSettings(
            url=sandbox_url,
            username="sandbox",
            password="sandbox-password",
            timezone=LA,
            requests_per_second=0,
        ),
        mapping_path=mapping,
        landing_dir=root / "landing",
        gx_dir=root / "gx",
        lookback=dt.timedelta(hours=lookback_hours),
    )


def test_three_overlapping_windows_equal_one_pass(
    paytrace_sandbox: SandboxServer,
    sl_pg_url: str,
    second_sl_pg_url: str,
    tmp_path: Path,
    sandbox_mapping: Path,
) -> None:
    once_url, overlap_url = sl_pg_url, second_sl_pg_url
    for url in (once_url, overlap_url):
        init_sandbox(url, MERCHANT)
    tz = LA
    start = day_window(dt.date(2025, 4, 2), tz).start
    end = day_window(dt.date(2025, 4, 3), tz).end

    once = _config(paytrace_sandbox.url, once_url, tmp_path / "once", sandbox_mapping, 0)
    run_window(once, Window(start, end, tz), "once")

    overlap = _config(paytrace_sandbox.url, overlap_url, tmp_path / "overlap", sandbox_mapping, 0)
    hours = dt.timedelta(hours=1)
    windows = [
        Window(start, start + 20 * hours, tz),
        Window(start + 12 * hours, start + 36 * hours, tz),
        Window(start + 30 * hours, end, tz),
    ]
    for i, window in enumerate(windows):
        run_window(overlap, window, f"overlap-{i}")
    a, b = sl_state(once_url), sl_state(overlap_url)
    assert a["ledger"] and a["docs"]
    assert {k: v for k, v in a.items() if k != "batches"} == {k: v for k, v in b.items() if k != "batches"}


def test_bad_records_are_dead_lettered_with_readable_reasons(
    make_sandbox: Callable[[SandboxConfig], SandboxServer],
    sl_sqlite_url: str,
    tmp_path: Path,
    sandbox_mapping: Path,
) -> None:
    merchant = MerchantConfig(seed=11, start=START, days=2, tx_per_day=40, bad_records=True)
    server = make_sandbox(SandboxConfig(merchant, bad_records=True))
    init_sandbox(sl_sqlite_url, merchant)
    cfg = _config(server.url, sl_sqlite_url, tmp_path, sandbox_mapping, 0)
    window = day_window(START, LA)
    summary = run_window(cfg, window, "bad-1")
    assert summary["dead_letter"] >= 2

    engine = create_sl_engine(sl_sqlite_url)
    query = sa.text("SELECT id, transaction_id, reason, payload, run_id FROM xPTDeadLetter ORDER BY id")
    with engine.connect() as conn:
        letters = conn.execute(query).all()
    assert len(letters) == summary["dead_letter"]
    reasons = " | ".join(r.reason for r in letters)
    assert "created" in reasons or "created_at" in reasons, reasons  # the bad date names its field
    assert "amount" in reasons, reasons
    assert "transaction_id" in reasons, reasons
    for letter in letters:
        assert letter.run_id == "bad-1"
        assert not contains_pan(letter.payload) and not contains_pan(letter.reason)

    # running the window again adds no duplicate dead letters; replaying them leaves them open (still bad)
    run_window(cfg, window, "bad-2")
    ids = [r.id for r in letters if r.transaction_id is not None]
    result = replay(cfg, "replay-1", dead_letter_ids=ids) if ids else {"dead_letters_closed": 0}
    with engine.connect() as conn:
        after = conn.execute(query).all()
        open_letters = conn.execute(
            sa.text("SELECT count(*) FROM xPTDeadLetter WHERE replayed_at IS NULL")
        ).scalar_one()
    engine.dispose()
    assert len(after) == len(letters)
    assert result["dead_letters_closed"] == 0 and open_letters == len(letters)
