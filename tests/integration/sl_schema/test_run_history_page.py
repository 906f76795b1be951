"""The "PayTrace run history" UI page: the real FastAPI app over a real SL replica's xPTRun."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from paytrace_sl.pipeline.run_history import record
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install

pytestmark = pytest.mark.integration

PAY = "paytrace_payments_to_sl"


def test_page_lists_every_attempt_and_marks_those_needing_a_person(sl_sqlite_url: str) -> None:
    from paytrace_sl_airflow.run_history_page import create_app

    engine = create_sl_engine(sl_sqlite_url)
    try:
        install(engine)
        window = day_window(dt.date(2025, 4, 2), "America/Los_Angeles")
        record(engine, "scheduled__2025-04-02", PAY, window, "running", {}, try_number=1)
        record(
            engine,
            "scheduled__2025-04-02",
            PAY,
            window,
            "partial",
            {"posted": 166, "review": 2, "review_new": 2},
        )
        record(engine, "scheduled__2025-04-02", PAY, window, "running", {}, try_number=2)
        record(engine, "scheduled__2025-04-02", PAY, window, "success", {"posted": 0, "already_posted": 341})
    finally:
        engine.dispose()
    client = TestClient(create_app(sl_url=sl_sqlite_url, require_login=False))
    html = client.get("/").text
    assert "data-run='scheduled__2025-04-02' data-try='1' data-status='partial'" in html
    assert "data-run='scheduled__2025-04-02' data-try='2' data-status='success'" in html
    assert "Needs a person: 2 review items (2 new)" in html
    assert "id='needs-person' data-count='1'" in html
    runs = client.get("/api/runs", params={"dag_id": PAY}).json()["history"]["attempts"]
    assert [(a["try_number"], a["counts"].get("posted")) for a in runs] == [(2, 0), (1, 166)]
    assert client.get("/api/runs", params={"dag_id": "other"}).json()["history"]["attempts"] == []


def test_plugin_registers_the_page_and_the_note_listener() -> None:
    from paytrace_sl_airflow import run_notes
    from paytrace_sl_airflow.ui_plugin import PaytraceSlPlugin

    assert run_notes in PaytraceSlPlugin.listeners
    assert "/paytrace-sl-runs" in [a["url_prefix"] for a in PaytraceSlPlugin.fastapi_apps]
    assert "PayTrace run history" in [v["name"] for v in PaytraceSlPlugin.external_views]


def test_run_history_page_requires_login(sl_sqlite_url: str) -> None:
    from paytrace_sl_airflow.run_history_page import create_app

    client = TestClient(create_app(sl_url=sl_sqlite_url))
    assert client.get("/").status_code in (401, 403)
    assert client.get("/api/runs").status_code in (401, 403)
