"""Hostile export records through the whole payments pipeline: extract (real client, real HTTP) → parse →
checks (GX) → transform → SL writer → summary, against a SQLite SL replica built from SL's DDL.

Properties, for every generated batch:
* every record the client hands over is accounted for: posted + already posted + skipped + review +
  dead-lettered = extracted (summarize_step's row accounting, re-derived here independently);
* every extracted transaction id can be found in our tables (ledger, skip, review or dead letter);
* text is stored literally (the SQL-looking string comes back out of xPTDeadLetter unchanged);
* every SL table still exists and nothing but the run's own documents was written.

PayTrace is a minimal real HTTP server answering ``/oauth/token`` and the v1 export with the generated
records (the full sandbox cannot serve arbitrary records); the PayTraceClient under test is the real one.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.parse import parse_transaction
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.runner import PipelineConfig, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install
from paytrace_sl_sandbox.demo import write_sandbox_mapping
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

LA = "America/Los_Angeles"
SQL = "'; DROP TABLE Batch;--"


def _unit_strategies() -> Any:
    import sys

    unit_dir = str(Path(__file__).resolve().parents[2] / "unit" / "security")
    if unit_dir not in sys.path:
        sys.path.insert(0, unit_dir)
    import bad_input_strategies

    return bad_input_strategies


S = _unit_strategies()


class ExportServer:
    """PayTrace's token and transaction-export endpoints over real HTTP, serving ``records``."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if self.path == "/oauth/token":
                    answer: dict[str, Any] = {
                        "access_token": "0123abcd0123abcd:0123abcd0123abcd:" + "ab" * 32,
                        "token_type": "bearer",
                        "expires_in": 7200,
                    }
                else:
                    declined = "DECLINED" in body
                    answer = {
                        "success": True,
                        "response_code": 1,
                        "status_message": "Your request has been successfully completed.",
                        "transactions": [] if declined else outer.records,
                    }
                data = json.dumps(answer).encode()  # NaN/Infinity as JS literals, like a sloppy server
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ExportServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def export_server() -> Iterator[ExportServer]:
    with ExportServer() as server:
        yield server


@pytest.fixture
def seeded_sqlite(sl_sqlite_url: str) -> str:
    init_sandbox(sl_sqlite_url, S.MERCHANT)
    engine = create_sl_engine(sl_sqlite_url)
    install(engine)
    engine.dispose()
    return sl_sqlite_url


def _transport_safe(value: Any) -> bool:
    """Values JSON can carry at all (NaN/Infinity go as literals; the client parses them)."""
    return not (isinstance(value, float) and math.isnan(value))


def _expected(records: list[dict[str, Any]], window: Any) -> tuple[set[int], int]:
    """(parsed transaction ids, number of parse rejections) as the pipeline should see them: every record
    PayTrace lists for the window's day counts, whatever its ``created.at`` (``window`` is informative)."""
    tz = ZoneInfo(LA)
    seen_ids: set[Any] = set()
    parsed: set[int] = set()
    rejected_digests: set[str] = set()
    for raw in records:
        rid = raw.get("transaction_id")
        if isinstance(rid, (int, str)) and not isinstance(rid, bool):
            if rid in seen_ids:
                continue  # the client keeps the first record of an id (logged as a duplicate)
            seen_ids.add(rid)
        try:
            tx = parse_transaction(raw, tz)
        except RecordParseError as exc:
            # the same broken record seen twice is one dead letter (identified by id, else by content)
            key = (
                str(exc.transaction_id)
                if isinstance(exc.transaction_id, int)
                else json.dumps(raw, sort_keys=True, default=str)
            )
            rejected_digests.add(key)
            continue
        parsed.add(tx.transaction_id)  # listed for the day: processed even if stamped outside it
    return parsed, len(rejected_digests)


@settings(
    max_examples=2,
    deadline=None,
    phases=(Phase.generate,),  # each example is a full pipeline run: no shrinking, no replay database
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    hostile=st.lists(S.hostile_records(), min_size=8, max_size=14),
    duplicates=st.lists(st.integers(min_value=0, max_value=29), max_size=3),
)
def test_hostile_batch_is_fully_accounted_and_stored_literally(
    hostile: list[tuple[dict[str, Any], list[str]]],
    duplicates: list[int],
    export_server: ExportServer,
    seeded_sqlite: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    records = [r for r, _ in hostile if all(_transport_safe(v) for v in r.values())]
    clean = [dict(r) for r in S.BASE_RECORDS]
    # an unknown type carrying SQL: must be dead-lettered with the text intact
    sql_record = dict(clean[0], transaction_id=99000001, transaction_type="CHARGEBACK", customer_id=SQL)
    records = [*clean[1:20], *records, sql_record, *(dict(clean[i % len(clean)]) for i in duplicates)]
    export_server.records = records

    root = tmp_path_factory.mktemp("run")
    run_id = f"hostile-{root.name}"
    cfg = PipelineConfig(
        sl_url=seeded_sqlite,
        paytrace=PayTraceSettings(
            url=export_server.url, username="u", password="p-secret", timezone=LA, requests_per_second=0
        ),
        mapping_path=write_sandbox_mapping(root / "mapping.yaml"),
        landing_dir=root / "landing",
        gx_dir=root / "gx",
        lookback=dt.timedelta(0),
    )
    window = day_window(S.MERCHANT.start, LA)
    (root / "records.json").write_text(json.dumps(records))  # to replay a failure by hand
    summary = run_window(cfg, window, run_id)

    parsed_ids, rejected = _expected(records, window)
    assert summary["transactions"] == len(parsed_ids) + rejected, (summary, len(parsed_ids), rejected)
    writer_review = Landing(cfg.landing_dir, run_id).read_json("load.json")["writer_review"]
    buckets = (
        summary["posted"]
        + summary["already_posted"]
        + summary["skipped"]
        + (summary["review"] - writer_review)
        + summary["dead_letter"]
    )
    assert buckets == summary["transactions"], (summary, writer_review)

    engine = create_sl_engine(seeded_sqlite)
    try:
        with engine.connect() as conn:
            found: set[int] = set()
            for table, column in (
                ("xPTLedger", "transaction_id"),
                ("xPTSkip", "transaction_id"),
                ("xPTReview", "transaction_id"),
                ("xPTDeadLetter", "transaction_id"),
            ):
                found |= {
                    int(v)
                    for v in conn.execute(sa.text(f"SELECT {column} FROM {table}")).scalars()
                    if v is not None
                }
            payloads = [
                json.loads(p)
                for p in conn.execute(
                    sa.text("SELECT payload FROM xPTDeadLetter WHERE transaction_id = 99000001")
                ).scalars()
            ]
            live = {n.lower() for n in sa.inspect(conn).get_table_names()}
            foreign = conn.execute(
                sa.text("SELECT count(*) FROM ARDoc WHERE Crtd_Prog = 'PTSL' AND DocType NOT IN ('PA', 'CM')")
            ).scalar_one()
    finally:
        engine.dispose()
    missing = parsed_ids - found
    assert not missing, f"extracted but in no bucket (silently dropped): {sorted(missing)[:10]}"
    assert payloads and payloads[0]["customer_id"] == SQL
    assert {t.lower() for t in catalog.TABLES} <= live, "an SL table disappeared"
    assert foreign == 0
