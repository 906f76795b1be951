"""A day of hostile records through the real client and the whole payments pipeline, record by record.

The PayTrace stand-in (``hostile_paytrace``) serves one merchant day over real HTTP: the sandbox's good
records, good records with card numbers planted in free text in every separator style, and one record
per poison value (full card numbers in ``masked_number``, ids with superscripts, surrogates, NUL,
out-of-range and card-number ids, a 20-digit batch number, amounts PayTrace never writes). The same day
runs through ``run_window`` on a PostgreSQL SL replica (which refuses NUL, long values, bigint
overflow), then again (a re-run over the same records), and through the ``extract`` library call the
CLI uses. Asserted per record:

* good records: the same outcome as in a control run of the good records alone (posted, skipped or in
  review), posted exactly once even after the re-run;
* every bad record: exactly one open dead letter whose reason names the field;
* row accounting exact; both runs succeed (the landing guard never refuses our own digests);
* the auditor report over the day is written (it reads the poisoned day from PayTrace again);
* no card number in the landing folder, the GX folder, the extract and its rejects file, the report,
  any text column of the SL database, or the captured logs (pci-scan's detector, JSON escapes
  included).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hostile_paytrace import HostilePayTrace

from paytrace_sl.paytrace.client import PayTraceClient
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.extract import extract_window, rejects_path_for
from paytrace_sl.pci_scan import scan_database, scan_paths, scan_text
from paytrace_sl.pipeline.dead_letters import record_digest
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.runner import OUTCOME_FILE, PipelineConfig, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.reconcile.report import build_report
from paytrace_sl.redaction import contains_pan
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install
from paytrace_sl_sandbox.demo import write_sandbox_mapping
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=1, tx_per_day=30)
BASE: list[dict[str, Any]] = list(MerchantSimulation(MERCHANT).transactions_for_day(MERCHANT.start))

# one card number in every separator style (all Luhn-valid)
PAN_STYLES = {
    "dots": "4111.1111.1111.1111",
    "slashes": "4111/1111/1111/1111",
    "underscores": "4111_1111_1111_1111",
    "double spaces": "4111  1111  1111  1111",
    "no-break spaces": "4111\u00a01111\u00a01111\u00a01111",
    "figure spaces": "5555\u20075555\u20075555\u20074444",
    "8+8": "41111111 11111111",
    "zero-width": "4111\u200b1111\u200b1111\u200b1111",
    "en dashes": "3782\u2013822463\u201310005",
    "ideographic": "6011\u30001111\u30001111\u30001117",
    "plain": "4111111111111111",
    "spaces": "4111 1111 1111 1111",
}


def _record(template: int, **changes: Any) -> dict[str, Any]:
    """A copy of base record ``template`` with ``a__b``-style paths changed."""
    raw = copy.deepcopy(BASE[template])
    for path, value in changes.items():
        node = raw
        *parents, last = path.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return raw


def _wire(raw: dict[str, Any]) -> Any:
    """The record as the client sees it after HTTP (floats as Decimal)."""
    return json.loads(json.dumps(raw), parse_float=Decimal)


def _old_hex_digest(raw: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(_wire(raw), sort_keys=True, default=str).encode()).hexdigest()[:32]


def _digest_collision() -> dict[str, Any]:
    """A record without a usable id whose old hex digest held a Luhn-valid run (~1 in 550).

    The detector now knows a whole 32-hex digest is an id, so the run is looked for in the digest cut
    by one character (no digest length): the digits a detector without that rule would have flagged.
    """
    for i in range(20000):
        raw = _record(7, transaction_id=f"id-{i}")
        if contains_pan(_old_hex_digest(raw)[:-1]):
            return raw
    raise AssertionError("no digest collision found")


GOOD_PLANTED = [  # good records with a card number in free text: masked, then processed normally
    _record(16, transaction_id=99100000 + n, amount=10 + n, description=f"card {pan}", invoice_id="")
    for n, pan in enumerate(PAN_STYLES.values())
] + [
    _record(16, transaction_id=99100100, billing_address__name=f"Pat {PAN_STYLES['no-break spaces']}"),
    _record(16, transaction_id=99100101, customer_reference_id=PAN_STYLES["dots"], invoice_id=""),
    # ids longer than SL's CustId char(15) / RefNbr char(10): within the contract, so processed (an
    # over-long customer id can only match through xPTCustXref; ExtRefNbr keeps 15 characters)
    _record(16, transaction_id=99100102, customer_id="CUSTOMER-ABCDEFGHIJKL"),
    _record(16, transaction_id=99100103, invoice_id="INV-ABCDEFGHIJKLMNOPQRSTUVW"),
]

# (record, field named in the dead letter, transaction id in the dead letter or None)
BAD: list[tuple[dict[str, Any], str, int | None]] = [
    *(
        (
            _record(7, transaction_id=99200000 + n, credit_card__masked_number=pan, receipt_emailed_to=pan),
            "credit_card.masked_number",
            99200000 + n,
        )
        for n, pan in enumerate(PAN_STYLES.values())
    ),
    (_record(7, credit_card__masked_number="5555"), "credit_card.masked_number", BASE[7]["transaction_id"]),
    # poison ids
    (_record(7, transaction_id="8123\u00b2567"), "transaction_id", None),
    (_record(7, transaction_id="\u00b2"), "transaction_id", None),
    (_record(7, transaction_id="\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17"), "transaction_id", None),
    (_record(7, transaction_id=10**25), "transaction_id", None),
    (_record(7, transaction_id=12345678901), "transaction_id", None),  # SL RefNbr is char(10)
    (_record(7, transaction_id=4111111111111111), "transaction_id", None),  # a Luhn-valid 16-digit id
    (_record(7, transaction_id=99300001, description="bad \ud800 surrogate"), "description", 99300001),
    (_record(7, transaction_id=99300002, customer_id="CUST\x0000001"), "customer_id", 99300002),
    (_record(7, transaction_id=99300003, invoice_id="1000\x00014"), "invoice_id", 99300003),
    (_record(7, transaction_id=99300004, status_code="GB12345678901234567890"), "status_code", 99300004),
    (_record(7, transaction_id=99300005, customer_id="4111 1111 1111 1111"), "customer_id", 99300005),
    (_record(7, transaction_id=99300006, invoice_id="4111.1111.1111.1111"), "invoice_id", 99300006),
    (_record(7, transaction_id=99300007, customer_id="C" * 60), "customer_id", 99300007),  # > contract
    # amounts PayTrace never writes
    (_record(7, transaction_id=99400001, amount="12,50"), "amount", 99400001),
    (_record(7, transaction_id=99400002, amount="1,00"), "amount", 99400002),
    (_record(7, transaction_id=99400003, amount="1_000"), "amount", 99400003),
    (_record(7, transaction_id=99400004, amount="\u0661\u0662.\u0665\u0660"), "amount", 99400004),
    (_record(7, transaction_id=99400005, amount="\uff11\uff12.\uff15\uff10"), "amount", 99400005),
    (_record(7, transaction_id=99400006, amount="1e3"), "amount", 99400006),
    (_record(7, transaction_id=99400007, tax_amount="8,10"), "tax_amount", 99400007),
    (_record(7, transaction_id=99400008, tax_amount="1\u00a0000"), "tax_amount", 99400008),
    # a record whose old hex digest held a Luhn-valid run: the landing guard refused every later run
    (_digest_collision(), "transaction_id", None),
]
GOOD = [r for n, r in enumerate(BASE) if n != 7] + GOOD_PLANTED  # BASE[7]'s id is used by a bad record


@pytest.fixture
def hostile() -> Iterator[HostilePayTrace]:
    with HostilePayTrace() as server:
        yield server


def _seed(url: str) -> str:
    init_sandbox(url, MERCHANT)
    engine = create_sl_engine(url)
    install(engine)
    engine.dispose()
    return url


def _config(url: str, server: HostilePayTrace, root: Path) -> PipelineConfig:
    return PipelineConfig(
        sl_url=url,
        paytrace=PayTraceSettings(
            url=server.url, username="u", password="p-secret", timezone=LA, requests_per_second=0
        ),
        mapping_path=write_sandbox_mapping(root / "mapping.yaml"),
        landing_dir=root / "landing",
        gx_dir=root / "gx",
        lookback=dt.timedelta(0),
    )


def _outcomes(cfg: PipelineConfig, run_id: str) -> dict[int, str]:
    outcome = Landing(cfg.landing_dir, run_id).read_json(OUTCOME_FILE)
    found = {int(t): "posted" for t in outcome["posted_ids"]}
    found.update({int(t): "posted" for t in outcome["already_posted"]})  # the re-run: posted before
    for bucket in ("skipped", "review"):
        found.update({int(item["transaction_id"]): bucket for item in outcome[bucket]})
    return found


def _ledger_rows(url: str) -> dict[int, int]:
    engine = create_sl_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT transaction_id, count(*) FROM xPTLedger GROUP BY transaction_id")
            )
            return {int(t): int(n) for t, n in rows if t is not None}
    finally:
        engine.dispose()


def _accounted(summary: dict[str, Any], cfg: PipelineConfig, run_id: str) -> None:
    writer_review = Landing(cfg.landing_dir, run_id).read_json("load.json")["writer_review"]
    buckets = (
        summary["posted"]
        + summary["already_posted"]
        + summary["skipped"]
        + (summary["review"] - writer_review)
        + summary["dead_letter"]
    )
    assert buckets == summary["transactions"], summary


def test_a_hostile_day_posts_the_good_records_once_and_sets_each_bad_one_aside(
    hostile: HostilePayTrace,
    sl_sqlite_url: str,
    sl_pg_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    window = day_window(MERCHANT.start, LA)

    # control: the good records alone
    hostile.records = GOOD
    control_cfg = _config(_seed(sl_sqlite_url), hostile, tmp_path / "control")
    run_window(control_cfg, window, "control")
    expected = _outcomes(control_cfg, "control")
    assert set(expected) == {r["transaction_id"] for r in GOOD}
    assert "posted" in expected.values()
    control_ledger = _ledger_rows(sl_sqlite_url)

    # the hostile day, twice (a re-run sees the same records: nothing is refused, nothing posted twice)
    hostile.records = [*GOOD, *(raw for raw, _, _ in BAD)]
    cfg = _config(_seed(sl_pg_url), hostile, tmp_path / "hostile")
    first = run_window(cfg, window, "hostile-1")
    second = run_window(cfg, window, "hostile-2")
    for run_id, summary in (("hostile-1", first), ("hostile-2", second)):
        assert summary["transactions"] == len(GOOD) + len(BAD), summary
        assert summary["dead_letter"] == len(BAD), summary
        _accounted(summary, cfg, run_id)
        assert _outcomes(cfg, run_id) == expected, run_id
    assert second["posted"] == 0 and second["already_posted"] == first["posted"]
    ledger = _ledger_rows(sl_pg_url)
    for raw in GOOD:
        txid = raw["transaction_id"]
        assert ledger.get(txid, 0) == control_ledger.get(txid, 0), txid
        if expected[txid] == "posted":
            assert ledger[txid] == 1, txid

    # every bad record: one open dead letter naming the field
    engine = create_sl_engine(sl_pg_url)
    try:
        with engine.connect() as conn:
            letters = conn.execute(
                sa.text("SELECT transaction_id, payload, reason FROM xPTDeadLetter WHERE replayed_at IS NULL")
            ).all()
    finally:
        engine.dispose()
    assert len(letters) == len(BAD), [r.reason for r in letters]
    by_id = {int(r.transaction_id): r for r in letters if r.transaction_id is not None}
    by_digest = {json.loads(r.payload).get("record_digest"): r for r in letters if r.transaction_id is None}
    for raw, field, txid in BAD:
        if txid is not None:
            letter = by_id[txid]
        else:
            letter = by_digest[record_digest(json.dumps(_wire(raw), sort_keys=True, default=str))]
        assert field in letter.reason, (field, letter.reason)
    assert not (set(by_id) & {r["transaction_id"] for r in GOOD})

    # the extract CLI's files: the good records, and each parse failure by id, field and reason only
    out = tmp_path / "extract" / "day.jsonl"
    with PayTraceClient(cfg.paytrace) as client:
        extracted = extract_window(client, MERCHANT.start, MERCHANT.start + dt.timedelta(days=1), out)
    rejects = [json.loads(line) for line in rejects_path_for(out).read_text().splitlines()]
    assert extracted.count == len(GOOD) + 1  # the 60-character customer id parses; the contract refuses it
    assert len(rejects) == len(BAD) - 1
    for reject in rejects:  # id, field and reason only: no raw (or redacted) record is ever written
        assert "record" not in reject and reject.get("field"), reject

    # the auditor report over the poisoned day (it reads PayTrace again: it crashed with "bigint out
    # of range" after a poison run)
    report_dir = tmp_path / "report"
    engine = create_sl_engine(sl_pg_url)
    try:
        with PayTraceClient(cfg.paytrace) as client:
            build_report(
                engine,
                MERCHANT.start,
                MERCHANT.start,
                report_dir,
                paytrace_client=client,
                landing_dir=cfg.landing_dir,
                gx_dir=cfg.gx_dir,
                mapping=load_mapping(cfg.mapping_path),
            )
    finally:
        engine.dispose()
    assert (report_dir / "report.html").exists()

    # no card number anywhere we write
    findings = scan_paths([cfg.landing_dir, cfg.gx_dir, out.parent, report_dir])
    findings += scan_database(create_sl_engine(sl_pg_url))
    findings += scan_text(caplog.text, location="captured logs")
    pans = [str(f) for f in findings if f.kind == "pan"]
    assert pans == [], pans[:10]
    for written in PAN_STYLES.values():
        assert written not in caplog.text
