"""RunContext: one engine, one mapping load and one schema check per task (issue 10: a window's steps
opened the database 18 times and reloaded the mapping 7 times). Real sandbox over HTTP, SQLite SL."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.client import clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline import mapping as mapping_module
from paytrace_sl.pipeline.config import DEFAULT_MAPPING, PipelineConfig, PipelineError
from paytrace_sl.pipeline.context import RunContext
from paytrace_sl.pipeline.flows.run import run_window
from paytrace_sl.pipeline.steps import PAYMENT_STEP_NAMES
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl import engine as engine_module
from paytrace_sl.sl import own_tables
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
DAY = dt.date(2025, 4, 2)


def _config(sandbox_url: str, sl_url: str, root: Path) -> PipelineConfig:
    return PipelineConfig(
        sl_url=sl_url,
        paytrace=PayTraceSettings(
            url=sandbox_url,
            username="sandbox",
            password="sandbox-password",
            timezone=LA,
            requests_per_second=0,
        ),
        mapping_path=DEFAULT_MAPPING,
        landing_dir=root / "landing",
        gx_dir=root / "gx",
        lookback=dt.timedelta(0),
    )


class _Counting:
    """Counts calls of the real ``module.name`` (wrapped, not replaced) per pipeline step."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str, step: list[str]) -> None:
        self.calls: Counter[str] = Counter()
        real = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[step[0]] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


def test_one_engine_one_mapping_one_schema_check_per_step(
    paytrace_sandbox: SandboxServer, sl_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paytrace_sl_sandbox.merchant import MerchantConfig

    init_sandbox(sl_sqlite_url, MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60))
    clear_token_cache()
    step = ["extract"]
    engines = _Counting(monkeypatch, engine_module, "create_sl_engine", step)
    mappings = _Counting(monkeypatch, mapping_module, "load_mapping", step)
    installs = _Counting(monkeypatch, own_tables, "install", step)
    names = iter(PAYMENT_STEP_NAMES[1:])

    def next_step(name: str, summary: dict[str, Any]) -> None:
        step[0] = next(names, "after")

    summary = run_window(
        _config(paytrace_sandbox.url, sl_sqlite_url, tmp_path), day_window(DAY, LA), "ctx-1", next_step
    )
    assert summary["transactions"] > 0 and summary["posted"] > 0
    assert step == ["after"]
    assert all(engines.calls[name] == 1 for name in PAYMENT_STEP_NAMES), engines.calls
    assert all(mappings.calls[name] <= 1 for name in PAYMENT_STEP_NAMES), mappings.calls
    assert all(installs.calls[name] <= 1 for name in PAYMENT_STEP_NAMES), installs.calls
    assert sum(engines.calls.values()) == len(PAYMENT_STEP_NAMES)


def test_context_holds_what_it_opened_until_closed(sl_sqlite_url: str, tmp_path: Path) -> None:
    cfg = _config("http://127.0.0.1:9", sl_sqlite_url, tmp_path)
    with RunContext(cfg, None, "ctx-2") as ctx:
        assert ctx.engine is ctx.engine and ctx.sl is ctx.engine
        assert ctx.mapping is ctx.mapping
        with ctx.sl.connect() as conn:
            assert own_tables.current_version(conn) == own_tables.SCHEMA_VERSION
        first = ctx.engine
        with pytest.raises(PipelineError, match="needs a window"):
            _ = ctx.window
    assert ctx._engine is None  # disposed on exit
    with RunContext(cfg, day_window(DAY, LA), "ctx-2") as again:
        assert again.engine is not first
        assert again.landing.dir == tmp_path / "landing" / "ctx-2"
        with again.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
