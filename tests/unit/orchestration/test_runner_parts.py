"""Runner parts without PayTrace: look-back, dead-letter payloads, idempotent bookkeeping, run log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.runner import (
    PipelineConfig,
    lookback_of,
    parse_failure_letter,
    record_dead_letters,
    record_reviews,
    record_run,
    record_skips,
    totals,
)
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.redaction import contains_pan
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install
from paytrace_sl_airflow.dag_support import window_from_context

LA = "America/Los_Angeles"


def _cfg(tmp_path: Path, **kw: object) -> PipelineConfig:
    return PipelineConfig(sl_url="sqlite://", paytrace=PayTraceSettings(username="u", password="p"), **kw)  # type: ignore[arg-type]


def test_lookback_explicit_then_mapping(tmp_path: Path) -> None:
    mapping = load_mapping()
    assert lookback_of(_cfg(tmp_path), mapping) == dt.timedelta(
        days=mapping.lookback_days, hours=mapping.lookback_hours
    )
    assert lookback_of(_cfg(tmp_path, lookback=dt.timedelta(hours=2)), mapping) == dt.timedelta(hours=2)


def test_config_from_env_reads_settings_and_hides_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "SL_DATABASE_URL": "postgresql+psycopg://u:dbsecret@h/sl",
        "PAYTRACE_SL_LANDING_DIR": str(tmp_path / "l"),
        "PAYTRACE_SL_LOOKBACK_HOURS": "6",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cfg = PipelineConfig.from_env(paytrace=PayTraceSettings(username="u", password="ptsecret"))
    assert cfg.landing_dir == tmp_path / "l" and cfg.lookback == dt.timedelta(hours=6)
    assert "dbsecret" not in repr(cfg) and "ptsecret" not in repr(cfg)


def test_parse_failure_letter_names_field_and_never_the_value() -> None:
    raw = {"transaction_id": 42, "amount": "4111111111111111", "credit_card": {"masked_number": "x"}}
    letter = parse_failure_letter(raw, RecordParseError(42, "amount", "not a number"), "paytrace-transaction")
    assert letter.transaction_id == 42 and "amount" in letter.reason
    assert not contains_pan(json.dumps(letter.payload)) and not contains_pan(letter.reason)
    other = parse_failure_letter({"transaction_id": 42}, RecordParseError(42, "amount", "not a number"), "x")
    assert other.payload["record_digest"] == letter.payload["record_digest"]  # same id → same record
    a = parse_failure_letter({"amount": 1}, RecordParseError("<unknown>", "transaction_id", "missing"), "x")
    b = parse_failure_letter({"amount": 2}, RecordParseError("<unknown>", "transaction_id", "missing"), "x")
    assert a.transaction_id is None and a.payload["record_digest"] != b.payload["record_digest"]


def test_bookkeeping_rows_are_inserted_once(sl_sqlite_url: str) -> None:
    engine = create_sl_engine(sl_sqlite_url)
    install(engine)
    letter = parse_failure_letter(
        {"transaction_id": 7}, RecordParseError(7, "created.at", "bad"), "paytrace-transaction"
    )
    assert record_dead_letters(engine, "r1", [letter, letter]) == 1
    assert record_dead_letters(engine, "r2", [letter]) == 0
    skip = {
        "transaction_id": 8,
        "reason_code": "declined",
        "reason": "declined",
        "paytrace_state": "declined",
    }
    assert record_skips(engine, "r1", [skip]) == 1 and record_skips(engine, "r2", [skip]) == 0
    review = {"transaction_id": 9, "reason_code": "customer_unmatched", "reason": "no SL customer"}
    assert record_reviews(engine, "r1", [review]) == 1 and record_reviews(engine, "r2", [review]) == 0
    window = day_window(dt.date(2025, 3, 9), LA)
    record_run(engine, "r1", "paytrace_payments_to_sl", window, "running", {})
    record_run(engine, "r1", "paytrace_payments_to_sl", window, "success", {"posted": 3})
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, counts, window_start, window_end FROM xPTRun")).one()
    assert row.status == "success" and json.loads(row.counts) == {"posted": 3}
    got = totals(engine, ["r1"])
    assert got["skipped"] == {"declined": 1} and got["review"] == 1 and got["dead_letter"] == 1
    assert totals(engine, ["r2"])["dead_letter"] == 0
    engine.dispose()


def test_window_from_context_refuses_zero_width_intervals() -> None:
    start = dt.datetime(2025, 3, 9, 8, tzinfo=dt.UTC)
    window = window_from_context(
        {"data_interval_start": start, "data_interval_end": start + dt.timedelta(hours=23)}, LA
    )
    assert window.start.utcoffset() == dt.timedelta(hours=-8)
    with pytest.raises(ValueError, match="zero-width"):
        window_from_context({"data_interval_start": start, "data_interval_end": start}, LA)
    with pytest.raises(ValueError, match="no data interval"):
        window_from_context({}, LA)
