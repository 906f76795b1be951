"""``make demo``: 7 days of sandbox payments through Airflow itself into a SQLite SL sandbox.

Steps: start the PayTrace sandbox (HTTP, a free port), create and seed a SQLite SL sandbox, point the
Airflow connections at both (``AIRFLOW_CONN_*``), then run BOTH DAGs for each of the 7 merchant days
with ``airflow dags test`` -- real Airflow runs, recorded in a local metadata DB -- and print the summary
table and where to look (Data Docs, the SL database, the landing files).

This module lives in the library (no Airflow import here): Airflow runs in subprocesses with
``AIRFLOW_HOME`` under ``var/demo/airflow``. Run: ``.venv/bin/python -m paytrace_sl_sandbox.demo``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from paytrace_sl import settings
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING, PAYMENTS_DAG_ID, REPO_ROOT, SETTLEMENTS_DAG_ID
from paytrace_sl.settings import reports_dir
from paytrace_sl_sandbox.sl_seed import SandboxSLConfig

SANDBOX_USER = "sandbox"
SANDBOX_PASSWORD = "sandbox-password"  # noqa: S105 - the local sandbox's fixed credential
DEMO_START = dt.date(2025, 4, 1)
RECURRING_DAG_ID = "paytrace_recurring_to_sl"
DEMO_DAYS = 7
TIMEZONE = "America/Los_Angeles"
CUSTOMERS_DAG_ID = "paytrace_customers_to_sl"
# vault customers whose SL id differs and that are not cross-referenced yet: their payments wait as
# unknown_customer until the customers DAG links the vault profile and apply-suggestions resolves them
DEMO_UNLINKED_CUSTOMERS = 2

# The shipped mapping.yaml uses the SL sandbox's chart of accounts (paytrace_sl_sandbox.sl_seed), so the
# demo runs on it as shipped; the only demo-specific choice is how unmatched payments are booked.


def write_sandbox_mapping(
    dest: Path,
    source: Path = DEFAULT_MAPPING,
    *,
    unidentified_receipts: bool = False,
    walk_ins_only: bool = False,
) -> Path:
    """A copy of ``mapping.yaml`` (comments kept) for the demo and ``make airflow``; returns ``dest``.

    The accounts are left as they are: the shipped file already uses the sandbox chart. With
    ``unidentified_receipts``, payments no SL customer matches are posted unapplied to the sandbox's
    unidentified-receipts customer with a review note, the way SL users book walk-in card receipts,
    instead of waiting in the review queue unposted; with ``walk_ins_only`` too, only payers without a
    PayTrace customer id go there (a vault customer SL does not know yet waits in review until its
    profile is linked). Without it the copy is the source, verbatim.
    """
    text = source.read_text()
    if unidentified_receipts:
        replacements = {
            "  unmatched: review\n": (
                "  unmatched: unidentified_walk_ins\n" if walk_ins_only else "  unmatched: unidentified\n"
            ),
            '  unidentified_customer_id: ""\n': (
                f'  unidentified_customer_id: "{SandboxSLConfig().unidentified_cust_id}"\n'
            ),
        }
        for old, new in replacements.items():
            if old not in text:
                raise ValueError(f"{source}: expected a line {old.strip()!r} under customers:")
            text = text.replace(old, new, 1)
        text = (
            "# paytrace_sl_sandbox.demo: unmatched payments posted to the unidentified-receipts customer\n"
            + text
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return dest


def airflow_env(
    home: Path, paytrace_url: str, sl_url: str, var_dir: Path, mapping: Path, interval: str = "daily"
) -> dict[str, str]:
    """Environment for Airflow subprocesses: isolated home, SQLite metadata, our DAGs and connections."""
    env = dict(settings.environ())
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_PAYTRACE_DEFAULT": json.dumps(
                {
                    "conn_type": "paytrace",
                    "host": paytrace_url,
                    "login": SANDBOX_USER,
                    "password": SANDBOX_PASSWORD,
                    "extra": {"timezone": TIMEZONE, "requests_per_second": 0},
                }
            ),
            "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT": json.dumps(
                {"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": sl_url}}
            ),
            "PAYTRACE_TIMEZONE": TIMEZONE,
            "PAYTRACE_SL_INTERVAL": interval,
            "PAYTRACE_SL_START_DATE": DEMO_START.isoformat(),
            "PAYTRACE_SL_MAPPING": str(mapping),
            "PAYTRACE_SL_LANDING_DIR": str(var_dir / "landing"),
            "PAYTRACE_SL_GX_DIR": str(var_dir / "gx"),
            "PAYTRACE_SL_CHARGEBACKS_DIR": str(var_dir / "chargebacks"),
            "PAYTRACE_SL_RETRIES": "0",
            "PAYTRACE_SL_LOOKBACK_HOURS": "24",  # the demo's days run in order: one day of look-back suffices
            "GX_ANALYTICS_ENABLED": "false",
        }
    )
    for name in ("SL_DATABASE_URL", "PAYTRACE_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD"):
        env.pop(name, None)
    return env


def _airflow(args: Sequence[str], env: Mapping[str, str], log_file: Path) -> None:
    """Run ``airflow <args>``; on failure show the tail of its output."""
    with log_file.open("a") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run(
            ["airflow", *args], env=dict(env), stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if proc.returncode != 0:
        tail = log_file.read_text().splitlines()[-40:]
        raise SystemExit(
            f"airflow {' '.join(args)} failed (exit {proc.returncode}); see {log_file}\n" + "\n".join(tail)
        )


def _run_streaming(cmd: Sequence[str], env: Mapping[str, str], log_file: Path) -> int:
    """Run ``cmd``; everything goes to ``log_file``, our ``@@`` progress lines also to the terminal."""
    with log_file.open("a") as out:
        proc = subprocess.Popen(
            cmd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if line.startswith("@@ "):
                print("  " + line[3:], end="", flush=True)
        return proc.wait()


def run_day_script(days: Sequence[dt.date], *, customers_last_day: bool = False) -> str:
    """Python run by one Airflow subprocess: ``dag.test()`` of both DAGs for each day (one start-up),
    after one run of the recurring-schedules DAG (so the reports show the recurring charges); with
    ``customers_last_day`` then the customers DAG for the last day (the vault profiles linked the
    morning after, as the review routine expects)."""
    last = days[-1] + dt.timedelta(days=1)
    customers = [CUSTOMERS_DAG_ID] if customers_last_day and days else []
    return f"""
import datetime as dt, sys
import pendulum
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
if bag.import_errors:
    sys.exit(f"DAG import errors: {{bag.import_errors}}")
logical = pendulum.datetime({last.year}, {last.month}, {last.day}, tz={TIMEZONE!r})
dr = bag.get_dag({RECURRING_DAG_ID!r}).test(logical_date=logical)
print(f"@@ {RECURRING_DAG_ID}: {{dr.state}}", flush=True)
if str(dr.state) != "success":
    sys.exit(f"{RECURRING_DAG_ID} ended {{dr.state}}; see the task logs above")
for iso in {[d.isoformat() for d in days]!r}:
    day = dt.date.fromisoformat(iso) + dt.timedelta(days=1)
    logical = pendulum.datetime(day.year, day.month, day.day, tz={TIMEZONE!r})
    for dag_id in ({PAYMENTS_DAG_ID!r}, {SETTLEMENTS_DAG_ID!r}):
        dr = bag.get_dag(dag_id).test(logical_date=logical)
        print(f"@@ {{dag_id}} {{iso}}: {{dr.state}}", flush=True)
        if str(dr.state) != "success":
            sys.exit(f"{{dag_id}} run for {{iso}} ended {{dr.state}}; see the task logs above")
for dag_id in {customers!r}:
    dr = bag.get_dag(dag_id).test(logical_date=logical)
    print(f"@@ {{dag_id}} {{iso}}: {{dr.state}}", flush=True)
    if str(dr.state) != "success":
        sys.exit(f"{{dag_id}} run for {{iso}} ended {{dr.state}}; see the task logs above")
"""


CHARGEBACKS_DAG_ID = "paytrace_chargebacks_to_sl"

CHARGEBACK_SCRIPT = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag().get_dag({CHARGEBACKS_DAG_ID!r})
dr = dag.test()
files = dr.get_task_instance("import_files").xcom_pull(task_ids="import_files") or {{}}
for f in files.get("files", []):
    print(f"@@ {CHARGEBACKS_DAG_ID} {{f.get('file')}}: {{json.dumps(f.get('outcomes', f.get('failed')))}}, "
          f"dead letters {{f.get('dead_letters', 0)}}", flush=True)
if str(dr.state) != "success":
    sys.exit(f"{CHARGEBACKS_DAG_ID} ended {{dr.state}}")
"""


def drop_chargeback_files(server: Any, sl_url: str, folder: Path, day: dt.date) -> list[Path]:
    """The sandbox processor's two reports for four posted sales: chargebacks (+ a retrieval and the bad
    rows a real file can hold) now, the representment results (one won, one lost) in a later file."""
    import sqlalchemy as sa

    from paytrace_sl.sl.engine import create_sl_engine
    from paytrace_sl.sl.own_tables import xPTLedger
    from paytrace_sl_sandbox.chargebacks import chargeback_cases, write_chargeback_file

    engine = create_sl_engine(sl_url)
    try:
        with engine.connect() as conn:
            ids = [
                int(t)
                for (t,) in conn.execute(
                    sa.select(xPTLedger.c.transaction_id)
                    .where(xPTLedger.c.kind == "payment", xPTLedger.c.status == "posted")
                    .order_by(xPTLedger.c.transaction_id)
                    .limit(4)
                )
            ]
    finally:
        engine.dispose()
    txs = [server.export_by_id({"transaction_id": t})["transactions"][0] for t in ids]
    cases = chargeback_cases(txs, day, won=1, lost=1, retrievals=1)
    first = [c for c in cases if c.stage in ("chargeback", "retrieval")]
    later = [c for c in cases if c.stage in ("won", "lost")]
    inbox = folder / "inbox"
    return [
        write_chargeback_file(
            inbox / f"chargebacks-{day:%Y%m%d}.csv",
            first,
            malformed=True,
            unknown_id=99999999,
            duplicate=True,
        ),
        write_chargeback_file(inbox / f"representments-{day:%Y%m%d}.csv", later),
    ]


def chargeback_summary(sl_url: str) -> str:
    """One line: the case stages in SL by stage and outcome."""
    import sqlalchemy as sa

    from paytrace_sl.sl.engine import create_sl_engine
    from paytrace_sl.sl.own_tables import xPTChargeback as cb

    engine = create_sl_engine(sl_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(cb.c.stage, cb.c.outcome, sa.func.count()).group_by(cb.c.stage, cb.c.outcome)
            ).all()
    finally:
        engine.dispose()
    parts = ", ".join(f"{stage} {outcome} {n}" for stage, outcome, n in sorted(rows))
    return f"Chargebacks:   {sum(int(r[2]) for r in rows)} case stage(s) in xPTChargeback ({parts or 'none'})"


def demo_totals(sl_url: str) -> tuple[int, dict[str, Any]]:
    """(transactions in the demo days, totals over every run) from the SL database and xPTRun."""

    from collections import Counter

    from paytrace_sl.pipeline.run_history import history, latest_per_run
    from paytrace_sl.pipeline.runner import PAYMENTS_DAG_ID, totals
    from paytrace_sl.sl.engine import create_sl_engine

    engine = create_sl_engine(sl_url)
    try:
        latest = latest_per_run(history(engine))  # a re-run's attempt counts its window once
        transactions = sum(
            int(a.counts.get("in_window", 0) or 0) for a in latest if a.dag_id == PAYMENTS_DAG_ID
        )
        runs: dict[Any, Any] = dict(Counter(a.status for a in latest))
        result = totals(engine)
    finally:
        engine.dispose()
    result["runs"] = {str(k): int(v) for k, v in runs.items()}
    return transactions, result


def books_summary(
    sl_url: str, landing_dir: Path, mapping_path: Path, first: dt.date, last: dt.date
) -> list[str]:
    """What sits in card clearing and why, and the settlement batches' unexplained differences.

    An offline reconciliation over the demo days (the landed records): its card-clearing notes name the
    open items the money waits in (``paytrace_sl.reconcile.books``).
    """
    from paytrace_sl.pipeline.mapping import load_mapping
    from paytrace_sl.reconcile import reconcile
    from paytrace_sl.sl.engine import create_sl_engine

    engine = create_sl_engine(sl_url)
    try:
        report = reconcile(engine, first, last, landing_dir=landing_dir, mapping=load_mapping(mapping_path))
    finally:
        engine.dispose()
    differences = [e for e in report.unexplained if e.kind == "batch_difference"]
    lines = [n for n in report.notes if n.startswith("card clearing")]
    lines.append(
        f"settlement batches: {len(report.batches)}, unexplained differences: {len(differences)}; "
        f"unexplained exceptions in all: {len(report.unexplained)} (paytrace-sl reconcile for details)"
    )
    return lines


def work_queue_down(paytrace_url: str, sl_url: str, var_dir: Path, mapping: Path) -> list[str]:
    """The morning routine's first step: apply the suggestions safe without a person
    (``paytrace-sl review apply-suggestions``); returns what was applied and what still needs a person."""
    from paytrace_sl.paytrace.config import PayTraceSettings
    from paytrace_sl.pipeline.config import PipelineConfig
    from paytrace_sl.review.apply import apply_suggestions

    cfg = PipelineConfig(
        sl_url=sl_url,
        paytrace=PayTraceSettings(
            url=paytrace_url,
            username=SANDBOX_USER,
            password=SANDBOX_PASSWORD,
            timezone=TIMEZONE,
            requests_per_second=0,
        ),
        mapping_path=mapping,
        landing_dir=var_dir / "landing",
        gx_dir=var_dir / "gx",
    )
    print("Review: applying the suggestions safe without a person", flush=True)
    report = apply_suggestions(cfg)
    return [*report.lines(), *(f"  not posted: {p}" for p in report.problems)]


def recurring_summary(sl_url: str, today: dt.date) -> str:
    """One line: the recurring schedules the demo mirrored, upcoming and failed charges."""
    from paytrace_sl.pipeline.recurring import recurring_overview
    from paytrace_sl.sl.engine import create_sl_engine

    engine = create_sl_engine(sl_url)
    try:
        with engine.connect() as conn:
            view = recurring_overview(conn, today)
    finally:
        engine.dispose()
    if view is None:
        return ""
    return (
        f"{view.schedules} schedules ({view.unlinked} unlinked) in xPTRecurSched; upcoming from {today}: "
        f"{len(view.upcoming)} totalling {view.upcoming_total}; failed: {len(view.failed)} "
        "(paytrace-sl recurring show; the Airflow page; the reports' recurring_* tables)"
    )


def fraud_summary(sl_url: str, labels: Mapping[int, str]) -> str:
    """One line: alerts by pattern in xPTFraudAlert, and how many injected records they found."""
    from collections import Counter

    from paytrace_sl.fraud.store import list_alerts
    from paytrace_sl.sl.engine import create_sl_engine

    engine = create_sl_engine(sl_url)
    try:
        alerts = list_alerts(engine, limit=100_000)
    finally:
        engine.dispose()
    by_pattern = Counter(a["pattern"] for a in alerts)
    found = sum(1 for a in alerts if int(a["transaction_id"]) in labels)
    return (
        f"fraud alerts: {len(alerts)} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_pattern.items())) or 'none'}); "
        f"injected fraud records: {len(labels)}, alerted: {found} (docs/fraud.md)"
    )


def print_summary(
    transactions: int,
    result: Mapping[str, Any],
    sl_url: str,
    var_dir: Path,
    elapsed: float,
    days: int = DEMO_DAYS,
    books: Sequence[str] = (),
    recurring: str = "",
) -> None:
    from rich.console import Console

    from paytrace_sl.cli.pipeline import totals_table

    console = Console()
    title = f"paytrace-sl demo: {days} merchant days from {DEMO_START} through Airflow ({elapsed:.0f} s)"
    console.print(totals_table(transactions, dict(result), title))
    console.print(f"Airflow runs recorded in xPTRun: {result['runs']}")
    if recurring:
        console.print(f"Recurring:      {recurring}", markup=False)
    for line in books:
        console.print(f"Books: {line}", markup=False)
    console.print(f"Data Docs:      {var_dir / 'gx' / 'data_docs' / 'index.html'}")
    console.print(f"Reports:        {reports_dir()}/<day>/report.html (auditor report per settlement day)")
    console.print(f"SL sandbox:     {sl_url}")
    console.print(f"Landing files:  {var_dir / 'landing'}")
    console.print(f"Airflow output: {var_dir / 'airflow.log'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var-dir", type=Path, default=REPO_ROOT / "var" / "demo")
    parser.add_argument("--days", type=int, default=DEMO_DAYS)
    parser.add_argument("--tx-per-day", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--fraud-rate",
        type=float,
        default=0.01,
        help="labelled fraud incidents per transaction (docs/fraud.md)",
    )
    args = parser.parse_args(argv)

    from paytrace_sl_sandbox.fraud_patterns import FraudInjection
    from paytrace_sl_sandbox.merchant import MerchantConfig
    from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
    from paytrace_sl_sandbox.sl_seed import init_sandbox

    started = time.perf_counter()
    var_dir: Path = args.var_dir.resolve()
    if var_dir.exists():
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)
    sl_url = f"sqlite:///{var_dir / 'sl-sandbox.db'}"
    merchant = MerchantConfig(seed=args.seed, start=DEMO_START, days=args.days, tx_per_day=args.tx_per_day)
    print(f"SL sandbox: seeding {sl_url}", flush=True)
    init_sandbox(sl_url, merchant, sl_config=SandboxSLConfig(unlinked_customers=DEMO_UNLINKED_CUSTOMERS))
    mapping = write_sandbox_mapping(
        var_dir / "mapping-sandbox.yaml", unidentified_receipts=True, walk_ins_only=True
    )
    days = [DEMO_START + dt.timedelta(days=i) for i in range(args.days)]
    log_file = var_dir / "airflow.log"
    with SandboxServer(SandboxConfig(merchant, fraud=FraudInjection(rate=args.fraud_rate)), port=0) as server:
        labels = server.fraud_labels()
        print(
            f"PayTrace sandbox: {server.url} ({args.days} days x {args.tx_per_day} transactions)", flush=True
        )
        # recurring schedules (issue 16 §3): the sandbox clock at the morning after the last demo day,
        # so their charges fall on the demo days (normal transactions) and the next ones are upcoming
        from paytrace_sl_sandbox.recurring import create_demo_schedules

        server.set_clock(dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(6, 30), server.sim.tz))
        schedules = create_demo_schedules(server, days[0])
        server.recurring.catch_up(server)
        server.settle({})  # the charges settle like any sale (else they would stay pending for ever)
        print(f"PayTrace sandbox: {len(schedules)} recurring schedules", flush=True)
        env = airflow_env(var_dir / "airflow", server.url, sl_url, var_dir, mapping)
        print("Airflow: creating the metadata DB", flush=True)
        _airflow(["db", "migrate"], env, log_file)
        print(f"Airflow: running {PAYMENTS_DAG_ID} and {SETTLEMENTS_DAG_ID} for {len(days)} days", flush=True)
        script = var_dir / "run_days.py"
        script.write_text(run_day_script(days, customers_last_day=True))
        returncode = _run_streaming([sys.executable, str(script)], env, log_file)
        if returncode != 0:
            tail = "\n".join(log_file.read_text().splitlines()[-40:])
            raise SystemExit(f"the Airflow runs failed (exit {returncode}); see {log_file}\n{tail}")
        drop_chargeback_files(server, sl_url, var_dir / "chargebacks", days[-1])
        print(f"Airflow: {CHARGEBACKS_DAG_ID} imports the processor's files from the inbox", flush=True)
        cb_script = var_dir / "run_chargebacks.py"
        cb_script.write_text(CHARGEBACK_SCRIPT)
        returncode = _run_streaming([sys.executable, str(cb_script)], env, log_file)
        if returncode != 0:
            tail = "\n".join(log_file.read_text().splitlines()[-40:])
            raise SystemExit(f"the chargebacks run failed (exit {returncode}); see {log_file}\n{tail}")
        queue = work_queue_down(server.url, sl_url, var_dir, mapping)
    transactions, result = demo_totals(sl_url)
    books = [
        *books_summary(sl_url, var_dir / "landing", mapping, days[0], days[-1]),
        chargeback_summary(sl_url),
    ]
    recurring = recurring_summary(sl_url, days[-1] + dt.timedelta(days=1))
    print_summary(
        transactions, result, sl_url, var_dir, time.perf_counter() - started, args.days, books, recurring
    )
    print(fraud_summary(sl_url, labels), flush=True)
    for line in queue:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
