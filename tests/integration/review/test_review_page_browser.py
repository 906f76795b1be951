"""The Airflow review page in real headless Chromium: the queue with suggestions, then Resolve with
suggestion (one click), Resolve and Dismiss clicked as a person does, against a real PostgreSQL SL
replica and the HTTP PayTrace sandbox.

The page app is served by uvicorn on a free loopback port; the acting user is given as an Actor (who
may act is decided by Airflow's auth manager in production: test_review_page_auth.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from headless import CHROMIUM, Browser
from review_world import Bench

from paytrace_sl.review.store import get_item, list_items
from paytrace_sl.sl.own_tables import utcnow, xPTCustXref, xPTLedger

pytestmark = pytest.mark.integration


@contextmanager
def serve(app: object) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def _posted(bench: Bench, txid: int) -> list[str]:
    with bench.engine.connect() as conn:
        return [
            str(c).strip()
            for c in conn.execute(
                sa.select(xPTLedger.c.cust_id).where(
                    xPTLedger.c.transaction_id == txid, xPTLedger.c.status == "posted"
                )
            ).scalars()
        ]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium binary not installed (apt-get install chromium)")
def test_resolve_and_dismiss_clicked_in_chromium(bench: Bench, tmp_path: Path) -> None:
    from paytrace_sl_airflow.review_page import Actor, create_review_app

    queue = list_items(bench.engine, reason="unknown_customer")
    target = next(i for i in queue if (i.payer().paytrace_customer_id or "") in bench.xref)
    truth = bench.xref[target.payer().paytrace_customer_id or ""]
    other = next(i for i in queue if i.id != target.id)
    # a third payer's vault profile was linked meanwhile (xPTCustXref, as the customers DAG writes it):
    # its item's best suggestion is that customer, and one click resolves it
    third = next(
        i
        for i in queue
        if i.id not in (target.id, other.id)
        and (i.payer().paytrace_customer_id or "") in bench.xref
        and i.payer().paytrace_customer_id not in (target.payer().paytrace_customer_id,
                                                   other.payer().paytrace_customer_id)
    )  # fmt: skip
    third_payer = third.payer().paytrace_customer_id or ""
    now = utcnow()
    with bench.engine.begin() as conn:
        conn.execute(
            sa.insert(xPTCustXref).values(
                paytrace_customer_id=third_payer, cust_id=bench.xref[third_payer], source="auto-match",
                active=1, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    app = create_review_app(
        sl_url=bench.cfg.sl_url, pipeline_config=lambda: bench.cfg, actor=lambda: Actor("carol", True)
    )
    browser = Browser(tmp_path / "profile")
    try:
        with serve(app) as base:
            browser.goto(f"{base}/?reason=unknown_customer")
            assert browser.text("#actor") == "carol"
            rows = browser.evaluate(
                "[...document.querySelectorAll('#queue tbody tr')].map(r => +r.dataset.item)"
            )
            assert rows and set(rows) == {i.id for i in queue}  # the filter shows exactly that reason
            browser.screenshot(tmp_path / "queue.png")

            # Resolve with suggestion: one click on the suggested customer
            assert (
                browser.evaluate(f"document.querySelector('#suggest-{third.id}').dataset.cust")
                == (bench.xref[third_payer])
            )
            browser.click(f"#accept-{third.id} button")
            flash = browser.wait_for(
                f"(t => t && t.includes('item {third.id} resolved') && t)"
                "(document.querySelector('#flash')?.textContent)",
                timeout=120,
            )
            assert flash.startswith(f"item {third.id} resolved: payment PA "), flash
            assert browser.evaluate(f"document.querySelector('#item-{third.id}') === null")

            # Resolve: type the SL customer the payer really is, tick "remember", click Resolve
            browser.type(f"#resolve-{target.id} input[name=customer]", truth)
            browser.click(f"#resolve-{target.id} input[name=remember]")
            browser.click(f"#resolve-{target.id} button")
            flash = browser.wait_for(
                f"(t => t && t.includes('item {target.id} resolved') && t)"
                "(document.querySelector('#flash')?.textContent)",
                timeout=120,
            )
            assert flash.startswith(f"item {target.id} resolved: payment PA "), flash
            assert "(payer remembered)" in flash
            assert browser.evaluate(f"document.querySelector('#item-{target.id}') === null")
            browser.screenshot(tmp_path / "resolved.png")

            # Dismiss another item with a reason
            browser.type(f"#dismiss-{other.id} input[name=why]", "duplicate charge refunded by phone")
            browser.click(f"#dismiss-{other.id} button")
            flash = browser.wait_for(
                f"(t => t && t.includes('item {other.id} dismissed') && t)"
                "(document.querySelector('#flash')?.textContent)"
            )
            assert flash.endswith("duplicate charge refunded by phone")
            assert browser.evaluate(f"document.querySelector('#item-{other.id}') === null")
            browser.screenshot(tmp_path / "dismissed.png")
        assert browser.errors == []
    finally:
        browser.close()

    resolved, dismissed = get_item(bench.engine, target.id), get_item(bench.engine, other.id)
    assert (resolved.closed_how, resolved.resolved_by, resolved.resolved_cust_id) == (
        "resolved", "airflow:carol", truth)  # fmt: skip
    assert _posted(bench, int(target.transaction_id or 0)) == [truth]
    assert (dismissed.closed_how, dismissed.resolved_by, dismissed.closed_why) == (
        "dismissed", "airflow:carol", "duplicate charge refunded by phone")  # fmt: skip
    assert _posted(bench, int(other.transaction_id or 0)) == []
    accepted = get_item(bench.engine, third.id)
    assert (accepted.closed_how, accepted.resolved_by, accepted.closed_why) == (
        "resolved", "airflow:carol", "resolved with the suggested customer")  # fmt: skip
    assert _posted(bench, int(third.transaction_id or 0)) == [bench.xref[third_payer]]
