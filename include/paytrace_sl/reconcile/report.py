"""The auditor report: one self-contained HTML page plus a CSV and a JSON file for every table in it.

Tables: summary, completeness (row accounting per day), runs, accuracy per day and per settlement batch,
cut-off (the SL period each SL batch / run window went to), data quality (every expectation of every
validation run in range, linked to its Data Docs page), exceptions, the review queue with age, lineage
(PayTrace transaction → SL document → run → code version).

Deterministic: rows are sorted, values are strings or integers, charts are hand-made SVG, ages are
measured at the end of the reported range — so the same inputs give byte-identical files, except the
generation time shown in ``report.html`` and ``report.json``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

import paytrace_sl
from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.pipeline.settlement import classify
from paytrace_sl.reconcile.charts import bar_chart
from paytrace_sl.reconcile.engine import ReconOptions, reconcile
from paytrace_sl.reconcile.model import ReconReport
from paytrace_sl.reconcile.sl_state import PostedDoc, load_posted_docs, why_not_posted
from paytrace_sl.review.store import closed_between
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview, xPTRun

Cell = str | int


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""

    def to_json(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buffer.getvalue()


@dataclass
class ReportData:
    start: dt.date
    end: dt.date
    source: str
    code_version: str
    git_sha: str
    tables: dict[str, Table] = field(default_factory=dict)
    charts: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _m(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def git_sha(repo: Path | None = None) -> str:
    """The commit of the running code when it runs from a git checkout, else ""."""
    root = repo or Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return ""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _bucket(
    tx: Transaction, docs: dict[str, PostedDoc], removed: set[int], why: dict[int, Any], mapping: Any
) -> str:
    kind = classify(tx, mapping)
    if (
        kind is not None
        and f"paytrace:{tx.transaction_id}:{'payment' if kind == 'sale' else 'refund'}" in docs
    ):
        return "posted"
    reason = why.get(tx.transaction_id)
    if reason is not None and reason.code in ("review", "dead_letter", "skipped"):
        return reason.code
    if tx.transaction_id in removed or (reason is not None and reason.code == "removed"):
        return "posted"  # posted, then removed on purpose (void): accounted for
    return "not_postable" if kind is None else "unaccounted"


def build_report_data(
    engine: sa.Engine,
    start: dt.date,
    end: dt.date,
    *,
    recon: ReconReport | None = None,
    paytrace_client: Any | None = None,
    landing_dir: Path | None = None,
    gx_dir: Path | None = None,
    mapping: Any | None = None,
    options: ReconOptions | None = None,
    now: dt.datetime | None = None,
    out_dir: Path | None = None,
) -> ReportData:
    """Collect every table of the report (no files written).

    ``recon``: a :func:`reconcile` result for the same range (computed here when None); its PayTrace
    transactions and chargeback case stages fill the report's tables, so neither is read twice."""
    opts = options or ReconOptions(
        timezone=getattr(mapping, "timezone", "America/Los_Angeles"),
        expect_settlement=bool(getattr(mapping, "settlement_planned", False)),
    )
    tz = ZoneInfo(opts.timezone)
    recon = recon or reconcile(
        engine,
        start,
        end,
        paytrace_client=paytrace_client,
        landing_dir=landing_dir,
        mapping=mapping,
        options=opts,
        now=now,
    )
    as_of = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    with engine.connect() as conn:
        txs = list(recon.transactions)  # PayTrace's side as reconcile() read it (not fetched a second time)
        ids = [t.transaction_id for t in txs]
        docs = {
            d.ledger_key: d
            for d in load_posted_docs(conn, transaction_ids=ids, programs=opts.programs)
            if d.kind in ("payment", "refund")
        }
        why = why_not_posted(conn, ids)
        removed = {
            int(r[0])
            for r in conn.execute(
                sa.select(xPTLedger.c.transaction_id).where(
                    xPTLedger.c.status == "removed", xPTLedger.c.transaction_id.is_not(None)
                )
            )
        }
        runs = list(
            conn.execute(sa.select(xPTRun).order_by(xPTRun.c.dag_id, xPTRun.c.run_id, xPTRun.c.try_number))
        )
        rv = xPTReview.c  # the columns every schema version has (the report does not install)
        reviews = list(
            conn.execute(
                sa.select(rv.id, rv.transaction_id, rv.reason_code, rv.reason, rv.created_at)
                .where(rv.resolved_at.is_(None))
                .order_by(rv.id)
            )
        )
        closed_reviews = closed_between(conn, dt.datetime.combine(start, dt.time(), tz), as_of, ids)
        all_docs = load_posted_docs(
            conn, where=xPTLedger.c.kind.in_(("payment", "refund", "settlement")), programs=opts.programs
        )
    data = ReportData(start, end, recon.source, paytrace_sl.__version__, git_sha(), notes=recon.notes)
    days = _days(start, end)

    # ---- completeness
    buckets = ("posted", "review", "dead_letter", "skipped", "not_postable", "unaccounted")
    per_day: dict[dt.date, dict[str, int]] = {d: dict.fromkeys(buckets, 0) for d in days}
    tx_day = {t.transaction_id: t.created_at.astimezone(tz).date() for t in txs}
    for t in txs:
        per_day[tx_day[t.transaction_id]][_bucket(t, docs, removed, why, mapping)] += 1
    comp_rows = []
    for d in days:
        c = per_day[d]
        extracted = sum(c.values())
        comp_rows.append(
            (d.isoformat(), extracted, *(c[b] for b in buckets), "yes" if c["unaccounted"] == 0 else "no")
        )
    data.tables["completeness"] = Table(
        "completeness",
        "Completeness: row accounting per day",
        ("day", "extracted", *buckets, "balanced"),
        tuple(comp_rows),
        "extracted = posted + review + dead_letter + skipped + not_postable + unaccounted; "
        "not_postable = voided, declined or authorization-only records that are never posted themselves.",
    )

    # ---- runs (the pipeline's own accounting, from xPTRun: every attempt of every run)
    run_rows = []
    run_ids_in_range: set[str] = set()
    for r in runs:
        ws = r.window_start.astimezone(tz).date() if r.window_start else None
        we = r.window_end.astimezone(tz).date() if r.window_end else None
        if ws is None or ws > end or (we is not None and we < start):
            continue
        run_ids_in_range.add(str(r.run_id))
        counts = json.loads(r.counts) if r.counts else {}
        parts = [
            int(counts.get(k, 0) or 0)
            for k in ("transactions", "posted", "already_posted", "skipped", "review", "dead_letter")
        ]
        run_rows.append(
            (
                str(r.run_id),
                str(r.dag_id),
                int(r.try_number),
                r.started_at.isoformat(timespec="seconds") if r.started_at else "",
                r.window_start.isoformat() if r.window_start else "",
                r.window_end.isoformat() if r.window_end else "",
                str(r.status),
                *parts,
                "yes" if parts[0] == sum(parts[1:]) else "no",
            )
        )
    data.tables["runs"] = Table(
        "runs",
        "Pipeline runs in range, every attempt (xPTRun)",
        (
            "run_id",
            "dag_id",
            "try",
            "started_at",
            "window_start",
            "window_end",
            "status",
            "extracted",
            "posted",
            "already_posted",
            "skipped",
            "review",
            "dead_letter",
            "balanced",
        ),
        tuple(run_rows),
        "One row per attempt: a re-run or retry of a window adds a row and never overwrites an earlier "
        "attempt's counts (a re-run of a posted window shows posted 0, already_posted N).",
    )

    # ---- accuracy per day
    acc: dict[dt.date, list[Decimal]] = {d: [Decimal(0)] * 4 for d in days}
    for t in txs:
        kind = classify(t, mapping)
        if kind is None:
            continue
        row = acc[tx_day[t.transaction_id]]
        doc = docs.get(f"paytrace:{t.transaction_id}:{'payment' if kind == 'sale' else 'refund'}")
        sl = doc.sl_amount if doc is not None and doc.sl_amount is not None else Decimal(0)
        if kind == "sale":
            row[0] += t.amount
            row[2] += sl
        else:
            row[1] += t.amount
            row[3] += sl
    acc_rows = []
    for d in days:
        ps, pr, ss, sr = acc[d]
        acc_rows.append(
            (
                d.isoformat(),
                _m(ps),
                _m(pr),
                _m(ps - pr),
                _m(ss),
                _m(sr),
                _m(ss - sr),
                _m((ps - pr) - (ss - sr)),
            )
        )
    data.tables["accuracy_daily"] = Table(
        "accuracy_daily",
        "Accuracy per day: PayTrace vs SL",
        (
            "day",
            "paytrace_sales",
            "paytrace_refunds",
            "paytrace_net",
            "sl_payments",
            "sl_refunds",
            "sl_net",
            "difference",
        ),
        tuple(acc_rows),
        "SL amounts are read from the live SL documents (ARDoc).",
    )
    data.tables["accuracy_batches"] = Table(
        "accuracy_batches",
        "Accuracy per settlement batch",
        (
            "batch_number",
            "settled_date",
            "status",
            "explained",
            "paytrace_count",
            "paytrace_net",
            "listed_count",
            "listed_net",
            "sl_count",
            "sl_net",
            "deposit_entry",
            "difference",
        ),
        tuple(
            (
                b.batch_number,
                b.settled_date.isoformat(),
                b.status,
                "yes" if b.explained else "no",
                b.paytrace.count,
                _m(b.paytrace.net),
                b.listed.count,
                _m(b.listed.net),
                b.posted.count,
                _m(b.posted.net),
                "" if b.settlement_posted is None else _m(b.settlement_posted),
                _m(Decimal(b.difference_cents) / 100),
            )
            for b in recon.batches
        ),
    )

    # ---- cut-off
    groups: dict[tuple[str, str], list[PostedDoc]] = defaultdict(list)
    for posted in all_docs:
        day = posted.doc_date or posted.posted_at.astimezone(tz).date()
        if start <= day <= end and posted.bat_nbr:
            groups[(posted.module, posted.bat_nbr)].append(posted)
    cut_rows = []
    for (module, bat), items in sorted(groups.items()):
        b = items[0].batch
        dates = sorted((i.doc_date or i.posted_at.astimezone(tz).date()).isoformat() for i in items)
        cut_rows.append(
            (
                module,
                bat,
                ",".join(sorted({i.per_post for i in items})),
                b.status if b else "missing",
                "yes" if b is not None and b.rlsed else "no",
                len(items),
                _m(sum((i.amount for i in items), Decimal(0))),
                dates[0],
                dates[-1],
                " ".join(sorted({i.run_id for i in items if i.run_id})),
            )
        )
    data.tables["cutoff"] = Table(
        "cutoff",
        "Cut-off: SL period of every SL batch we wrote for the range",
        (
            "module",
            "bat_nbr",
            "per_post",
            "sl_status",
            "released",
            "documents",
            "amount",
            "first_date",
            "last_date",
            "run_ids",
        ),
        tuple(cut_rows),
    )

    # ---- data quality
    data.tables["data_quality"] = _data_quality(
        gx_dir, run_ids_in_range | {d.run_id for d in docs.values()}, out_dir
    )

    # ---- exceptions and review queue
    data.tables["exceptions"] = Table(
        "exceptions",
        "Exceptions",
        (
            "kind",
            "explained",
            "day",
            "transaction_id",
            "batch_number",
            "sl_ref",
            "amount",
            "reason",
            "action",
        ),
        tuple(
            (
                e.kind,
                "yes" if e.explained else "no",
                e.day.isoformat() if e.day else "",
                "" if e.transaction_id is None else e.transaction_id,
                "" if e.batch_number is None else e.batch_number,
                e.sl_ref,
                "" if e.amount is None else _m(e.amount),
                e.reason,
                e.action,
            )
            for e in recon.exceptions
        ),
    )
    data.tables["review_queue"] = Table(
        "review_queue",
        "Review queue (open items; age at the end of the range)",
        ("id", "transaction_id", "reason_code", "reason", "created_at", "age_days"),
        tuple(
            (
                int(r.id),
                "" if r.transaction_id is None else int(r.transaction_id),
                str(r.reason_code),
                str(r.reason),
                r.created_at.isoformat(),
                max(0, (as_of - r.created_at).days),
            )
            for r in reviews
            if r.created_at <= as_of
        ),
    )
    data.tables["review_closed"] = Table(
        "review_closed",
        "Review items closed (of the range's transactions, or opened or closed in it): how, who, when, why",
        (
            "id",
            "transaction_id",
            "reason_code",
            "closed_how",
            "closed_by",
            "closed_at",
            "why",
            "resolution",
            "sl_customer",
            "invoice",
        ),
        tuple(
            (
                i.id,
                "" if i.transaction_id is None else i.transaction_id,
                i.reason_code,
                i.closed_how or "",
                i.resolved_by or "",
                i.resolved_at.isoformat() if i.resolved_at else "",
                i.closed_why or "",
                i.resolution or "",
                i.resolved_cust_id or "",
                i.resolved_ref_nbr or "",
            )
            for i in closed_reviews
        ),
    )

    # ---- vault cards expiring soon for customers with open invoices (as of the range's last day)
    from paytrace_sl.customers.expiring import REPORT_COLUMNS, expiring_report_rows

    expiring_days = int(getattr(getattr(mapping, "customers", None), "expiring_days", 30))
    data.tables["expiring_cards"] = Table(
        "expiring_cards",
        f"Vault cards expiring within {expiring_days} days (customers with open invoices)",
        REPORT_COLUMNS,
        tuple(expiring_report_rows(engine, end, expiring_days)),
        note="Cards on file in the PayTrace vault (last four digits) of SL customers with open invoices; "
        "run paytrace_customers_to_sl to refresh the vault profiles.",
    )

    data.tables["fraud_alerts"] = _fraud_alerts(
        engine,
        dt.datetime.combine(start, dt.time(), tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz),
    )

    # ---- lineage
    dag_of = {str(r.run_id): str(r.dag_id) for r in runs}
    lin_rows = []
    for t in txs:
        kind = classify(t, mapping)
        key = f"paytrace:{t.transaction_id}:{'payment' if kind == 'sale' else 'refund'}" if kind else ""
        doc = docs.get(key)
        lin_rows.append(
            (
                t.transaction_id,
                t.transaction_type,
                _m(t.amount),
                t.status.value,
                "" if t.batch_number is None else t.batch_number,
                doc.ledger_key if doc else "",
                doc.module if doc else "",
                doc.bat_nbr if doc else "",
                doc.doc_type if doc else "",
                doc.ref_nbr if doc else "",
                doc.per_post if doc else "",
                doc.run_id if doc else "",
                dag_of.get(doc.run_id, "") if doc else "",
                data.code_version,
                data.git_sha,
            )
        )
    data.tables["lineage"] = Table(
        "lineage",
        "Lineage: PayTrace transaction → SL document → run → code",
        (
            "transaction_id",
            "type",
            "amount",
            "paytrace_state",
            "paytrace_batch",
            "ledger_key",
            "sl_module",
            "sl_batch",
            "doc_type",
            "ref_nbr",
            "per_post",
            "run_id",
            "dag_id",
            "code_version",
            "git_sha",
        ),
        tuple(lin_rows),
    )
    data.tables.update(_recurring_tables(engine, end))  # issue 16 §3: none before schema v8

    # ---- chargeback cases and their stages (reconcile/chargebacks.py)
    from paytrace_sl.reconcile.chargebacks import COLUMNS as CB_COLUMNS

    cases = recon.chargeback_cases  # checked once, by reconcile()
    data.tables["chargebacks"] = Table(
        "chargebacks",
        "Chargebacks and retrievals: each case stage and its SL documents",
        CB_COLUMNS,
        tuple(c.row() for c in cases),
    )

    # ---- summary (the headline numbers shown at the top of the page)
    total = {b: sum(per_day[d][b] for d in days) for b in buckets}
    pt_net = sum((Decimal(r[3]) for r in acc_rows), Decimal(0))
    sl_net = sum((Decimal(r[6]) for r in acc_rows), Decimal(0))
    summary: list[tuple[Cell, ...]] = [
        ("transactions", len(txs)),
        *((b, total[b]) for b in buckets),
        ("paytrace_net", _m(pt_net)),
        ("sl_net", _m(sl_net)),
        ("difference", _m(pt_net - sl_net)),
        ("settlement_batches", len(recon.batches)),
        ("batches_matched", sum(1 for b in recon.batches if b.status == "matched")),
        ("exceptions", len(recon.exceptions)),
        ("unexplained", len(recon.unexplained)),
        ("open_reviews", len(data.tables["review_queue"].rows)),
        ("fraud_alerts", len(data.tables["fraud_alerts"].rows)),
        ("chargeback_stages", len(cases)),
    ]
    data.tables = {"summary": Table("summary", "Summary", ("metric", "value"), tuple(summary)), **data.tables}

    # ---- charts
    labels = [d.isoformat() for d in days]
    counts = [sum(per_day[d].values()) for d in days]
    data.charts["volume"] = bar_chart(
        "Daily volume (PayTrace transactions)", labels, [("transactions", counts)]
    )
    data.charts["amount"] = bar_chart(
        "Daily net amount",
        labels,
        [("PayTrace net", [Decimal(r[3]) for r in acc_rows]), ("SL net", [Decimal(r[6]) for r in acc_rows])],
    )
    status_by_day: dict[str, list[int]] = {d.isoformat(): [0, 0, 0] for d in days}
    for rec in recon.batches:
        slot = status_by_day.setdefault(rec.settled_date.isoformat(), [0, 0, 0])
        slot[{"matched": 0, "pending": 1}.get(rec.status, 2)] += 1
    s_labels = sorted(status_by_day)
    data.charts["recon_status"] = bar_chart(
        "Settlement batch reconciliation status",
        s_labels,
        [
            ("matched", [status_by_day[d][0] for d in s_labels]),
            ("pending", [status_by_day[d][1] for d in s_labels]),
            ("difference", [status_by_day[d][2] for d in s_labels]),
        ],
        stacked=True,
    )
    return data


def _fraud_alerts(engine: sa.Engine, start: dt.datetime, end: dt.datetime) -> Table:
    """Fraud alerts of the range's transactions (docs/fraud.md): score, patterns, reasons, model version."""
    from paytrace_sl.fraud.store import list_alerts
    from paytrace_sl.sl.catalog import live_table_names
    from paytrace_sl.sl.own_tables import xPTFraudAlert

    with engine.connect() as conn:
        present = xPTFraudAlert.name.lower() in live_table_names(conn)
    alerts = list_alerts(engine, start, end, limit=5000) if present else []
    return Table(
        "fraud_alerts",
        "Fraud alerts (score 1.0 = a named pattern; 0.5-0.99 = the model; held = kept out of SL)",
        ("transaction_id", "created_at", "patterns", "score", "held", "reasons", "model_version"),
        tuple(
            (
                int(a["transaction_id"]),
                a["created_at"].isoformat() if a["created_at"] else "",
                str(a["patterns"]),
                f"{float(a['score']):.2f}",
                "yes" if a["held"] else "no",
                "; ".join(str(r) for r in a["reasons"]),
                "" if a["model_version"] is None else int(a["model_version"]),
            )
            for a in sorted(alerts, key=lambda a: (a["created_at"], a["transaction_id"]))
        ),
        note="" if present else "fraud tables not installed (schema < v8)",
    )


def _recurring_tables(engine: sa.Engine, end: dt.date) -> dict[str, Table]:
    """Upcoming recurring charges after the report's range and schedules whose last charge failed."""
    from paytrace_sl.reconcile.recurring_section import recurring_rows

    found = recurring_rows(engine, end + dt.timedelta(days=1))
    if found is None:
        return {}
    columns, upcoming, failed, note = found
    return {
        "recurring_upcoming": Table(
            "recurring_upcoming", "Recurring charges: upcoming", columns, upcoming, note
        ),
        "recurring_failed": Table("recurring_failed", "Recurring charges: failed", columns, failed, note),
    }


def _data_quality(gx_dir: Path | None, run_ids: set[str], out_dir: Path | None) -> Table:
    columns = ("run_id", "validated_at", "suite", "expectation", "column", "success", "data_docs")
    rows: list[tuple[Cell, ...]] = []
    root = gx_dir / "gx" / "uncommitted" / "validations" if gx_dir is not None else None
    if root is not None and root.is_dir():
        for path in sorted(root.rglob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            run = doc.get("meta", {}).get("run_id", {})
            run_name = str(run.get("run_name", ""))
            if run_name not in run_ids:
                continue
            rel = path.relative_to(root).with_suffix(".html")
            page = gx_dir / "data_docs" / "validations" / rel if gx_dir is not None else None
            link = ""
            if page is not None and page.exists():
                link = os.path.relpath(page, out_dir) if out_dir is not None else str(page)
            for result in doc.get("results", []):
                cfg = result.get("expectation_config", {})
                rows.append(
                    (
                        run_name,
                        str(run.get("run_time", "")),
                        str(doc.get("suite_name", "")),
                        str(cfg.get("type", "")),
                        str(cfg.get("kwargs", {}).get("column", "")),
                        "pass" if result.get("success") else "fail",
                        link,
                    )
                )
    return Table(
        "data_quality",
        "Data quality: every expectation of every validation run in range",
        columns,
        tuple(rows),
        "" if rows else f"no Great Expectations validation results found under {gx_dir}",
    )


# -------------------------------------------------------------------------------------------- output


def _template() -> Template:
    return Template(resources.files("paytrace_sl.reconcile").joinpath("report.html.tmpl").read_text("utf-8"))


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for col, value in zip(table.columns, row, strict=True):
            text = escape(str(value))
            if col == "data_docs" and value:
                text = f'<a href="{escape(str(value))}">Data Docs</a>'
            cls = (
                ' class="bad"'
                if (col in ("balanced", "explained") and value == "no") or value == "fail"
                else ""
            )
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    empty = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (
        f'<section id="{table.name}"><h2>{escape(table.title)}</h2>{empty}'
        f'<p class="files">Files: <a href="{table.name}.csv">{table.name}.csv</a> · '
        f'<a href="{table.name}.json">{table.name}.json</a> · {len(table.rows)} rows</p>'
        f'<div class="scroll"><table data-table="{table.name}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def render_html(data: ReportData, generated_at: dt.datetime, refresh_reason: str = "") -> str:
    headline = "".join(
        f'<div class="metric"><dt>{escape(str(m).replace("_", " "))}</dt>'
        f'<dd data-metric="{escape(str(m))}">{escape(str(v))}</dd></div>'
        for m, v in data.tables["summary"].rows
    )
    unexplained = _summary_map(data).get("unexplained", 0)
    verdict = (
        "All differences are explained."
        if unexplained == 0
        else f"{unexplained} unexplained exception(s) need attention."
    )
    sections = "".join(_html_table(t) for name, t in data.tables.items() if name != "summary")
    charts = "".join(f'<figure id="chart-{n}">{svg}</figure>' for n, svg in data.charts.items())
    notes = "".join(f"<li>{escape(n)}</li>" for n in data.notes)
    return _template().substitute(
        title=escape(f"PayTrace → SL reconciliation {data.start} to {data.end}"),
        start=data.start.isoformat(),
        end=data.end.isoformat(),
        source=escape(data.source),
        version=escape(data.code_version),
        git_sha=escape(data.git_sha or "unknown"),
        generated=escape(generated_at.isoformat(timespec="seconds")),
        uptodate=(
            f'<p class="meta" id="brought-up-to-date">Brought up to date at '
            f"{escape(generated_at.isoformat(timespec='seconds'))}"
            f"{escape(' after ' + refresh_reason) if refresh_reason else ''}</p>"
        ),
        headline=headline,
        verdict=escape(verdict),
        verdict_class="ok" if unexplained == 0 else "bad",
        charts=charts,
        sections=sections,
        notes=f"<ul>{notes}</ul>" if notes else "",
    )


def write_report(
    data: ReportData, out_dir: Path, *, generated_at: dt.datetime | None = None, refresh_reason: str = ""
) -> list[Path]:
    """Write ``report.html``, ``report.json`` and ``<table>.csv`` / ``<table>.json`` per table.

    ``refresh_reason``: why an earlier report was rewritten (a later run changed what it covers), shown
    next to "Brought up to date at …" (:mod:`paytrace_sl.reconcile.report_refresh`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    when = generated_at or dt.datetime.now(dt.UTC)
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        path = out_dir / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)

    for name, table in data.tables.items():
        put(f"{name}.csv", table.to_csv())
        put(f"{name}.json", json.dumps(table.to_json(), indent=1, sort_keys=False) + "\n")
    put(
        "report.json",
        json.dumps(
            {
                "start": data.start.isoformat(),
                "end": data.end.isoformat(),
                "source": data.source,
                "code_version": data.code_version,
                "git_sha": data.git_sha,
                "generated_at": when.isoformat(timespec="seconds"),
                "brought_up_to_date_at": when.isoformat(timespec="seconds"),
                "brought_up_to_date_after": refresh_reason,
                "notes": list(data.notes),
                "tables": {n: t.to_json() for n, t in data.tables.items()},
            },
            indent=1,
        )
        + "\n",
    )
    put("report.html", render_html(data, when, refresh_reason))
    return written


def build_report(engine: sa.Engine, start: dt.date, end: dt.date, out_dir: Path, **kwargs: Any) -> ReportData:
    """Collect and write the report into ``out_dir``; returns the data (its summary is the headline)."""
    generated_at = kwargs.pop("generated_at", None)
    refresh_reason = str(kwargs.pop("refresh_reason", "") or "")
    data = build_report_data(engine, start, end, out_dir=out_dir, **kwargs)
    write_report(data, out_dir, generated_at=generated_at, refresh_reason=refresh_reason)
    return data


def summary_value(data: ReportData, metric: str) -> Cell:
    return _summary_map(data)[metric]


def _summary_map(data: ReportData) -> dict[str, Cell]:
    return {str(row[0]): row[1] for row in data.tables["summary"].rows}


def table_names(data: ReportData) -> Sequence[str]:
    return list(data.tables)
