"""The review workbench at the command line, against a real PostgreSQL SL replica and the HTTP sandbox.

The sandbox's cross-references are removed, so payers whose SL customer id differs from their PayTrace
id become ``unknown_customer`` items. ``review resolve`` posts one through the normal steps (exactly
once), closes it with who/what, and ``--remember`` makes the payer's next payments match by themselves.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from review_world import DAY, LA, Bench
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.pipeline.runner import replay, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.reconcile.report import build_report
from paytrace_sl.review.store import get_item, list_items
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTCustXref, xPTLedger, xPTReview

pytestmark = pytest.mark.integration


def _cli(bench: Bench, *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=bench.env)


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _postings(engine: sa.Engine, txid: int) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(
                    xPTLedger.c.cust_id, xPTLedger.c.kind, xPTLedger.c.ref_nbr, xPTLedger.c.run_id
                ).where(xPTLedger.c.transaction_id == txid, xPTLedger.c.status == "posted")
            ).all()
        )


def test_resolve_remember_dismiss_and_replay_close(bench: Bench, tmp_path: Path) -> None:
    queue = _json(_cli(bench, "review", "list", "--reason", "unknown_customer", "--json"))
    ours = [i for i in queue if (i["details"].get("customer_id") or "") in bench.xref]
    assert ours, "the removed cross-references must leave unknown_customer items"
    assert all(i["amount"] is not None and i["open"] for i in queue)  # the queue shows the amount
    # queue order: oldest first, then the larger amount
    keys = [(i["created_at"][:16], -float(i["amount"])) for i in queue]
    assert keys == sorted(keys)

    item = ours[0]
    # A second payer's cross-reference is restored by hand and a scheduled run posts its payments: their
    # items stay open until a replay sweeps them (closed_how "posted", by that run).
    first_payer = ours[0]["details"]["customer_id"]
    second = next(i["details"]["customer_id"] for i in ours if i["details"]["customer_id"] != first_payer)
    with bench.engine.begin() as conn:
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            sa.insert(xPTCustXref).values(
                paytrace_customer_id=second,
                cust_id=bench.xref[second],
                source="manual",
                active=1,
                created_at=now,
                updated_at=now,
            )
        )
    run_window(bench.cfg, day_window(DAY, LA), "day-2")
    swept = [i for i in queue if i["details"].get("customer_id") == second]
    assert swept and all(_postings(bench.engine, i["transaction_id"]) for i in swept)
    assert all(get_item(bench.engine, i["id"]).is_open for i in swept)
    payer, truth, txid = item["details"]["customer_id"], bench.xref[item["details"]["customer_id"]], item[
        "transaction_id"]  # fmt: skip
    shown = _json(_cli(bench, "review", "show", str(item["id"]), "--json"))
    assert shown["id"] == item["id"] and shown["reason_code"] == "unknown_customer"
    assert "card" not in json.dumps(shown["details"]).lower()  # PCI-safe facts only

    # an SL customer that does not exist: exit 2, one line, nothing posted
    bad = _cli(bench, "review", "resolve", str(item["id"]), "--customer", "NOSUCHCUST")
    assert bad.exit_code == 2 and "NOSUCHCUST" in bad.stderr and "Traceback" not in bad.output
    assert _postings(bench.engine, txid) == []

    done = _json(
        _cli(bench, "review", "resolve", str(item["id"]), "--customer", truth, "--remember", "--json")
    )
    assert done["item"]["closed_how"] == "resolved" and done["item"]["resolved_by"] == "cli:alice"
    assert done["item"]["resolved_cust_id"] == truth and done["remembered"] is True
    assert done["item"]["resolution"].startswith("posted payment PA ")
    posted = _postings(bench.engine, txid)
    assert [(p.cust_id.strip(), p.kind, p.run_id) for p in posted] == [(truth, "payment", done["run_id"])]
    with bench.engine.connect() as conn:
        doc = conn.execute(
            sa.select(catalog.ARDoc.c.CustId).where(catalog.ARDoc.c.RefNbr == posted[0].ref_nbr,
                                                   catalog.ARDoc.c.DocType == "PA")
        ).scalar_one()  # fmt: skip
        assert doc.strip() == truth
        remembered = conn.execute(
            sa.select(xPTCustXref.c.cust_id, xPTCustXref.c.source).where(
                xPTCustXref.c.paytrace_customer_id == payer)
        ).one()  # fmt: skip
    assert (remembered.cust_id.strip(), remembered.source) == (truth, "review")

    # a closed item cannot be resolved again (exit 2, says who closed it); still one posting
    again = _cli(bench, "review", "resolve", str(item["id"]), "--customer", truth)
    assert again.exit_code == 2 and "already closed (resolved by cli:alice" in again.stderr
    assert len(_postings(bench.engine, txid)) == 1

    # dismiss: the reason is required and kept for the auditor
    other = next(i for i in queue if i["details"].get("customer_id") not in (payer, second))
    assert _cli(bench, "review", "dismiss", str(other["id"]), "--why", "  ").exit_code == 2
    gone = _json(
        _cli(bench, "review", "dismiss", str(other["id"]), "--why", "test charge by the owner", "--by", "bob",
             "--json")
    )  # fmt: skip
    assert (gone["closed_how"], gone["resolved_by"], gone["closed_why"]) == (
        "dismissed", "cli:bob", "test charge by the owner")  # fmt: skip
    assert _postings(bench.engine, other["transaction_id"]) == []
    listed = _json(_cli(bench, "review", "list", "--json"))
    assert {item["id"], other["id"]}.isdisjoint({i["id"] for i in listed})
    everything = _json(_cli(bench, "review", "list", "--all", "--json"))
    assert {item["id"], other["id"]} <= {i["id"] for i in everything}

    # the remembered payer's other payments of the day now match by themselves: a replay posts them and
    # closes their items; the dismissed one stays dismissed and unposted
    same_payer = [i for i in queue if i["details"].get("customer_id") == payer and i["id"] != item["id"]]
    result = replay(bench.cfg, "replay-after-review", start=DAY, end=DAY + dt.timedelta(days=1))
    assert result["reviews_closed"] >= len(same_payer)
    by_id = {i.id: i for i in list_items(bench.engine, include_closed=True)}
    for i in same_payer:
        assert by_id[i["id"]].closed_how == "replayed"
        assert [p.cust_id.strip() for p in _postings(bench.engine, i["transaction_id"])] == [truth]
    for i in swept:
        assert (by_id[i["id"]].closed_how, by_id[i["id"]].resolved_by) == ("posted", "day-2")
    assert by_id[other["id"]].closed_how == "dismissed"
    assert by_id[item["id"]].resolved_by == "cli:alice"
    assert _postings(bench.engine, other["transaction_id"]) == []

    # the auditor report lists the closed items with how, who and why
    report = tmp_path / "report"
    build_report(bench.engine, DAY, DAY, report, landing_dir=bench.cfg.landing_dir, gx_dir=bench.cfg.gx_dir)
    with (report / "review_closed.csv").open(newline="") as fh:
        closed = {int(r["id"]): r for r in csv.DictReader(fh)}
    assert (closed[item["id"]]["closed_how"], closed[item["id"]]["closed_by"]) == ("resolved", "cli:alice")
    assert closed[item["id"]]["sl_customer"] == truth
    assert (closed[other["id"]]["closed_how"], closed[other["id"]]["why"]) == (
        "dismissed", "test charge by the owner")  # fmt: skip
    assert all(closed[i["id"]]["closed_how"] == "replayed" for i in same_payer)
    assert all(closed[i["id"]]["closed_how"] == "posted" for i in swept)
    assert "test charge by the owner" in (report / "report.html").read_text(encoding="utf-8")


def test_unknown_item_and_bad_age_are_usage_errors(bench: Bench) -> None:
    with bench.engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(xPTReview.c.id))).scalar_one()
    missing = _cli(bench, "review", "show", str(int(top or 0) + 1000))
    assert missing.exit_code == 2 and "not found" in missing.stderr
    assert _cli(bench, "review", "list", "--older-than", "soon").exit_code == 2
    old = _json(_cli(bench, "review", "list", "--older-than", "3650d", "--json"))
    assert old == []  # nothing is ten years old
