"""The pipeline steps for one window: what the Airflow tasks and ``paytrace-sl sync`` both call.

Thin DAGs, thick library: every step is a function of ``(config, window, run_id)`` that reads its input
from the run's landing directory (or PayTrace / SL), writes its output there, and returns a *small*
JSON-able dict of counts (safe for XCom and logs: no card data, no amounts per card). Each step can be
re-run on its own (Airflow retry, "clear task", backfill with ``--reprocess-behavior completed``): the
landing files are overwritten atomically, our bookkeeping rows are inserted only when absent, and
the writer's ledger makes posting to SL exactly-once.

Steps of ``paytrace_payments_to_sl``: :func:`extract_step` → :func:`validate_step` →
``score_fraud`` (:mod:`paytrace_sl.pipeline.fraud_step`) → :func:`transform_step` → :func:`load_step` →
:func:`preflight_step` → :func:`summarize_step`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paytrace_sl import settings
from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.records import Transaction, TransactionState
from paytrace_sl.pipeline.copies import SETTLEMENT_BATCH, Copies, Resolved, resolve_copies
from paytrace_sl.pipeline.dead_letters import DeadLetter, parse_failure_letter
from paytrace_sl.pipeline.fraud_step import fraud_holds, fraud_step
from paytrace_sl.pipeline.landing import Landing, decode_plan
from paytrace_sl.pipeline.notify import (
    Notification,
    NotifySettings,
    attention_needed,
    notify,
    notify_declines,
)
from paytrace_sl.pipeline.steps import PAYMENT_STEP_NAMES, SETTLEMENT_STEP_NAMES
from paytrace_sl.pipeline.windows import Window
from paytrace_sl.settings import ConfigurationError, reports_dir, resolve_sl_url

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MAPPING = settings.shipped_contracts_dir() / "mapping.yaml"
DEFAULT_VAR = settings.var_dir()
PAYMENTS_DAG_ID = "paytrace_payments_to_sl"
SETTLEMENTS_DAG_ID = "paytrace_settlements_to_sl"
REPLAY_DAG_ID = "paytrace_sl_replay"
DEFAULT_LOOKBACK = dt.timedelta(days=1)

TX_FILE = "transactions.jsonl"
REJECTS_FILE = "rejects.jsonl"
VALIDATED_FILE = "validated.jsonl"
PLAN_FILE = "plan.json"
OUTCOME_FILE = "transform_outcome.json"
SL_BATCHES_FILE = "sl_batches.json"


class PipelineError(PaytraceSlError, RuntimeError):
    """A step cannot complete; the message says what to look at. Not retried (not transient)."""


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs. Built by the CLI from flags/environment, by a DAG task from connections."""

    sl_url: str = field(repr=False)  # may carry a password
    paytrace: PayTraceSettings
    mapping_path: Path = DEFAULT_MAPPING
    landing_dir: Path = DEFAULT_VAR / "landing"
    gx_dir: Path = DEFAULT_VAR / "gx"
    lookback: dt.timedelta | None = None  # None → the mapping's look-back days (else 1 day)
    notify: NotifySettings = field(default_factory=NotifySettings)
    sl_user: str = "PAYTRACE"
    program: str = "PTSL"
    dag_id: str = PAYMENTS_DAG_ID

    @property
    def timezone(self) -> str:
        return self.paytrace.timezone

    @classmethod
    def from_env(
        cls,
        *,
        sl_url: str | None = None,
        paytrace: PayTraceSettings | None = None,
        mapping_path: str | Path | None = None,
        landing_dir: str | Path | None = None,
        gx_dir: str | Path | None = None,
        lookback_hours: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> PipelineConfig:
        """Flags → ``PAYTRACE_SL_*`` / ``SL_DATABASE_URL`` / ``PAYTRACE_*`` → connections → defaults,
        one resolver per setting in :mod:`paytrace_sl.settings` (``env`` only feeds the notifications)."""
        hours = settings.lookback_hours(lookback_hours)
        return cls(
            sl_url=resolve_sl_url(sl_url),
            paytrace=paytrace or PayTraceSettings.from_env(),
            mapping_path=settings.mapping_path(mapping_path),
            landing_dir=settings.landing_dir(landing_dir),
            gx_dir=settings.gx_dir(gx_dir),
            lookback=None if hours is None else dt.timedelta(hours=hours),
            notify=NotifySettings.from_env(env),
        )


# ----------------------------------------------------------------------------------------- helpers


def _landing(cfg: PipelineConfig, run_id: str) -> Landing:
    return Landing(cfg.landing_dir, run_id)


@contextmanager
def _engine(cfg: PipelineConfig) -> Iterator[sa.Engine]:
    from paytrace_sl.sl.engine import create_sl_engine

    engine = create_sl_engine(cfg.sl_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _install_own_tables(engine: sa.Engine) -> None:
    from paytrace_sl.sl.own_tables import install

    install(engine)


def _load_mapping(cfg: PipelineConfig) -> Any:
    from paytrace_sl.pipeline.mapping import load_mapping

    return load_mapping(cfg.mapping_path)


def lookback_of(cfg: PipelineConfig, mapping: Any | None = None) -> dt.timedelta:
    """The configured look-back: explicit setting, else the mapping's ``lookback_days``, else 1 day."""
    if cfg.lookback is not None:
        return cfg.lookback
    if mapping is None:
        return DEFAULT_LOOKBACK
    days = int(getattr(mapping, "lookback_days", 0) or 0)
    hours = int(getattr(mapping, "lookback_hours", 0) or 0)
    return dt.timedelta(days=days, hours=hours)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _payload_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


def _write_step_summary(landing: Landing, step: str, summary: dict[str, Any]) -> dict[str, Any]:
    landing.write_json(f"{step}.json", summary)
    log.info("%s: %s", step, json.dumps(summary, sort_keys=True))
    return summary


def _read_step_summary(landing: Landing, step: str) -> dict[str, Any]:
    if not landing.exists(f"{step}.json"):
        return {}
    data = landing.read_json(f"{step}.json")
    return data if isinstance(data, dict) else {}


# ------------------------------------------------------------------------------- own bookkeeping rows


def record_dead_letters(engine: sa.Engine, run_id: str, letters: Sequence[DeadLetter]) -> int:
    """Insert dead letters not already open for the same record and payload; returns rows inserted."""
    from paytrace_sl.sl.own_tables import xPTDeadLetter as t

    inserted = 0
    with engine.begin() as conn:
        for letter in letters:
            payload = json.dumps(letter.payload, sort_keys=True, default=str)
            digest = _payload_hash(payload + "|" + letter.reason)
            exists = conn.execute(
                sa.select(t.c.id).where(t.c.payload_hash == digest, t.c.replayed_at.is_(None)).limit(1)
            ).first()
            if exists:
                continue
            conn.execute(
                sa.insert(t).values(
                    transaction_id=letter.transaction_id,
                    source=letter.source,
                    payload=payload,
                    payload_hash=digest,
                    reason=letter.reason[:500],
                    failed_checks=json.dumps(list(letter.failed_checks)) if letter.failed_checks else None,
                    run_id=run_id,
                    created_at=_now(),
                )
            )
            inserted += 1
    return inserted


def _existing_pairs(
    conn: sa.Connection, table: sa.Table, ids: Sequence[int], *where: sa.ColumnElement[bool]
) -> set[tuple[int | None, str]]:
    """(transaction id, reason code) pairs already in ``table`` for ``ids``: one query per 1,000 ids
    instead of one per item (a 100k window has tens of thousands of skips and review items)."""
    found: set[tuple[int | None, str]] = set()
    unique = sorted(set(ids))
    for i in range(0, len(unique), 1000):
        chunk = unique[i : i + 1000]
        rows = conn.execute(
            sa.select(table.c.transaction_id, table.c.reason_code).where(
                table.c.transaction_id.in_(chunk), *where
            )
        )
        found.update((r[0], str(r[1]).strip()) for r in rows)
    return found


def record_skips(engine: sa.Engine, run_id: str, skips: Iterable[Mapping[str, Any]]) -> int:
    """Record skipped transactions (declines, waiting authorizations…) once per (id, reason code).

    Race-safe on every dialect: xPTSkip has a unique key on (id, reason code); a concurrent run that
    inserted one of our pairs first makes our insert fail as a whole, and the retry re-reads what exists.
    """
    items = [(int(skip["transaction_id"]), str(skip["reason_code"]), skip) for skip in skips]
    for attempt in range(1, 4):
        try:
            return _insert_skips(engine, run_id, items)
        except sa.exc.IntegrityError:
            if attempt == 3:
                raise
            log.info("xPTSkip insert collided with a concurrent run; re-reading (attempt %d)", attempt)
    return 0  # pragma: no cover - the loop returns or raises


def _insert_skips(engine: sa.Engine, run_id: str, items: Sequence[tuple[int, str, Mapping[str, Any]]]) -> int:
    from paytrace_sl.sl.own_tables import xPTSkip as t

    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":  # WAL: take the write lock before reading, or the insert of a
            conn.execute(sa.delete(t).where(sa.false()))  # run that read first fails "database is locked"
        seen = _existing_pairs(conn, t, [txid for txid, _, _ in items])
        rows = []
        for txid, code, skip in items:
            if (txid, code[:40]) in seen:
                continue
            seen.add((txid, code[:40]))
            rows.append(
                {
                    "transaction_id": txid,
                    "reason_code": code[:40],
                    "reason": str(skip.get("reason", code))[:500],
                    "paytrace_state": str(skip.get("paytrace_state", ""))[:40] or None,
                    "run_id": run_id,
                    "created_at": _now(),
                }
            )
        if rows:
            conn.execute(sa.insert(t), rows)
    return len(rows)


def record_reviews(engine: sa.Engine, run_id: str, reviews: Iterable[Mapping[str, Any]]) -> int:
    """Open review items, once per (transaction, reason code) while unresolved."""
    from paytrace_sl.sl.own_tables import xPTReview as t

    items = [
        (
            None if item.get("transaction_id") is None else int(item["transaction_id"]),
            str(item["reason_code"]),
            item,
        )
        for item in reviews
    ]
    with engine.begin() as conn:
        seen = _existing_pairs(
            conn, t, [txid for txid, _, _ in items if txid is not None], t.c.resolved_at.is_(None)
        )
        rows = []
        for txid, code, item in items:
            if txid is None:
                # not tied to a transaction (rare): the same check, one query
                if (None, code[:40]) in seen or conn.execute(
                    sa.select(t.c.id)
                    .where(t.c.transaction_id.is_(None), t.c.reason_code == code, t.c.resolved_at.is_(None))
                    .limit(1)
                ).first():
                    continue
            elif (txid, code[:40]) in seen:
                continue
            seen.add((txid, code[:40]))
            rows.append(
                {
                    "transaction_id": txid,
                    "ledger_key": item.get("ledger_key"),
                    "reason_code": code[:40],
                    "reason": str(item.get("reason", code))[:500],
                    "details": json.dumps(item.get("details") or {}, sort_keys=True, default=str),
                    "run_id": run_id,
                    "created_at": _now(),
                }
            )
        if rows:
            conn.execute(sa.insert(t), rows)
    return len(rows)


def record_run(
    engine: sa.Engine,
    run_id: str,
    dag_id: str,
    window: Window | None,
    status: str,
    counts: Mapping[str, Any],
    error: str | None = None,
) -> None:
    """Upsert the run's row in ``xPTRun`` (a cleared/retried task updates the same row)."""
    from paytrace_sl.sl.own_tables import xPTRun as t

    values = {
        "dag_id": dag_id,
        "window_start": window.start if window else None,
        "window_end": window.end if window else None,
        "counts": json.dumps(dict(counts), sort_keys=True, default=str),
        "status": status,
        "finished_at": _now() if status != "running" else None,
        "error": (error or None) and error[:1000],
    }
    with engine.begin() as conn:
        found = conn.execute(sa.select(t.c.run_id).where(t.c.run_id == run_id)).first()
        if found:
            conn.execute(sa.update(t).where(t.c.run_id == run_id).values(**values))
        else:
            conn.execute(sa.insert(t).values(run_id=run_id, started_at=_now(), **values))


# ---------------------------------------------------------------------------------------- extract


def _client(cfg: PipelineConfig) -> Any:
    from paytrace_sl.paytrace.client import PayTraceClient

    return PayTraceClient(cfg.paytrace)


def _fetch_transactions(cfg: PipelineConfig, fetch: Window) -> tuple[Resolved, int]:
    """Every transaction PayTrace lists for the days of ``fetch`` (regular and declined exports), parse
    failures and conflicting copies set aside (:mod:`~paytrace_sl.pipeline.copies`); and the number of raw
    records fetched. A record whose ``created.at`` lies outside ``fetch`` is kept and processed like any
    other (the ledger makes a second sight of it "already posted"); the extract step counts it."""
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import DECLINED_FILTER, parse_transaction

    first_day, last_day = fetch.request_dates()
    end_day = last_day + dt.timedelta(days=1)
    tz = fetch.tz
    copies = Copies()
    fetched = 0
    client = _client(cfg)
    try:
        # A decline may come in both exports; the two normalized copies are identical and collapse.
        for export_filter in (None, DECLINED_FILTER):
            for raw in client.export_transactions_raw(
                first_day, end_day, transaction_type=export_filter, include_bin=True
            ):
                fetched += 1
                try:
                    copies.add(parse_transaction(raw, tz, export_filter=export_filter))
                except RecordParseError as exc:
                    copies.add_failure(parse_failure_letter(raw, exc, "paytrace-transaction"))
    finally:
        client.close()
    return resolve_copies(copies), fetched


def mark_run_started(cfg: PipelineConfig, window: Window | None, run_id: str) -> None:
    """The run's ``xPTRun`` row with status ``running``, written by the first step before any work.

    The summarize step (or a recorded failure) replaces it with the outcome; a process killed in between
    (SIGKILL, OOM, a lost worker) leaves the ``running`` row, so a run is never missing from the log.
    """
    with _engine(cfg) as engine:
        _install_own_tables(engine)
        record_run(engine, run_id, cfg.dag_id, window, "running", {})


def extract_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Fetch the window plus its look-back from PayTrace and land it; parse failures → dead letters."""
    mark_run_started(cfg, window, run_id)
    mapping = _load_mapping(cfg) if cfg.lookback is None else None
    fetch = window.fetch_range(lookback_of(cfg, mapping))
    resolved, fetched = _fetch_transactions(cfg, fetch)
    transactions = resolved.transactions
    letters = [*resolved.parse_failures, *resolved.conflicts]
    landing = _landing(cfg, run_id)
    landing.write_json("window.json", {"window": window.to_json_dict(), "fetch": fetch.to_json_dict()})
    landing.write_jsonl(TX_FILE, (t.to_json_dict() for t in transactions))
    landing.write_jsonl(REJECTS_FILE, (dict(dl.payload, reason=dl.reason) for dl in letters))
    new_letters = 0
    if letters:
        with _engine(cfg) as engine:
            _install_own_tables(engine)
            new_letters = record_dead_letters(engine, run_id, letters)
    in_window = sum(1 for t in transactions if window.contains(t.created_at))
    # listed by PayTrace for the requested days, but created (in our zone) outside the fetch range:
    # counted here and processed like the rest, never dropped (docs/paytrace.md)
    outside = sum(1 for t in transactions if not fetch.contains(t.created_at))
    return _write_step_summary(
        landing,
        "extract",
        {
            "window": window.label,
            "fetched": fetched,
            "transactions": len(transactions),
            "in_window": in_window,
            "lookback_only": len(transactions) - in_window - outside,
            "outside_range": outside,
            "parse_rejected": len(resolved.parse_failures),
            "duplicate_conflicts": len(resolved.conflicts),
            "dead_letters_new": new_letters,
            "declined": sum(1 for t in transactions if t.status is TransactionState.DECLINED),
        },
    )


def _read_transactions(landing: Landing, name: str) -> list[Transaction]:
    return [Transaction.from_json_dict(row) for row in landing.read_jsonl(name)]


# --------------------------------------------------------------------------------------- validate


def validate_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Great Expectations checks from the contract; failing rows → dead letters, table failures raise."""
    import pandas as pd

    from paytrace_sl.pipeline.checks import validate_window
    from paytrace_sl.pipeline.contracts import load_contract

    landing = _landing(cfg, run_id)
    extract = _read_step_summary(landing, "extract")
    mapping = _load_mapping(cfg)
    contract = load_contract("paytrace_transaction")
    frame = _frame_from_jsonl(landing, TX_FILE)
    checked = len(frame)
    if not checked:
        frame = pd.DataFrame([], columns=list(contract.field_names))
    with _engine(cfg) as engine:
        _install_own_tables(engine)
        history = recent_window_counts(engine, cfg.dag_id, window, run_id)
        result = validate_window(
            frame,
            contract=contract,
            run_id=run_id,
            gx_root=cfg.gx_dir,
            window=(window.start, window.end),
            recent_counts=history,
            expected_count=int(extract["transactions"]) if "transactions" in extract else None,
            anomaly_factor=mapping.checks.row_count_anomaly_factor,
            anomaly_min_history=mapping.checks.row_count_min_history,
            anomaly_floor=mapping.checks.row_count_floor,
        )
        del frame
        failed_rows = {d.row for d in result.dead_letters}
        failed_payloads = (
            {i: row for i, row in enumerate(landing.read_jsonl(TX_FILE)) if i in failed_rows}
            if failed_rows
            else {}
        )
        letters = [
            DeadLetter(
                transaction_id=int(d.record_key) if d.record_key.isdigit() else None,
                source="paytrace-transaction",
                payload=_safe_payload(failed_payloads[d.row]),
                reason=d.reason,
                failed_checks=tuple(f"{f.expectation}:{f.field}" for f in d.failures),
            )
            for d in result.dead_letters
        ]
        new_letters = record_dead_letters(engine, run_id, letters) if letters else 0
    passed = landing.write_jsonl(
        VALIDATED_FILE, (r for i, r in enumerate(landing.read_jsonl(TX_FILE)) if i not in failed_rows)
    )
    log.info("%s", result.summary)
    return _write_step_summary(
        landing,
        "validate",
        {
            "checked": checked,
            "passed": passed,
            "dead_lettered": len(failed_rows),
            "dead_letters_new": new_letters,
            "data_docs": str(result.data_docs_index or ""),
        },
    )


def _frame_from_jsonl(landing: Landing, name: str) -> pd.DataFrame:
    """A landing file as a DataFrame, built column by column: the same frame as ``pd.DataFrame(rows)``
    without holding a dict per row next to it (a 1M-row window's dicts alone are gigabytes)."""
    import pandas as pd

    keys: tuple[str, ...] | None = None
    columns: dict[str, list[Any]] = {}
    for row in landing.read_jsonl(name):
        if keys is None:
            keys = tuple(row)
            columns = {k: [] for k in keys}
        elif tuple(row) != keys:  # rows of differing shape (never written by extract): pandas aligns them
            return pd.DataFrame(list(landing.read_jsonl(name)))
        for key in keys:
            columns[key].append(row[key])
    return pd.DataFrame(columns)


def recent_window_counts(
    engine: sa.Engine, dag_id: str, window: Window, run_id: str, limit: int = 20
) -> list[int]:
    """Checked-row counts of recent successful runs with windows of the same length (anomaly history)."""
    from paytrace_sl.sl.own_tables import xPTRun as t

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.window_start, t.c.window_end, t.c.counts)
            .where(t.c.dag_id == dag_id, t.c.status.in_(("success", "partial")), t.c.run_id != run_id)
            .order_by(t.c.window_end.desc())
            .limit(limit * 3)
        ).all()
    counts: list[int] = []
    for start, end, raw in rows:
        if start is None or end is None or (end - start) != window.duration:
            continue
        try:
            checked = json.loads(raw or "{}").get("checked")
        except json.JSONDecodeError:
            continue
        if isinstance(checked, int):
            counts.append(checked)
        if len(counts) >= limit:
            break
    return counts


_SAFE_KEYS = (
    "transaction_id",
    "transaction_type",
    "status",
    "batch_number",
    "amount",
    "tax_amount",
    "created_at",
    "settled_at",
    "customer_id",
    "invoice_id",
    "card_masked",
    "status_code",
    "status_message",
)


def _safe_payload(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The normalized record (masked card only) reduced to the fields a person needs to fix it."""
    if not row:
        return {}
    return {k: row.get(k) for k in _SAFE_KEYS if k in row}


# -------------------------------------------------------------------------------------- transform


def transform_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Validated records + SL context + mapping → posting plan (landed) and the per-record outcome."""
    from paytrace_sl.pipeline.sl_context import load_sl_context
    from paytrace_sl.pipeline.transform import build_plan

    landing = _landing(cfg, run_id)
    transactions = _read_transactions(landing, VALIDATED_FILE)
    mapping = _load_mapping(cfg)
    with _engine(cfg) as engine:
        _install_own_tables(engine)
        held = fraud_holds(engine, transactions)  # fraud alerts the mapping holds: review, not posted
        transactions = [t for t in transactions if t.transaction_id not in held]
        with engine.connect() as conn:
            ctx = load_sl_context(
                conn,
                transaction_ids=[t.transaction_id for t in transactions],
                customer_ids=[t.customer_id for t in transactions],
                invoice_ids=[t.invoice_id for t in transactions],
                mapping=mapping,
            )
    result = build_plan(transactions, ctx, mapping, window=window)
    outcome = _transform_outcome(result, transactions)
    outcome["review"].extend(held.values())
    landing.write_plan(PLAN_FILE, result.plan)
    landing.write_json(OUTCOME_FILE, outcome)
    return _write_step_summary(
        landing,
        "transform",
        {
            "records": len(transactions),
            "planned_documents": sum(len(b.items) for b in result.plan.batches),
            "planned_batches": len(result.plan.batches),
            "posted": len(outcome["posted_ids"]),
            "already_posted": len(outcome["already_posted"]),
            "skipped": result.skipped_by_reason(),
            "review": len(outcome["review"]),
            "fraud_held": len(held),
        },
    )


def _transform_outcome(result: Any, transactions: Sequence[Transaction]) -> dict[str, Any]:
    """The transform result as JSON lists for the load and summary steps (ids, codes, texts; no card data)."""
    state = {t.transaction_id: t.status.value for t in transactions}

    def reasons(items: Mapping[int, Any]) -> list[dict[str, Any]]:
        return [
            {
                "transaction_id": int(txid),
                "reason_code": reason.code,
                "reason": reason.text,
                "paytrace_state": state.get(int(txid), ""),
            }
            for txid, reason in sorted(items.items())
        ]

    outcomes = result.outcomes
    posted_ids = (
        sorted(int(t) for t in outcomes.loc[outcomes["outcome"] == "posted", "transaction_id"])
        if len(outcomes)
        else []
    )
    return {
        "posted_ids": posted_ids,
        "already_posted": sorted(int(t) for t in result.already_posted),
        "skipped": reasons(result.skipped),
        "review": reasons(result.review),
    }


# ------------------------------------------------------------------------------------------- load


def load_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Write the plan through the SL writer (exactly-once by ledger); record skips, reviews, declines."""
    from paytrace_sl.sl.writer import SLWriter

    landing = _landing(cfg, run_id)
    plan = decode_plan(landing.read_json(PLAN_FILE))
    outcome = landing.read_json(OUTCOME_FILE)
    late_items = _load_mapping(cfg).late_items
    with _engine(cfg) as engine:
        _install_own_tables(engine)
        writer = SLWriter(
            engine,
            user=cfg.sl_user,
            program=cfg.program,
            run_id=run_id,
            time_zone=cfg.timezone,
            late_items=late_items,
        )
        result = writer.write_plan(plan)
        write = _write_counts(result)
        skips_new = record_skips(engine, run_id, outcome["skipped"])
        reviews_new = record_reviews(engine, run_id, outcome["review"])
    declines = [s for s in outcome["skipped"] if s.get("paytrace_state") == TransactionState.DECLINED.value]
    declines_sent = 0
    if declines and cfg.notify.decline_webhook_url:
        tx_by_id = {t.transaction_id: t for t in _read_transactions(landing, VALIDATED_FILE)}
        declines_sent = notify_declines(
            cfg.notify,
            run_id,
            [
                _decline_item(tx_by_id[int(d["transaction_id"])])
                for d in declines
                if int(d["transaction_id"]) in tx_by_id
            ],
        )
    landing.write_json(SL_BATCHES_FILE, write["batches"])
    summary = {k: v for k, v in write.items() if k != "batches"}
    summary.update({"skips_new": skips_new, "reviews_new": reviews_new, "declines_notified": declines_sent})
    return _write_step_summary(landing, "load", summary)


def _decline_item(tx: Transaction) -> dict[str, Any]:
    return {
        "transaction_id": tx.transaction_id,
        "amount": str(tx.amount),
        "created_at": tx.created_at.isoformat(),
        "customer_id": tx.customer_id,
        "invoice_id": tx.invoice_id,
        "status_message": tx.status_message,
    }


def _write_counts(result: Any) -> dict[str, Any]:
    """The writer's WriteResult → counts plus the list of SL batches written (the writer records its
    own review items in xPTReview)."""
    # A void may change several existing batches: the writer lists them in ``touched`` (and leaves
    # ``bat_nbr`` blank when there is more than one); each of them must be re-checked by preflight.
    batches = [
        {
            "module": b.module,
            "bat_nbr": bat_nbr,
            "cpny_id": b.cpny_id,
            "kind": str(b.kind),
            "posted": b.posted,
        }
        for b in result.batches
        for bat_nbr in (b.touched or ([b.bat_nbr] if b.bat_nbr else []))
    ]
    return {
        "posted": int(result.posted),
        "already_posted": int(result.already_posted),
        "removed": int(result.removed),
        "writer_review": int(result.review_items),
        "writer_conflicts": int(result.conflicts),
        # late_items: refuse — planned but not written (in review); moved: late items posted in the
        # current period (sl/periods.py)
        "period_refused": sum(int(b.refused) for b in result.batches),
        "period_refused_new": sum(int(b.refused_new) for b in result.batches),
        "moved_to_current_period": sum(int(b.posted) for b in result.batches if b.late_from),
        "sl_batches": len(batches),
        "batches": batches,
    }


# -------------------------------------------------------------------------------------- preflight


def preflight_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Re-check the SL batches this run wrote the way SL's release would; any finding fails the run.

    The writer already ran the same checks before committing each batch; this step repeats them after
    the commit so a batch changed in between (by a person or another program) is caught, and so the
    check is visible as its own task in Airflow.
    """
    from paytrace_sl.sl.preflight import run_preflight

    landing = _landing(cfg, run_id)
    batches = landing.read_json(SL_BATCHES_FILE) if landing.exists(SL_BATCHES_FILE) else []
    findings: list[Any] = []
    with _engine(cfg) as engine, engine.connect() as conn:
        for b in batches:
            if b.get("bat_nbr"):
                findings.extend(run_preflight(conn, module=b["module"], bat_nbr=b["bat_nbr"]))
    summary = {"batches_checked": len(batches), "findings": len(findings)}
    _write_step_summary(landing, "preflight", summary)
    if findings:
        first = "; ".join(str(f) for f in findings[:3])
        raise PipelineError(
            f"preflight found {len(findings)} problem(s) in SL batches of run {run_id}: {first}"
        )
    return summary


# -------------------------------------------------------------------------------------- summarize


def summarize_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Row accounting for the window, the run's row in ``xPTRun``, and a notification if needed.

    extracted (parsed + unparseable) = posted + already posted + skipped + review + dead-lettered, or the
    run fails loudly (:class:`~paytrace_sl.pipeline.accounting.RowAccountingError`).
    """
    from paytrace_sl.pipeline.accounting import RowAccount

    landing = _landing(cfg, run_id)
    extract = _read_step_summary(landing, "extract")
    validate = _read_step_summary(landing, "validate")
    load = _read_step_summary(landing, "load")
    outcome = landing.read_json(OUTCOME_FILE)
    skipped_by_reason = dict(Counter(s["reason_code"] for s in outcome["skipped"]))
    # The plan says what was new when it was made; another run (an overlapping backfill) may have
    # posted some of it first. The writer counted those as already posted: move them over, so the
    # run log says what this run actually wrote.
    planned_posted = len(outcome["posted_ids"])
    raced = min(planned_posted, int(load.get("already_posted", 0)))
    # Planned, but the id's one posting was made under another type by a concurrent run: the writer
    # raised a review item instead of posting (posted_copies).
    conflicts = min(planned_posted - raced, int(load.get("writer_conflicts", 0)))
    # Planned but refused by the writer (late_items: refuse): in review, not posted.
    refused = int(load.get("period_refused", 0))
    # Set aside at extract: records that could not be parsed, and ids PayTrace returned with different
    # content (one dead letter per id, none of its copies processed).
    set_aside = int(extract.get("parse_rejected", 0)) + int(extract.get("duplicate_conflicts", 0))
    account = RowAccount(
        extracted=int(extract.get("transactions", 0)) + set_aside,
        posted=planned_posted - raced - conflicts - refused,
        already_posted=len(outcome["already_posted"]) + raced,
        skipped_by_reason=skipped_by_reason,
        review=len(outcome["review"]) + conflicts + refused,
        dead_lettered=set_aside + int(validate.get("dead_lettered", 0)),
    )
    summary: dict[str, Any] = {
        "window": window.label,
        "transactions": account.extracted,
        "in_window": int(extract.get("in_window", 0)),
        "outside_range": int(extract.get("outside_range", 0)),  # listed, stamped outside: processed
        "checked": int(validate.get("checked", 0)),
        "posted": account.posted,
        "already_posted": account.already_posted,
        "skipped": account.skipped,
        "skipped_by_reason": dict(sorted(skipped_by_reason.items())),
        "review": account.review + int(load.get("writer_review", 0)),
        # of which posted to SL with a note (the writer's review items); the rest wait unposted
        "posted_with_note": int(load.get("writer_review", 0)),
        "dead_letter": account.dead_lettered,
        "sl_batches": int(load.get("sl_batches", 0)),
        "sl_documents_new": int(load.get("posted", 0)),
        "moved_to_current_period": int(load.get("moved_to_current_period", 0)),
        "declines_notified": int(load.get("declines_notified", 0)),
    }
    account.check()
    # New items only: with an hourly schedule and a 3-day look-back the same open item is seen ~72 times.
    summary["review_new"] = (
        int(load.get("reviews_new", 0))
        + int(load.get("writer_review", 0))
        + int(load.get("writer_conflicts", 0))
        + int(load.get("period_refused_new", 0))
    )
    summary["dead_letter_new"] = int(extract.get("dead_letters_new", 0)) + int(
        validate.get("dead_letters_new", 0)
    )
    status = "partial" if attention_needed(summary) else "success"
    with _engine(cfg) as engine:
        _install_own_tables(engine)
        record_run(engine, run_id, cfg.dag_id, window, status, summary)
    if summary["review_new"] or summary["dead_letter_new"]:
        notify(
            cfg.notify,
            Notification(
                kind="attention",
                title="new items wait for a person",
                run_id=run_id,
                window=window.label,
                reason="the run opened review and/or dead-letter items (xPTReview, xPTDeadLetter)",
                counts={k: summary[k] for k in ("review_new", "dead_letter_new", "review", "dead_letter")},
            ),
        )
    return _write_step_summary(landing, "summarize", summary)


# ------------------------------------------------------------------------------------ settlements

BATCHES_FILE = "batches.json"
BATCH_TX_FILE = "batch_transactions.jsonl"
SETTLE_PLAN_FILE = "settlement_plan.json"
SETTLE_REVIEW_FILE = "settlement_review.json"


def _batch_from_json(data: Mapping[str, Any]) -> Any:
    from decimal import Decimal

    from paytrace_sl.paytrace.records import BrandTotals, SettlementBatch

    return SettlementBatch(
        number=int(data["number"]),
        created_at=dt.datetime.fromisoformat(data["created_at"]),
        transaction_count=int(data["transaction_count"]),
        net_amount=Decimal(data["net_amount"]),
        sales_count=int(data["sales_count"]),
        sales_amount=Decimal(data["sales_amount"]),
        refund_count=int(data["refund_count"]),
        refund_amount=Decimal(data["refund_amount"]),
        brands=tuple(
            BrandTotals(
                b["brand"],
                int(b["sales_count"]),
                Decimal(b["sales_amount"]),
                int(b["refund_count"]),
                Decimal(b["refund_amount"]),
            )
            for b in data.get("brands", [])
        ),
    )


def _settlement_inputs(landing: Landing) -> tuple[list[Any], dict[int, list[Transaction]]]:
    batches = [_batch_from_json(b) for b in landing.read_json(BATCHES_FILE)]
    by_batch: dict[int, list[Transaction]] = {b.number: [] for b in batches}
    for row in landing.read_jsonl(BATCH_TX_FILE):
        number = int(row.pop("settlement_batch"))
        by_batch.setdefault(number, []).append(Transaction.from_json_dict(row))
    return batches, by_batch


def settle_extract_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Settled batches PayTrace lists for the window's days (plus look-back) and each batch's transaction
    list; a batch number returned with different content is set aside (:mod:`.copies`)."""
    mark_run_started(cfg, window, run_id)
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import parse_batch, parse_transaction

    mapping = _load_mapping(cfg) if cfg.lookback is None else None
    fetch = window.fetch_range(lookback_of(cfg, mapping))
    first_day, last_day = fetch.request_dates()
    tz = fetch.tz
    letters: list[DeadLetter] = []
    batches: list[Any] = []
    tx_rows: list[dict[str, Any]] = []
    client = _client(cfg)
    try:
        copies = Copies(kind=SETTLEMENT_BATCH)
        for raw in client.export_batches_raw(first_day, last_day + dt.timedelta(days=1)):
            try:
                copies.add(parse_batch(raw, tz))
            except RecordParseError as exc:
                number = raw.get("number") if isinstance(raw, dict) else None
                copies.add_failure(
                    parse_failure_letter(raw, exc, SETTLEMENT_BATCH.source),
                    key=number if type(number) is int else None,
                )
        resolved = resolve_copies(copies)
        letters.extend(resolved.parse_failures)
        conflicts = resolved.conflicts
        for batch in resolved.records:  # every batch PayTrace lists for the days, like transactions
            batches.append(batch)
            for raw_tx in client.batch_transactions_raw(batch.number):
                try:
                    tx = parse_transaction(raw_tx, tz)
                except RecordParseError as exc:
                    letters.append(
                        parse_failure_letter(raw_tx, exc, "paytrace-batch-transaction", batch=batch.number)
                    )
                    continue
                tx_rows.append(dict(tx.to_json_dict(), settlement_batch=batch.number))
    finally:
        client.close()
    landing = _landing(cfg, run_id)
    landing.write_json(BATCHES_FILE, [b.to_json_dict() for b in sorted(batches, key=lambda b: b.number)])
    landing.write_jsonl(BATCH_TX_FILE, tx_rows)
    new_letters = 0
    if letters or conflicts:
        with _engine(cfg) as engine:
            _install_own_tables(engine)
            new_letters = record_dead_letters(engine, run_id, [*letters, *conflicts])
    return _write_step_summary(
        landing,
        "settle_extract",
        {
            "window": window.label,
            "settlement_batches": len(batches),
            "outside_range": sum(1 for b in batches if not fetch.contains(b.created_at)),  # kept too
            "batch_transactions": len(tx_rows),
            "parse_rejected": len(letters),
            "duplicate_conflicts": len(conflicts),
            "dead_letters_new": new_letters,
        },
    )


def _company(cfg: PipelineConfig, mapping: Any) -> str:
    """The SL company: the mapping's, else SL's own setup."""
    from paytrace_sl.sl.setup import load_sl_setup

    if mapping.company:
        return str(mapping.company)
    with _engine(cfg) as engine, engine.connect() as conn:
        return str(load_sl_setup(conn).cpny_id)


def settle_transform_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """One GL settlement per batch and clearing account (see :mod:`paytrace_sl.pipeline.settlement`).

    A batch that cannot be planned (its listed transactions do not add up to its net, say) is not posted:
    it becomes a review item and the reconciliation records the difference; the other batches proceed.
    """
    from paytrace_sl.pipeline.settlement import SettlementPlanError, is_empty_batch, plan_settlements
    from paytrace_sl.plan import PostingPlan

    landing = _landing(cfg, run_id)
    batches, by_batch = _settlement_inputs(landing)
    mapping = _load_mapping(cfg)
    cpny_id = _company(cfg, mapping)
    planned: list[Any] = []
    review: list[dict[str, Any]] = []
    empty: list[int] = []
    for batch in batches:
        if is_empty_batch(batch, by_batch.get(batch.number), mapping):
            empty.append(batch.number)  # noted (summary, reconciliation) and skipped: nothing to deposit
            continue
        try:
            plan = plan_settlements(
                [batch], mapping, cpny_id, transactions_by_batch=by_batch, status=mapping.batch_status
            )
        except SettlementPlanError as exc:
            review.append(
                {
                    "transaction_id": None,
                    "ledger_key": f"paytrace-batch:{batch.number}:settlement",
                    "reason_code": "settlement_not_planned",
                    "reason": str(exc),
                    "details": {"batch_number": batch.number},
                }
            )
            continue
        planned.extend(plan.batches)
    landing.write_plan(SETTLE_PLAN_FILE, PostingPlan(batches=tuple(planned)))
    landing.write_json(SETTLE_REVIEW_FILE, review)
    return _write_step_summary(
        landing,
        "settle_transform",
        {
            "settlement_batches": len(batches),
            "planned_entries": sum(len(b.items) for b in planned),
            "not_planned": len(review),
            "empty_batches": len(empty),
            "empty_batch_numbers": empty,
            "settlement_planned": bool(mapping.settlement_planned),
        },
    )


def settle_load_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Post what the settled batches list but our ledger lacks (the completeness backstop,
    :mod:`paytrace_sl.pipeline.backstop`), then write the settlement GL batches on Hold.

    Each settlement batch stands alone: one that cannot be written becomes a review item naming the batch
    and the reason, and the batches after it are still written.
    """
    from paytrace_sl.pipeline.backstop import post_missing
    from paytrace_sl.sl.writer import SLWriter, WriterError, WriteResult

    landing = _landing(cfg, run_id)
    plan = decode_plan(landing.read_json(SETTLE_PLAN_FILE))
    _, by_batch = _settlement_inputs(landing)
    late_items = _load_mapping(cfg).late_items
    with _engine(cfg) as engine:
        _install_own_tables(engine)
        writer = SLWriter(
            engine,
            user=cfg.sl_user,
            program=cfg.program,
            run_id=run_id,
            time_zone=cfg.timezone,
            late_items=late_items,
        )
        listed = [t for txs in by_batch.values() for t in txs]
        backstop = post_missing(engine, writer, _load_mapping(cfg), listed, window)
        if backstop.transform is not None:
            outcome = _transform_outcome(backstop.transform, backstop.missing)
            record_skips(engine, run_id, outcome["skipped"])
            record_reviews(engine, run_id, outcome["review"])
        if backstop.error:
            record_reviews(
                engine,
                run_id,
                [
                    {
                        "transaction_id": None,
                        "reason_code": "backstop_not_posted",
                        "reason": f"settled transactions missing from the ledger could not be posted: "
                        f"{backstop.error}"[:500],
                        "details": {"transaction_ids": [t.transaction_id for t in backstop.missing][:50]},
                    }
                ],
            )
        writer.prepare(b.cpny_id for b in plan.batches)
        result = WriteResult()
        failed: list[dict[str, Any]] = []
        for planned in plan.batches:
            try:
                result.batches.append(writer.write_batch(planned))
            except WriterError as exc:
                numbers = sorted({getattr(i, "batch_number", 0) for i in planned.items})
                failed.append(
                    {
                        "transaction_id": None,
                        "ledger_key": planned.items[0].ledger_key if planned.items else None,
                        "reason_code": "settlement_not_written",
                        "reason": f"settlement batch {', '.join(map(str, numbers))} not written: {exc}",
                        "details": {"batch_numbers": numbers},
                    }
                )
        write = _write_counts(result)
        review = landing.read_json(SETTLE_REVIEW_FILE) if landing.exists(SETTLE_REVIEW_FILE) else []
        reviews_new = record_reviews(engine, run_id, [*review, *failed])
    landing.write_json(SL_BATCHES_FILE, write["batches"])
    summary = {k: v for k, v in write.items() if k != "batches"}
    summary["reviews_new"] = reviews_new
    summary["not_written"] = len(failed)
    summary["backstop"] = backstop.counts()
    return _write_step_summary(landing, "settle_load", summary)


def reconcile_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Per batch: PayTrace totals vs its listed transactions vs what SL holds → ``xPTRecon``."""
    from paytrace_sl.pipeline.settlement import reconcile_and_save

    landing = _landing(cfg, run_id)
    batches, by_batch = _settlement_inputs(landing)
    mapping = _load_mapping(cfg)
    cpny_id = _company(cfg, mapping)
    records = []
    with _engine(cfg) as engine:
        _install_own_tables(engine)
        for batch in batches:
            with engine.begin() as conn:
                records.append(
                    reconcile_and_save(
                        conn,
                        batch,
                        by_batch.get(batch.number, []),
                        run_id,
                        mapping=mapping,
                        cpny_id=cpny_id,
                        expect_settlement=bool(mapping.settlement_planned),
                        programs=(cfg.program,),
                        timezone=cfg.timezone,
                    )
                )
    statuses = Counter(r.status for r in records)
    landing.write_json("reconciliation.json", [r.to_json_dict() for r in records])
    return _write_step_summary(
        landing,
        "reconcile",
        {
            "settlement_batches": len(records),
            "reconciled": statuses.get("matched", 0),
            "difference": statuses.get("difference", 0),
            "pending": statuses.get("pending", 0),
            "difference_cents": sum(abs(r.difference_cents) for r in records),
        },
    )


def settle_summarize_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """Record the settlement run in ``xPTRun``; notify when a batch does not reconcile."""
    landing = _landing(cfg, run_id)
    extract = _read_step_summary(landing, "settle_extract")
    load = _read_step_summary(landing, "settle_load")
    recon = _read_step_summary(landing, "reconcile")
    transform = _read_step_summary(landing, "settle_transform")
    summary: dict[str, Any] = {
        "window": window.label,
        "settlement_batches": int(extract.get("settlement_batches", 0)),
        "settlement_entries_posted": int(load.get("posted", 0)),
        "sl_batches": int(load.get("sl_batches", 0)),
        "reconciled": int(recon.get("reconciled", 0)),
        "difference": int(recon.get("difference", 0)),
        "pending": int(recon.get("pending", 0)),
        # not planned, not written (writer error), refused (late_items: refuse): each an open review item
        "review": int(transform.get("not_planned", 0))
        + int(load.get("not_written", 0))
        + int(load.get("period_refused", 0)),
        "empty_batches": int(transform.get("empty_batches", 0)),
        "dead_letter": int(extract.get("parse_rejected", 0)) + int(extract.get("duplicate_conflicts", 0)),
    }
    needs_person = summary["difference"] > 0 or attention_needed(summary)
    with _engine(cfg) as engine:
        _install_own_tables(engine)
        record_run(engine, run_id, cfg.dag_id, window, "partial" if needs_person else "success", summary)
    if needs_person:
        notify(
            cfg.notify,
            Notification(
                kind="attention",
                title="settlement batches need a look",
                run_id=run_id,
                window=window.label,
                reason="a batch does not reconcile, or review/dead-letter items were left",
                counts={k: summary[k] for k in ("difference", "pending", "review", "dead_letter")},
            ),
        )
    return _write_step_summary(landing, "settle_summarize", summary)


def _report_days(window: Window) -> tuple[dt.date, dt.date]:
    """First and last merchant day the window touches, as plain dates.

    Cut at merchant midnights by :meth:`Window.days` (UTC arithmetic): an Airflow data interval arrives
    as pendulum instants in UTC, and wall-clock arithmetic on those (``end - 1 µs``) lands on the wrong
    local day, so a one-day window would be reported as two days.
    """
    days = window.days()
    first, last = days[0].start, days[-1].start
    return dt.date(first.year, first.month, first.day), dt.date(last.year, last.month, last.day)


def report_dir_name(window: Window) -> str:
    """``<day>`` for a one-day window, ``<first day>_<last day>`` for a longer one."""
    first, last = _report_days(window)
    return first.isoformat() if first == last else f"{first.isoformat()}_{last.isoformat()}"


def report_step(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
    """The auditor report for the window's merchant day(s): ``<reports dir>/<day>/report.html``
    (``<first day>_<last day>/`` for a window of several days).

    Rebuilt from SL and our tables on every run, so a re-run or backfill replaces it with the same
    content (apart from its generation time).
    """
    from paytrace_sl.reconcile.report import build_report

    out_dir = reports_dir() / report_dir_name(window)
    first, last = _report_days(window)
    with _engine(cfg) as engine:
        data = build_report(
            engine,
            first,
            last,
            out_dir,
            landing_dir=cfg.landing_dir,
            gx_dir=cfg.gx_dir,
            mapping=_load_mapping(cfg),
        )
    landing = _landing(cfg, run_id)
    # The settlement summary travels on (this is the last step of a settlement run).
    summary = dict(_read_step_summary(landing, "settle_summarize"))
    summary.update(report=str(out_dir / "report.html"), report_tables=len(data.tables))
    return _write_step_summary(landing, "report", summary)


Step = Callable[[PipelineConfig, Window, str], dict[str, Any]]

# Names and order from paytrace_sl.pipeline.steps (what the DAG files build their task chains from).
SETTLEMENT_STEPS: tuple[tuple[str, Step], ...] = tuple(
    zip(
        SETTLEMENT_STEP_NAMES,
        (
            settle_extract_step,
            settle_transform_step,
            settle_load_step,
            reconcile_step,
            settle_summarize_step,
            report_step,
        ),
        strict=True,
    )
)


# ------------------------------------------------------------------------------------ whole window


PAYMENT_STEPS: tuple[tuple[str, Step], ...] = tuple(
    zip(
        PAYMENT_STEP_NAMES,
        (extract_step, validate_step, fraud_step, transform_step, load_step, preflight_step, summarize_step),
        strict=True,
    )
)


def run_steps(
    cfg: PipelineConfig,
    steps: Sequence[tuple[str, Callable[[PipelineConfig, Window, str], dict[str, Any]]]],
    window: Window,
    run_id: str,
    on_step: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run ``steps`` in order in this process; a failure is recorded in ``xPTRun`` and notified."""
    summary: dict[str, Any] = {}
    try:
        for name, step in steps:
            summary = step(cfg, window, run_id)
            if on_step is not None:
                on_step(name, summary)
    except Exception as exc:
        _record_failure(cfg, window, run_id, exc)
        raise
    return summary


def run_window(
    cfg: PipelineConfig,
    window: Window,
    run_id: str,
    on_step: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """All payment steps for one window in-process (what ``sync`` runs); returns the summary."""
    return run_steps(
        with_dag(cfg, PAYMENTS_DAG_ID) if cfg.dag_id == REPLAY_DAG_ID else cfg,
        PAYMENT_STEPS,
        window,
        run_id,
        on_step,
    )


def run_settlements(
    cfg: PipelineConfig,
    window: Window,
    run_id: str,
    on_step: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """All settlement steps for one window in-process; returns the settlement summary."""
    return run_steps(with_dag(cfg, SETTLEMENTS_DAG_ID), SETTLEMENT_STEPS, window, run_id, on_step)


# ----------------------------------------------------------------------------------------- totals


def totals(engine: sa.Engine, run_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """What a set of runs did (all runs when ``run_ids`` is None), from our tables, de-duplicated.

    Per-window summaries count the look-back again in every window; these totals count each SL
    document, skip, review item, dead letter and reconciliation once, attributed to the run that made it.
    ``review`` counts every review item (as the per-run summaries do); ``posted_with_note`` is the part
    of it on documents that were posted (the document is in ``posted`` too), the rest wait unposted.
    """
    from paytrace_sl.sl.own_tables import xPTDeadLetter, xPTLedger, xPTRecon, xPTReview, xPTSkip

    def scoped(table: sa.Table) -> Any:
        return table.c.run_id.in_(list(run_ids)) if run_ids is not None else sa.true()

    with engine.connect() as conn:
        posted = {
            str(kind): int(n)
            for kind, n in conn.execute(
                sa.select(xPTLedger.c.kind, sa.func.count())
                .where(scoped(xPTLedger))
                .group_by(xPTLedger.c.kind)
            )
        }
        sl_batches = conn.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(xPTLedger.c.module, xPTLedger.c.bat_nbr)
                .where(scoped(xPTLedger), xPTLedger.c.bat_nbr != "")
                .distinct()
                .subquery()
            )
        ).scalar_one()
        skipped = {
            str(code): int(n)
            for code, n in conn.execute(
                sa.select(xPTSkip.c.reason_code, sa.func.count())
                .where(scoped(xPTSkip))
                .group_by(xPTSkip.c.reason_code)
            )
        }
        review_all = conn.execute(
            sa.select(sa.func.count()).select_from(xPTReview).where(scoped(xPTReview))
        ).scalar_one()
        # A review item whose document is in the ledger was posted with a note (an unidentified receipt
        # on the UNIDENTIFIED customer, a payment posted unapplied): SL has it, a person should look.
        # The others wait for a person with nothing posted.
        posted_with_note = conn.execute(
            sa.select(sa.func.count())
            .select_from(xPTReview)
            .where(
                scoped(xPTReview),
                sa.exists().where(xPTLedger.c.ledger_key == xPTReview.c.ledger_key),
            )
        ).scalar_one()
        dead = conn.execute(
            sa.select(sa.func.count()).select_from(xPTDeadLetter).where(scoped(xPTDeadLetter))
        ).scalar_one()
        recon = {
            str(status): int(n)
            for status, n in conn.execute(
                sa.select(xPTRecon.c.status, sa.func.count())
                .where(scoped(xPTRecon))
                .group_by(xPTRecon.c.status)
            )
        }
        explained = 0
        for (raw,) in conn.execute(
            sa.select(xPTRecon.c.explanation).where(scoped(xPTRecon), xPTRecon.c.status != "matched")
        ):
            try:
                explained += bool(json.loads(raw or "{}").get("explained"))
            except (json.JSONDecodeError, AttributeError):
                continue
    return {
        "settlement_differences_explained": explained,
        "posted": dict(sorted(posted.items())),
        "skipped": dict(sorted(skipped.items())),
        "review": int(review_all),
        "posted_with_note": int(posted_with_note),
        "dead_letter": int(dead),
        "sl_batches": int(sl_batches),
        "settlement_batches": dict(sorted(recon.items())),
    }


def engine_for(cfg: PipelineConfig) -> Any:
    """A context manager yielding an engine on the configured SL database (disposed on exit)."""
    return _engine(cfg)


# ----------------------------------------------------------------------------------------- replay


def open_dead_letters(engine: sa.Engine, ids: Sequence[int]) -> list[dict[str, Any]]:
    from paytrace_sl.sl.own_tables import xPTDeadLetter as t

    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.select(
                    t.c.id, t.c.transaction_id, t.c.source, t.c.reason, t.c.replayed_at, t.c.replay_run_id
                ).where(t.c.id.in_(list(ids)))
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def mark_replayed(engine: sa.Engine, run_id: str, transaction_ids: Iterable[int], before: dt.datetime) -> int:
    """Close open dead letters (created before this replay) of transactions that now passed the checks."""
    from paytrace_sl.sl.own_tables import xPTDeadLetter as t

    ids = sorted(set(transaction_ids))
    closed = 0
    with engine.begin() as conn:
        for start in range(0, len(ids), 500):
            result = conn.execute(
                sa.update(t)
                .where(
                    t.c.transaction_id.in_(ids[start : start + 500]),
                    t.c.replayed_at.is_(None),
                    t.c.created_at < before,
                )
                .values(replayed_at=_now(), replay_run_id=run_id)
            )
            closed += int(result.rowcount or 0)
    return closed


class NothingToReplay(PipelineError):
    """Every dead letter named is already closed: the message says when and by which run."""


def closed_letters_text(letters: Sequence[Mapping[str, Any]]) -> str:
    """``dead letter 7 is closed: replayed at … by run …`` for each closed letter (ids, times, run ids)."""
    return "; ".join(
        f"dead letter {r['id']} is closed: replayed at {r['replayed_at'].isoformat(timespec='seconds')} "
        f"by run {r['replay_run_id'] or '(unknown)'}"
        for r in letters
    )


def replay(
    cfg: PipelineConfig,
    run_id: str,
    *,
    dead_letter_ids: Sequence[int] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    on_step: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Re-process after a fix: named dead letters (re-fetched by id) or merchant days [start, end).

    The writer's ledger makes this safe to repeat: what was posted stays posted once. Dead letters whose
    transaction now passes the checks are closed (``replayed_at``/``replay_run_id``), and so are open
    review items whose document this replay posted (``resolved_by`` = the replay run id).
    """
    from paytrace_sl.pipeline.review_close import close_reviews_posted_by
    from paytrace_sl.pipeline.windows import day_windows

    cfg = with_dag(cfg, REPLAY_DAG_ID)
    began = _now()
    summaries: list[dict[str, Any]] = []
    passed_ids: list[int] = []
    not_replayable: list[int] = []
    closed: list[dict[str, Any]] = []
    if dead_letter_ids:
        summary, passed, skipped, closed = _replay_dead_letters(cfg, run_id, dead_letter_ids, on_step)
        not_replayable.extend(skipped)
        if summary:
            summaries.append(summary)
        passed_ids.extend(passed)
    if start is not None or end is not None:
        if start is None or end is None:
            raise ConfigurationError("a replay date range needs both start and end")
        for day in day_windows(start, end, cfg.timezone):
            day_run = f"{run_id}__{day.start.date().isoformat()}"
            summaries.append(run_steps(cfg, PAYMENT_STEPS, day, day_run, on_step))
            passed_ids.extend(
                int(r["transaction_id"]) for r in _landing(cfg, day_run).read_jsonl(VALIDATED_FILE)
            )
    if not summaries and not not_replayable:
        if closed:
            raise NothingToReplay(f"nothing to replay: {closed_letters_text(closed)}")
        raise ConfigurationError("nothing to replay: give dead-letter ids or a start and end date")
    with _engine(cfg) as engine:
        closed_now = mark_replayed(engine, run_id, passed_ids, began)
        reviews_closed = close_reviews_posted_by(engine, run_id, began)
    total: dict[str, Any] = {
        k: sum(int(s.get(k, 0)) for s in summaries)
        for k in ("transactions", "posted", "already_posted", "skipped", "review", "dead_letter")
    }
    total.update(
        {
            "windows": len(summaries),
            "dead_letters_closed": closed_now,
            "reviews_closed": reviews_closed,
            "not_replayable": not_replayable,
            "already_closed": [int(r["id"]) for r in closed],
        }
    )
    return total


def _replay_dead_letters(
    cfg: PipelineConfig,
    run_id: str,
    ids: Sequence[int],
    on_step: Callable[[str, dict[str, Any]], None] | None,
) -> tuple[dict[str, Any], list[int], list[int], list[dict[str, Any]]]:
    from paytrace_sl.paytrace.client import EXPORT_BY_ID
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import parse_transaction

    with _engine(cfg) as engine:
        _install_own_tables(engine)
        letters = open_dead_letters(engine, ids)
    unknown = sorted(set(ids) - {int(r["id"]) for r in letters})
    if unknown:
        raise ConfigurationError(f"dead-letter id(s) {unknown} not found in xPTDeadLetter")
    replayable = [r for r in letters if r["transaction_id"] is not None and r["replayed_at"] is None]
    not_replayable = [int(r["id"]) for r in letters if r["transaction_id"] is None]
    closed = sorted(
        (r for r in letters if r["transaction_id"] is not None and r["replayed_at"] is not None),
        key=lambda r: int(r["id"]),
    )
    if not replayable:
        return {}, [], not_replayable, closed
    mark_run_started(cfg, None, run_id)  # the window is known once the records are fetched
    copies = Copies()
    client = _client(cfg)
    try:
        for txid in sorted({int(r["transaction_id"]) for r in replayable}):
            envelope = client.call(EXPORT_BY_ID, {"transaction_id": txid})
            for raw in envelope.get("transactions") or []:
                try:
                    copies.add(parse_transaction(raw, cfg.paytrace.tz))
                except RecordParseError as exc:
                    copies.add_failure(parse_failure_letter(raw, exc, "paytrace-transaction"))
    finally:
        client.close()
    resolved = resolve_copies(copies)
    transactions = resolved.transactions
    still_bad = [*resolved.parse_failures, *resolved.conflicts]
    landing = _landing(cfg, run_id)
    tz = cfg.paytrace.tz
    if transactions:
        first = min(t.created_at for t in transactions).astimezone(tz)
        last = max(t.created_at for t in transactions).astimezone(tz)
        window = Window(first, last + dt.timedelta(seconds=1), cfg.timezone)
    else:
        now = _now()
        window = Window(now - dt.timedelta(seconds=1), now, cfg.timezone)
    landing.write_json("window.json", {"window": window.to_json_dict(), "dead_letter_ids": list(ids)})
    landing.write_jsonl(TX_FILE, (t.to_json_dict() for t in transactions))
    landing.write_jsonl(REJECTS_FILE, (dict(d.payload, reason=d.reason) for d in still_bad))
    if still_bad:
        with _engine(cfg) as engine:
            record_dead_letters(engine, run_id, still_bad)
    _write_step_summary(
        landing,
        "extract",
        {
            "window": window.label,
            "fetched": len(transactions) + len(still_bad),
            "transactions": len(transactions),
            "parse_rejected": len(still_bad),
            "dead_letters_new": 0,
        },
    )
    summary = run_steps(cfg, PAYMENT_STEPS[1:], window, run_id, on_step)
    passed = [int(r["transaction_id"]) for r in landing.read_jsonl(VALIDATED_FILE)]
    return summary, passed, not_replayable, closed


def _record_failure(cfg: PipelineConfig, window: Window | None, run_id: str, exc: BaseException) -> None:
    """Best effort: mark the run failed in xPTRun and notify. Never masks the original error."""
    reason = f"{type(exc).__name__}: {exc}"
    try:
        with _engine(cfg) as engine:
            _install_own_tables(engine)
            record_run(engine, run_id, cfg.dag_id, window, "failed", {}, error=reason)
    except Exception as inner:  # the SL database may be what failed
        log.warning("could not record the failed run %s: %s", run_id, type(inner).__name__)
    notify(
        cfg.notify,
        Notification(
            kind="failure",
            title="pipeline run failed",
            run_id=run_id,
            window=window.label if window else "",
            reason=reason[:500],
        ),
    )


def with_dag(cfg: PipelineConfig, dag_id: str) -> PipelineConfig:
    return replace(cfg, dag_id=dag_id)
