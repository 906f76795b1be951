"""A replay of dead letters counts the dead letters it opens (issue 10: it recorded ``dead_letters_new: 0``
while writing them, so the replay run's log and notification said nothing new waited for a person).

Real PayTrace sandbox (with deliberately malformed records) over HTTP, SQLite SL replica.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.config import DEFAULT_MAPPING, PipelineConfig
from paytrace_sl.pipeline.files import summary_file
from paytrace_sl.pipeline.flows.replay import replay
from paytrace_sl.pipeline.flows.run import run_window
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.summaries import ExtractSummary
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
START = dt.date(2025, 4, 1)


def test_replay_counts_the_dead_letters_it_opens(
    make_sandbox: Callable[[SandboxConfig], SandboxServer],
    sl_sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAYTRACE_SL_MAPPING", raising=False)
    merchant = MerchantConfig(seed=11, start=START, days=2, tx_per_day=40, bad_records=True)
    server = make_sandbox(SandboxConfig(merchant, bad_records=True))
    init_sandbox(sl_sqlite_url, merchant)
    cfg = PipelineConfig(
        sl_url=sl_sqlite_url,
        paytrace=PayTraceSettings(
            url=server.url,
            username="sandbox",
            password="sandbox-password",
            timezone=LA,
            requests_per_second=0,
        ),
        mapping_path=DEFAULT_MAPPING,
        landing_dir=tmp_path / "landing",
        gx_dir=tmp_path / "gx",
        lookback=dt.timedelta(0),
    )
    run_window(cfg, day_window(START, LA), "bad-1")
    engine = create_sl_engine(sl_sqlite_url)
    try:
        with engine.begin() as conn:
            ids = [
                int(i)
                for (i,) in conn.execute(
                    sa.text(
                        "SELECT id FROM xPTDeadLetter WHERE transaction_id IS NOT NULL "
                        "AND source = 'paytrace-transaction' AND failed_checks LIKE '%parse:%'"
                    )
                )
            ]
            assert ids, "the sandbox day needs unparseable records that carry a transaction id"
            # letters recorded by an earlier build, with another reason: the still-bad records the replay
            # re-fetches are new dead letters, not the same open ones again
            conn.execute(
                sa.text("UPDATE xPTDeadLetter SET reason = 'older reason', payload_hash = 'old-' || id")
            )

        result = replay(cfg, "replay-1", dead_letter_ids=ids)

        with engine.connect() as conn:
            opened = conn.execute(
                sa.text("SELECT count(*) FROM xPTDeadLetter WHERE run_id = 'replay-1'")
            ).scalar_one()
            counts = json.loads(
                conn.execute(sa.text("SELECT counts FROM xPTRun WHERE run_id = 'replay-1'")).scalar_one()
            )
    finally:
        engine.dispose()
    extract = ExtractSummary.from_json(
        Landing(cfg.landing_dir, "replay-1").read_json(summary_file(ExtractSummary.STEP))
    )
    assert opened == len(ids)
    assert extract.dead_letters_new == opened
    assert counts["dead_letter_new"] == opened
    assert result["dead_letters_closed"] == 0 and result["dead_letter"] >= len(ids)
