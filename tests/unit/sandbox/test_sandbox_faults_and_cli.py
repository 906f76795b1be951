"""FaultConfig validation, the injector's decisions, and the ``sandbox`` CLI (generate + help)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl_sandbox.faults import FaultConfig, FaultInjector
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation


def test_fault_config_validates() -> None:
    with pytest.raises(ValueError, match="unknown fault mode"):
        FaultConfig(mode="boom")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate"):
        FaultConfig(mode="http_500", rate=1.5)
    with pytest.raises(ValueError, match="unknown FaultConfig field"):
        FaultConfig.from_json({"mode": "slow", "delya": 1})
    assert FaultConfig(mode="token_expiry").expire_after_calls == 1
    cfg = FaultConfig.from_json({"mode": "http_429", "paths": ["/v1/ping"], "retry_after": None})
    assert cfg.to_json()["paths"] == ["/v1/ping"]


def test_injector_eligibility_rate_and_count() -> None:
    inj = FaultInjector(FaultConfig(mode="http_500"))
    assert not inj.should_fail("/_sandbox/stats")
    assert not inj.should_fail("/oauth/token")
    assert inj.should_fail("/v1/ping")
    inj.set(FaultConfig(mode="http_500", paths=["/oauth/token"]))
    assert inj.should_fail("/oauth/token") and not inj.should_fail("/v1/ping")
    inj.set(FaultConfig(mode="http_500", count=2))
    assert [inj.should_fail("/v1/x") for _ in range(4)] == [True, True, False, False]
    a, b = (
        FaultInjector(FaultConfig(mode="http_503", rate=0.3, seed=9)),
        FaultInjector(FaultConfig(mode="http_503", rate=0.3, seed=9)),
    )
    pattern = [a.should_fail("/v1/x") for _ in range(50)]
    assert pattern == [b.should_fail("/v1/x") for _ in range(50)]
    assert 5 <= sum(pattern) <= 25
    tok = FaultInjector(FaultConfig(mode="token_expiry", expire_after_calls=3))
    assert [tok.token_should_expire("/v1/x", n) for n in (1, 2, 3, 4)] == [False, False, False, True]
    assert not tok.should_fail("/v1/x")


runner = CliRunner()


def test_help_everywhere() -> None:
    for args in (["sandbox", "--help"], ["sandbox", "serve", "--help"], ["sandbox", "generate", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_generate_writes_the_generator_records(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    result = runner.invoke(
        app, ["sandbox", "generate", "--seed", "3", "--days", "2", "--tx-per-day", "40", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    sim = MerchantSimulation(MerchantConfig(seed=3, days=2, tx_per_day=40))
    expected = [
        json.dumps(r, separators=(",", ":"))
        for d in range(2)
        for r in sim.transactions_for_day(dt.date(2025, 4, 1) + dt.timedelta(days=d))
    ]
    assert lines == expected
    assert json.loads(result.output.strip().splitlines()[-1])["records"] == len(expected)


def test_serve_rejects_a_bad_fault_mode() -> None:
    result = runner.invoke(app, ["sandbox", "serve", "--port", "0", "--fault", "explode"])
    assert result.exit_code != 0
