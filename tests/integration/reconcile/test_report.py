"""The auditor report: files, CSV = JSON = HTML numbers, byte-identical regeneration, and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from reconcile_world import END, NOW, START, World
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.reconcile.engine import ReconOptions
from paytrace_sl.reconcile.report import build_report

pytestmark = pytest.mark.integration

OPTS = ReconOptions(pending_days=3, hold_days=5, expect_settlement=True)
TABLES = (
    "summary",
    "completeness",
    "runs",
    "accuracy_daily",
    "accuracy_batches",
    "cutoff",
    "data_quality",
    "exceptions",
    "review_queue",
    "expiring_cards",
    "review_closed",
    "fraud_alerts",
    "lineage",
    "chargebacks",
)


def _build(world: World, out: Path, generated: dt.datetime) -> None:
    build_report(
        world.engine,
        START,
        END,
        out,
        landing_dir=world.landing,
        gx_dir=world.gx_dir,
        options=OPTS,
        now=NOW,
        generated_at=generated,
    )


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_report_files_and_numbers(messy_world: World, tmp_path: Path) -> None:
    out = tmp_path / "report"
    _build(messy_world, out, dt.datetime(2025, 4, 21, tzinfo=dt.UTC))
    for name in TABLES:
        assert (out / f"{name}.csv").exists() and (out / f"{name}.json").exists(), name
        rows = _csv(out / f"{name}.csv")
        as_json = json.loads((out / f"{name}.json").read_text())
        assert [{k: str(v) for k, v in r.items()} for r in as_json] == rows, name
    summary = {r["metric"]: r["value"] for r in _csv(out / "summary.csv")}
    # Row accounting: 14 PayTrace transactions, each in exactly one bucket.
    assert summary["transactions"] == "14"
    buckets = ("posted", "review", "dead_letter", "skipped", "not_postable", "unaccounted")
    assert sum(int(summary[b]) for b in buckets) == 14
    # review: 2004 (customer) and 2007 (void after release); 2007 is voided, so never "posted" itself.
    assert (summary["review"], summary["dead_letter"], summary["skipped"]) == ("2", "1", "1")
    assert summary["unaccounted"] == "1"  # 2008
    assert summary["unexplained"] == "8"  # one per crafted unexplained case
    for row in _csv(out / "completeness.csv"):
        assert int(row["extracted"]) == sum(int(row[b]) for b in buckets)
    daily = _csv(out / "accuracy_daily.csv")
    assert sum(float(r["paytrace_net"]) for r in daily) == pytest.approx(float(summary["paytrace_net"]))
    batches = {r["batch_number"]: r for r in _csv(out / "accuracy_batches.csv")}
    assert batches["501"]["status"] == "matched" and batches["501"]["deposit_entry"] == "130.00"
    assert batches["502"]["difference"] == "75.00" and batches["502"]["explained"] == "yes"
    dq = _csv(out / "data_quality.csv")
    assert [r["success"] for r in dq] == ["pass", "fail"]
    assert (out / dq[0]["data_docs"]).resolve().exists()
    lineage = {r["transaction_id"]: r for r in _csv(out / "lineage.csv")}
    assert lineage["1001"]["doc_type"] == "PA" and lineage["1001"]["run_id"].startswith("scheduled__")
    assert lineage["1001"]["dag_id"] == "paytrace_payments_to_sl" and lineage["1001"]["code_version"]
    reviews = _csv(out / "review_queue.csv")
    assert [(r["transaction_id"], r["age_days"]) for r in reviews] == [("2004", "0")]
    html = (out / "report.html").read_text()
    for metric, value in summary.items():
        assert f'data-metric="{metric}">{value}<' in html
    assert "<svg" in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html
    # PCI: no card number (not even a masked one) and no 13–19 digit run in any file of the report.
    for path in out.iterdir():
        text = path.read_text()
        assert "************" not in text and not re.search(r"(?<![0-9a-f])\d{13,19}(?![0-9a-f])", text), path


def test_report_is_deterministic(messy_world: World, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _build(messy_world, a, dt.datetime(2025, 4, 21, tzinfo=dt.UTC))
    _build(messy_world, b, dt.datetime(2025, 5, 1, 8, 30, tzinfo=dt.UTC))
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    stamp = re.compile(r"2025-0[45]-\d\dT\d\d:\d\d:\d\d\+00:00")
    for name in names:
        left, right = (a / name).read_text(), (b / name).read_text()
        if name in ("report.html", "report.json"):
            left, right = stamp.sub("<generated>", left), stamp.sub("<generated>", right)
            # Only the generation time differs, and it is present.
            assert (a / name).read_text() != (b / name).read_text()
        assert left == right, name


def test_cli_reconcile_exit_codes(messy_world: World, clean_world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    end = (END + dt.timedelta(days=1)).isoformat()  # --end is exclusive in every command
    args = ["reconcile", "--start", START.isoformat(), "--end", end, "--offline"]
    bad = runner.invoke(
        app, [*args, "--sl-url", messy_world.url, "--landing-dir", str(messy_world.landing), "--json"]
    )
    assert bad.exit_code == 1, bad.output
    payload = json.loads(bad.output)
    assert payload["counts"]["unexplained"] == 8 and payload["source"] == "landing"
    good = runner.invoke(app, [*args, "--sl-url", clean_world.url, "--landing-dir", str(clean_world.landing)])
    assert good.exit_code == 0, good.output
    assert "batch 501" in good.output and "matched" in good.output


def test_cli_report_writes_files(clean_world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--start",
            START.isoformat(),
            "--end",
            (END + dt.timedelta(days=1)).isoformat(),
            "--offline",
            "--sl-url",
            clean_world.url,
            "--landing-dir",
            str(clean_world.landing),
            "--gx-dir",
            str(clean_world.gx_dir),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "report.html").exists() and (out / "exceptions.csv").exists()
