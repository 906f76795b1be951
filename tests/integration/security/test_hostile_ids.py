"""Hostile ids through the whole pipeline (real client, real HTTP, real SL replica): one PayTrace id is
posted once whatever later copies say; a record listed outside the fetch range is counted and processed;
two concurrent syncs write one skip row per (id, reason); a closed dead letter is named as closed.

PayTrace is ``tests/support/hostile_paytrace.py``: it serves whatever records the test sets, and the test
changes them between runs as a misbehaving PayTrace would.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hostile_paytrace import HostilePayTrace, RawAnswer
from typer.testing import CliRunner

from paytrace_sl.paytrace.client import clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.runner import PipelineConfig, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.reconcile.engine import reconcile
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install, xPTDeadLetter, xPTLedger, xPTReview, xPTSkip
from paytrace_sl_sandbox.demo import write_sandbox_mapping
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=1, tx_per_day=30)
DAY = MERCHANT.start
BASE = list(MerchantSimulation(MERCHANT).transactions_for_day(DAY))


def _sale(index: int, *, known_customer: bool = True) -> dict[str, Any]:
    """A settled SALE (of a customer the SL sandbox knows), with no invoice reference (posts unapplied)."""
    record = copy.deepcopy(BASE[index])
    assert record["transaction_type"] == "SALE", record["transaction_id"]
    assert record["customer_id"] or not known_customer, record["transaction_id"]
    record["invoice_id"] = ""
    return record


@pytest.fixture
def paytrace() -> Iterator[HostilePayTrace]:
    clear_token_cache()
    with HostilePayTrace() as server:
        yield server
    clear_token_cache()


def _seed(url: str) -> str:
    init_sandbox(url, MERCHANT)
    engine = create_sl_engine(url)
    install(engine)
    engine.dispose()
    return url


def _cfg(url: str, server: HostilePayTrace, root: Path, **paytrace: Any) -> PipelineConfig:
    root.mkdir(parents=True, exist_ok=True)
    return PipelineConfig(
        sl_url=url,
        paytrace=PayTraceSettings(
            url=server.url, username="u", password="p-secret", timezone=LA, requests_per_second=0, **paytrace
        ),
        mapping_path=write_sandbox_mapping(root / "mapping.yaml"),
        landing_dir=root / "landing",
        gx_dir=root / "gx",
        lookback=dt.timedelta(0),
    )


def _rows(url: str, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    engine = create_sl_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(table).where(*where)).mappings()]
    finally:
        engine.dispose()


def _accounted(summary: dict[str, Any]) -> None:
    buckets = ("posted", "already_posted", "skipped", "dead_letter")
    # "review" includes payments posted with a note (posted_with_note), which are also in "posted"
    total = sum(int(summary[k]) for k in buckets) + int(summary["review"]) - int(summary["posted_with_note"])
    assert total == summary["transactions"], summary


def test_an_id_posted_once_whatever_its_later_copies_say(
    paytrace: HostilePayTrace, sl_sqlite_url: str, tmp_path: Path
) -> None:
    """Day 1: three sales posted. Re-run: the same ids come back as a REFUND, with another amount and with
    another customer → still exactly one PA each, no CM/DM, one review item each naming what changed
    (never the value), row accounting exact, and reconcile names every one of them."""
    url = _seed(sl_sqlite_url)
    cfg = _cfg(url, paytrace, tmp_path)
    as_refund, other_amount, other_customer = _sale(1), _sale(2), _sale(7)
    ids = [r["transaction_id"] for r in (as_refund, other_amount, other_customer)]
    paytrace.records = [as_refund, other_amount, other_customer]
    first = run_window(cfg, day_window(DAY, LA), "a-day1")
    assert first["posted"] == 3, first

    changed = [
        dict(copy.deepcopy(as_refund), transaction_type="REFUND"),
        dict(copy.deepcopy(other_amount), amount=round(other_amount["amount"] + 10, 2)),
        dict(copy.deepcopy(other_customer), customer_id="CUST00045"),
    ]
    paytrace.records = changed
    again = run_window(cfg, day_window(DAY, LA), "b-changed")
    assert (again["posted"], again["already_posted"], again["review"]) == (0, 0, 3), again
    _accounted(again)

    for txid, what in zip(ids, ("type SALE → REFUND", "different amount", "different customer"), strict=True):
        doc = catalog.ARDoc.c
        docs = _rows(url, catalog.ARDoc, sa.or_(doc.RefNbr == str(txid), doc.CustOrdNbr == str(txid)))
        assert [d["DocType"] for d in docs] == ["PA"], (txid, docs)  # one PA, no CM + DM
        ledger = _rows(url, xPTLedger, xPTLedger.c.transaction_id == txid)
        assert [(r["kind"], r["posted_txn_id"]) for r in ledger] == [("payment", txid)]
        (review,) = _rows(url, xPTReview, xPTReview.c.transaction_id == txid)
        assert review["reason_code"] == "posted_copy_changed" and what in review["reason"], review
    amount_text = _rows(url, xPTReview, xPTReview.c.transaction_id == ids[1])[0]["reason"]
    assert str(changed[1]["amount"]) not in amount_text and str(other_amount["amount"]) not in amount_text
    customer_text = _rows(url, xPTReview, xPTReview.c.transaction_id == ids[2])[0]["reason"]
    assert "CUST00045" not in customer_text and other_customer["customer_id"] not in customer_text

    # the changed copies once more: still one open review item each, nothing posted
    third = run_window(cfg, day_window(DAY, LA), "c-changed-again")
    assert (third["posted"], third["review_new"]) == (0, 0), third
    assert len(_rows(url, xPTReview, xPTReview.c.transaction_id.in_(ids))) == 3

    engine = create_sl_engine(url)
    try:
        report = reconcile(
            engine, DAY, DAY, landing_dir=cfg.landing_dir, mapping=load_mapping(cfg.mapping_path)
        )
    finally:
        engine.dispose()
    named = {e.transaction_id: e for e in report.exceptions if e.kind == "posted_copy_changed"}
    assert set(named) == set(ids), [e.kind for e in report.exceptions]
    assert all(e.explained for e in named.values())
    assert "different amount" in named[ids[1]].reason


def test_a_record_listed_outside_the_fetch_range_is_counted_and_processed(
    paytrace: HostilePayTrace, sl_sqlite_url: str, tmp_path: Path
) -> None:
    """PayTrace lists, in April 1's export, a sale stamped March 28: the run counts it (outside_range)
    and posts it — it used to be dropped before it was counted. Its own day's run then finds it posted."""
    url = _seed(sl_sqlite_url)
    cfg = _cfg(url, paytrace, tmp_path)
    early = dict(_sale(10), created={**BASE[10]["created"], "at": "3/28/2025 9:15:00 AM"})
    normal = _sale(11)
    paytrace.records = [early, normal]
    summary = run_window(cfg, day_window(DAY, LA), "outside-1")
    extract = Landing(cfg.landing_dir, "outside-1").read_json("extract.json")
    assert extract["outside_range"] == 1 and extract["transactions"] == 2, extract
    assert (summary["transactions"], summary["posted"], summary["outside_range"]) == (2, 2, 1), summary
    _accounted(summary)
    assert len(_rows(url, xPTLedger, xPTLedger.c.transaction_id == early["transaction_id"])) == 1
    # March 28's own run (if PayTrace lists it there too): already posted, not posted twice
    paytrace.records = [early]
    march = run_window(cfg, day_window(dt.date(2025, 3, 28), LA), "outside-2")
    assert (march["posted"], march["already_posted"]) == (0, 1), march


def test_with_overlap_days_every_listed_record_is_kept_by_exactly_one_run(
    paytrace: HostilePayTrace, sl_sqlite_url: str, tmp_path: Path
) -> None:
    """overlap_days=1: a record stamped the next day is left to the next day's run (which requests this
    day too), and one stamped ten days away — that no run would keep — is kept by the run it is listed in."""
    url = _seed(sl_sqlite_url)
    cfg = _cfg(url, paytrace, tmp_path, overlap_days=1)
    far = dict(_sale(13), created={**BASE[13]["created"], "at": "3/20/2025 9:15:00 AM"})
    near = dict(_sale(16), created={**BASE[16]["created"], "at": "4/2/2025 9:15:00 AM"})
    listed_day = "04/01/2025"
    paytrace.records_for = lambda body: [far, near] if body.get("start_date") == listed_day else []
    day1 = run_window(cfg, day_window(DAY, LA), "overlap-1")
    assert (day1["transactions"], day1["posted"]) == (1, 1), day1
    assert _rows(url, xPTLedger, xPTLedger.c.transaction_id == far["transaction_id"])
    day2 = run_window(cfg, day_window(DAY + dt.timedelta(days=1), LA), "overlap-2")
    assert (day2["transactions"], day2["posted"]) == (1, 1), day2
    assert _rows(url, xPTLedger, xPTLedger.c.transaction_id == near["transaction_id"])


def test_two_concurrent_syncs_write_one_skip_row_per_id_and_reason(
    paytrace: HostilePayTrace, sl_pg_url: str, tmp_path: Path
) -> None:
    """The second sync runs entirely while the first sits between reading xPTSkip and inserting into it
    (the race two real syncs hit): the first's insert collides on the unique key, re-reads, adds nothing."""
    url = _seed(sl_pg_url)
    declined = [
        dict(_sale(i, known_customer=False), transaction_id=81000000 + i, response_code=102)
        for i in (18, 19, 21)
    ]
    paytrace.declined = declined
    paytrace.records = [_sale(24)]
    cfg_a = _cfg(url, paytrace, tmp_path / "a")
    cfg_b = _cfg(url, paytrace, tmp_path / "b")
    window = day_window(DAY, LA)
    state = {"armed": True, "b": None}
    first_thread = threading.current_thread()

    def run_b() -> None:
        state["b"] = run_window(cfg_b, window, "sync-b")

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (
            state["armed"]
            and threading.current_thread() is first_thread
            and statement.lower().startswith("insert into xptskip")
        ):
            state["armed"] = False
            other = threading.Thread(target=run_b)
            other.start()
            other.join(timeout=300)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
    try:
        a = run_window(cfg_a, window, "sync-a")
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", before)
    b = state["b"]
    assert not state["armed"] and b is not None, "the interleaving did not happen"
    assert a["skipped"] == b["skipped"] == 3
    skips = _rows(url, xPTSkip)
    pairs = [(r["transaction_id"], r["reason_code"]) for r in skips]
    assert sorted(pairs) == sorted((r["transaction_id"], "declined") for r in declined), pairs


def test_replaying_a_closed_dead_letter_says_when_and_by_which_run(
    paytrace: HostilePayTrace, sl_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead letter replayed once (fixed in PayTrace, then posted) is closed; naming it again says it is
    closed, when and by which run, and exits with the "nothing to do" code (4) instead of a usage error."""
    url = _seed(sl_sqlite_url)
    cfg = _cfg(url, paytrace, tmp_path)
    record = _sale(24)
    broken = dict(copy.deepcopy(record), amount="twelve")
    paytrace.records = [broken]
    run_window(cfg, day_window(DAY, LA), "bad-1")
    (letter,) = _rows(url, xPTDeadLetter, xPTDeadLetter.c.transaction_id == record["transaction_id"])

    def by_id(path: str, body: dict[str, Any]) -> RawAnswer | None:
        if path != "/v1/transactions/export/by_id":
            return None
        answer = {"success": True, "response_code": 1, "status_message": "ok", "transactions": [record]}
        return 200, {}, json.dumps(answer).encode()

    paytrace.responder = by_id
    for name, value in {
        "PAYTRACE_URL": paytrace.url,
        "PAYTRACE_USERNAME": "u",
        "PAYTRACE_PASSWORD": "p-secret",
        "PAYTRACE_TIMEZONE": LA,
        "SL_DATABASE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    from paytrace_sl.cli import app

    args = [
        "replay",
        "--dead-letter-id",
        str(letter["id"]),
        "--mapping",
        str(cfg.mapping_path),
        "--landing-dir",
        str(cfg.landing_dir),
        "--gx-dir",
        str(cfg.gx_dir),
    ]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    (closed,) = _rows(url, xPTDeadLetter, xPTDeadLetter.c.id == letter["id"])
    assert closed["replayed_at"] is not None and closed["replay_run_id"]

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output  # done, nothing to do (docs/operations.md exit codes)
    assert f"dead letter {letter['id']} is closed" in again.output
    assert closed["replay_run_id"] in again.output and str(closed["replayed_at"].year) in again.output
    assert "give dead-letter ids" not in again.output


def test_reconcile_from_the_api_sets_a_conflicting_id_aside_and_names_it(
    paytrace: HostilePayTrace, sl_sqlite_url: str, tmp_path: Path
) -> None:
    """The one duplicate-id policy in reconcile too: an id returned with different content no longer
    fails the reconciliation (ConflictingDuplicateError); it is set aside and named in the notes."""
    from paytrace_sl.paytrace.client import PayTraceClient

    url = _seed(sl_sqlite_url)
    cfg = _cfg(url, paytrace, tmp_path)
    sale, other = _sale(25), _sale(26)
    changed = dict(copy.deepcopy(sale), amount=round(sale["amount"] + 1, 2))
    paytrace.records = [sale, other, changed, copy.deepcopy(other)]
    engine = create_sl_engine(url)
    try:
        with PayTraceClient(cfg.paytrace) as client:
            report = reconcile(
                engine, DAY, DAY, paytrace_client=client, mapping=load_mapping(cfg.mapping_path)
            )
    finally:
        engine.dispose()
    assert report.transactions_checked == 1  # the other sale; its exact repeat collapsed
    (note,) = [n for n in report.notes if str(sale["transaction_id"]) in n]
    assert "2 times with different content (differing fields: amount)" in note
    assert str(changed["amount"]) not in note
