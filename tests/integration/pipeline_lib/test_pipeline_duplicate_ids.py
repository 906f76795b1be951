"""Duplicate transaction ids through the runner: identical copies collapse, differing copies are one
dead letter naming the id and the fields (never a value), and the row accounting stays exact."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.client import ConflictingDuplicateError, PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.parse import DECLINED_FILTER
from paytrace_sl.pipeline import context
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PipelineConfig, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.redaction import contains_pan
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
DAY = dt.date(2025, 4, 2)


class ReplayingClient:
    """Serves fixed raw export answers (regular and DECLINED) the way PayTraceClient yields them."""

    def __init__(self, regular: list[dict[str, Any]], declined: list[dict[str, Any]]) -> None:
        self.answers = {None: regular, DECLINED_FILTER: declined}

    def export_transactions_raw(
        self, start: dt.date, end: dt.date, *, transaction_type: str | None = None, include_bin: bool = False
    ) -> Iterator[dict[str, Any]]:
        yield from (copy.deepcopy(r) for r in self.answers[transaction_type])

    def close(self) -> None:
        pass


def _raw_exports(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    clear_token_cache()
    settings = PayTraceSettings(
        url=url, username="sandbox", password="sandbox-password", timezone=LA, requests_per_second=0
    )
    client = PayTraceClient(settings)
    try:
        end = DAY + dt.timedelta(days=1)
        regular = list(client.export_transactions_raw(DAY, end, include_bin=True))
        declined = list(
            client.export_transactions_raw(DAY, end, transaction_type=DECLINED_FILTER, include_bin=True)
        )
    finally:
        client.close()
    return regular, declined


def _run(
    tmp_path: Path, sl_url: str, monkeypatch: pytest.MonkeyPatch, regular: list[Any], declined: list[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    monkeypatch.setattr(context, "paytrace_client", lambda cfg: ReplayingClient(regular, declined))
    cfg = PipelineConfig(
        sl_url=sl_url,
        paytrace=PayTraceSettings(username="sandbox", password="x", timezone=LA),
        mapping_path=DEFAULT_MAPPING,
        landing_dir=tmp_path / "landing",
        gx_dir=tmp_path / "gx",
        lookback=dt.timedelta(0),
    )
    run_id = f"dup-{len(regular)}-{len(declined)}"
    summary = run_window(cfg, day_window(DAY, LA), run_id)
    extract = Landing(cfg.landing_dir, run_id).read_json("extract.json")
    return summary, extract


def test_duplicate_ids_identical_collapse_differing_are_dead_lettered(
    paytrace_sandbox: SandboxServer, sl_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_sandbox(sl_sqlite_url, MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60))
    regular, declined = _raw_exports(paytrace_sandbox.url)
    sales = [r for r in regular if r.get("transaction_type") == "SALE" and r.get("response_code") != 102]
    assert len(sales) >= 3 and declined, "the sandbox day needs sales and declines"
    same, changed = sales[0], sales[1]
    other = copy.deepcopy(changed)
    other["amount"] = round(float(other["amount"]) + 1.0, 2)
    other["credit_card"] = dict(other.get("credit_card") or {}, masked_number="555555******4444")
    payload = [*regular, copy.deepcopy(same), other]  # an identical repeat and a differing copy
    unique_ids = {r["transaction_id"] for r in [*regular, *declined]}

    summary, extract = _run(tmp_path, sl_sqlite_url, monkeypatch, payload, declined)

    # every id counted once: the repeat and the decline seen in both exports collapsed silently,
    # the changed id is one dead letter
    assert extract["duplicate_conflicts"] == 1
    assert extract["transactions"] + extract["duplicate_conflicts"] == len(unique_ids)
    assert summary["transactions"] == len(unique_ids) + extract["parse_rejected"]
    buckets = summary["posted"] + summary["already_posted"] + summary["skipped"] + summary["dead_letter"]
    landing = Landing(tmp_path / "landing", f"dup-{len(payload)}-{len(declined)}")
    outcome = landing.read_json("transform_outcome.json")
    assert buckets + len(outcome["review"]) == summary["transactions"]
    assert changed["transaction_id"] not in {
        r["transaction_id"] for r in landing.read_jsonl("transactions.jsonl")
    }
    assert same["transaction_id"] in outcome["posted_ids"]

    engine = create_sl_engine(sl_sqlite_url)
    try:
        with engine.connect() as conn:
            letters = conn.execute(
                sa.text("SELECT transaction_id, reason, payload, failed_checks FROM xPTDeadLetter")
            ).all()
            ledger = conn.execute(
                sa.text("SELECT count(*) FROM xPTLedger WHERE transaction_id = :t"),
                {"t": changed["transaction_id"]},
            ).scalar_one()
    finally:
        engine.dispose()
    (letter,) = [r for r in letters if r.transaction_id == changed["transaction_id"]]
    assert str(changed["transaction_id"]) in letter.reason
    assert "amount" in letter.reason and "card_masked" in letter.reason
    assert json.loads(letter.payload)["differing_fields"] == ["amount", "card_masked"]
    for text in (letter.reason, letter.payload, letter.failed_checks):
        assert not contains_pan(text) and "4444" not in text and str(other["amount"]) not in text
    assert ledger == 0  # neither copy was posted

    # the same window again: the same dead letter, not a second one
    _run(tmp_path, sl_sqlite_url, monkeypatch, [*payload], [*declined, copy.deepcopy(declined[0])])
    engine = create_sl_engine(sl_sqlite_url)
    try:
        with engine.connect() as conn:
            n = conn.execute(
                sa.text("SELECT count(*) FROM xPTDeadLetter WHERE transaction_id = :t"),
                {"t": changed["transaction_id"]},
            ).scalar_one()
    finally:
        engine.dispose()
    assert n == 1


def test_client_drops_exact_repeats_and_passes_differing_copies_on(
    paytrace_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    regular, _ = _raw_exports(paytrace_sandbox.url)
    first, second = regular[0], copy.deepcopy(regular[0])
    changed = dict(copy.deepcopy(regular[1]), amount=9999.99)
    answer = [first, second, regular[1], changed]

    def fake_call(self: PayTraceClient, path: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "response_code": 1, "transactions": copy.deepcopy(answer)}

    monkeypatch.setattr(PayTraceClient, "call", fake_call)
    client = PayTraceClient(PayTraceSettings(username="u", password="p", timezone=LA))
    got = list(client.export_transactions_raw(DAY, DAY + dt.timedelta(days=1)))
    assert [r["transaction_id"] for r in got] == [
        first["transaction_id"],
        *[regular[1]["transaction_id"]] * 2,
    ]

    with pytest.raises(
        ConflictingDuplicateError, match=rf"transaction {regular[1]['transaction_id']} .*amount"
    ):
        list(client.export_transactions(DAY, DAY + dt.timedelta(days=1)))
