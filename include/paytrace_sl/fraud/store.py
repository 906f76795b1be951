"""Our ``xPTFraud*`` tables (schema v4, :mod:`paytrace_sl.sl.own_tables`): alerts, model versions, the
rolling sales history refunds are matched against, and the merchant's profiles. Their times are
``UTCDateTime`` columns: read back zone-aware (UTC) on every dialect, aggregates (``min``) too.

The history and profiles advance with a watermark: each run adds the transactions created between the
watermark and the end of its window, then moves the watermark. A look-back re-reads the same records
but never counts them twice; a backfill of an older window adds nothing (its records were counted).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from paytrace_sl.fraud.features import MODEL_FEATURES, Context, Profile, is_sale, log_dollars
from paytrace_sl.sl.own_tables import xPTFraudAlert, xPTFraudHist, xPTFraudModel, xPTFraudProfile, xPTLedger

log = logging.getLogger(__name__)
CHUNK = 500  # values per IN (...) list
STATE = "state"
WATERMARK = "watermark"
HISTORY_START = "history_start"


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _utc(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC)


def _state(conn: sa.Connection, key: str) -> dt.datetime | None:
    t = xPTFraudProfile
    value: dt.datetime | None = conn.execute(
        sa.select(t.c.at).where(t.c.kind == STATE, t.c.pkey == key)
    ).scalar_one_or_none()
    return value


def _profiles(conn: sa.Connection, kind: str, keys: Sequence[str] | None = None) -> dict[str, Profile]:
    t = xPTFraudProfile
    query = sa.select(t.c.pkey, t.c.n, t.c.total, t.c.total_sq).where(t.c.kind == kind)
    out: dict[str, Profile] = {}
    if keys is None:
        for key, n, total, total_sq in conn.execute(query):
            out[str(key)] = Profile(int(n), float(total), float(total_sq))
        return out
    for chunk in _chunks(list(keys)):
        for key, n, total, total_sq in conn.execute(query.where(t.c.pkey.in_(chunk))):
            out[str(key)] = Profile(int(n), float(total), float(total_sq))
    return out


def load_context(
    conn: sa.Connection, frame: pd.DataFrame, *, history_days: int, refund_mask: np.ndarray
) -> Context:
    """Profiles of the frame's customers, the merchant and the hours; the sales the frame's refunds may
    refund (by card and customer, by invoice) from the last ``history_days`` days."""
    customers = sorted({c for c in frame["customer"].unique().tolist() if c})
    merchant = _profiles(conn, "merchant", [""]).get("", Profile(0, 0.0, 0.0))
    hours_seen = _profiles(conn, "hour")
    hours = tuple(hours_seen.get(f"{h:02d}", Profile(0, 0.0, 0.0)).n for h in range(24))
    refunds = frame.loc[refund_mask]
    h = xPTFraudHist
    since = (
        _utc(int(frame["ts"].min())) - dt.timedelta(days=history_days)
        if len(frame)
        else dt.datetime.now(dt.UTC)
    )
    by_card: list[tuple[str, str, str, int, int]] = []
    for chunk in _chunks(sorted(set(refunds["card"].tolist()))):
        rows = conn.execute(
            sa.select(
                h.c.card_masked,
                h.c.customer_id,
                h.c.holder,
                sa.func.max(h.c.amount_cents),
                sa.func.min(h.c.created_at),
            )
            .where(h.c.card_masked.in_(chunk), h.c.created_at >= since)
            .group_by(h.c.card_masked, h.c.customer_id, h.c.holder)
        )
        by_card.extend(
            (str(c), str(cu), str(ho), int(m), int(first.timestamp())) for c, cu, ho, m, first in rows
        )
    by_invoice: list[tuple[str, str, int, int]] = []
    for chunk in _chunks(sorted({i for i in refunds["invoice"].tolist() if i})):
        inv_rows = conn.execute(
            sa.select(h.c.invoice_id, h.c.card_masked, h.c.amount_cents, h.c.created_at)
            .where(h.c.invoice_id.in_(chunk), h.c.created_at >= since)
            .order_by(h.c.created_at.desc())
        )
        by_invoice.extend((str(i), str(c), int(m), int(at.timestamp())) for i, c, m, at in inv_rows)
    sales_by_card = pd.DataFrame(
        by_card, columns=["card", "customer", "holder", "max_cents", "first_ts"]
    ).astype({"max_cents": "int64", "first_ts": "int64"})
    sales_by_invoice = (
        pd.DataFrame(by_invoice, columns=["invoice", "sale_card", "sale_cents", "sale_ts"])
        .astype({"sale_cents": "int64", "sale_ts": "int64"})
        .drop_duplicates("invoice", keep="first")
    )
    return Context(
        customers=_profiles(conn, "customer", customers),
        merchant=merchant,
        hours=hours,
        sales_by_card=sales_by_card,
        sales_by_invoice=sales_by_invoice,
        history_start=_state(conn, HISTORY_START),
    )


def _merge_profiles(
    conn: sa.Connection,
    kind: str,
    updates: Mapping[str, tuple[int, float, float]],
    at: dt.datetime | None = None,
) -> None:
    """Add (n, sum, sum of squares) to the stored profiles (delete + insert: portable upsert)."""
    if not updates:
        return
    t = xPTFraudProfile
    keys = list(updates)
    old = _profiles(conn, kind, keys)
    for chunk in _chunks(keys):
        conn.execute(sa.delete(t).where(t.c.kind == kind, t.c.pkey.in_(chunk)))
    rows = []
    for key, (n, total, total_sq) in updates.items():
        prev = old.get(key, Profile(0, 0.0, 0.0))
        rows.append(
            {
                "kind": kind,
                "pkey": key,
                "n": prev.n + n,
                "total": prev.total + total,
                "total_sq": prev.total_sq + total_sq,
                "at": at,
            }
        )
    columns = ("kind", "pkey", "n", "total", "total_sq", "at")
    _bulk_insert(conn, t, columns, [tuple(r[c] for c in columns) for r in rows])


HIST_COLUMNS = (
    "transaction_id",
    "created_at",
    "transaction_type",
    "amount_cents",
    "card_masked",
    "customer_id",
    "holder",
    "invoice_id",
)


def _insert_history(conn: sa.Connection, sales: pd.DataFrame) -> None:
    """The sales into ``xPTFraudHist``: COPY on PostgreSQL, multi-row INSERTs elsewhere."""
    rows = list(
        zip(
            sales["tid"].astype("int64").tolist(),
            [_utc(v) for v in sales["ts"].tolist()],
            sales["ttype"].tolist(),
            sales["cents"].astype("int64").tolist(),
            sales["card"].tolist(),
            sales["customer"].tolist(),
            [str(h)[:100] for h in sales["holder"].tolist()],
            sales["invoice"].tolist(),
            strict=True,
        )
    )
    _bulk_insert(conn, xPTFraudHist, HIST_COLUMNS, rows)


def _bulk_insert(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Rows into one of our tables inside ``conn``'s transaction: COPY on PostgreSQL (the SQL compiler and
    per-row round trips cost seconds at 100k rows), an executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection  # psycopg 3 connection, in this transaction
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table.name.lower()} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    conn.execute(sa.insert(table), [dict(zip(columns, r, strict=True)) for r in rows])


def _set_state(conn: sa.Connection, key: str, at: dt.datetime) -> None:
    t = xPTFraudProfile
    conn.execute(sa.delete(t).where(t.c.kind == STATE, t.c.pkey == key))
    conn.execute(sa.insert(t).values(kind=STATE, pkey=key, n=0, total=0.0, total_sq=0.0, at=at))


HISTORY_ATTEMPTS = 3


def advance_history(
    engine: sa.Engine, frame: pd.DataFrame, window_end: dt.datetime, *, history_days: int
) -> int:
    """Add the frame's rows created in [watermark, window_end) to the history and profiles; returns how
    many. Prunes sales older than ``history_days`` before ``window_end``.

    Two runs of overlapping windows (a backfill with windows in parallel) may read the same watermark and
    insert the same sales: the loser of the race on ``xPTFraudHist``'s key rolls back and starts again from
    the watermark the winner committed, so no sale is added twice and no run fails for it."""
    for attempt in range(1, HISTORY_ATTEMPTS + 1):
        try:
            return _advance_history_once(engine, frame, window_end, history_days=history_days)
        except Exception as exc:
            if not _key_conflict(exc) or attempt == HISTORY_ATTEMPTS:
                raise
            log.info("fraud history: a concurrent run added the same sales first; again from its watermark")
    raise AssertionError("unreachable")  # pragma: no cover


def _key_conflict(exc: BaseException) -> bool:
    """A unique-key violation, raised through SQLAlchemy or straight from psycopg's COPY."""
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - PostgreSQL's driver is in the lock
        return False
    return isinstance(exc, psycopg.IntegrityError)


def _advance_history_once(
    engine: sa.Engine, frame: pd.DataFrame, window_end: dt.datetime, *, history_days: int
) -> int:
    with engine.begin() as conn:
        watermark = _state(conn, WATERMARK)
        lo = int(watermark.timestamp()) if watermark is not None else -(2**62)
        hi = int(window_end.timestamp())
        if hi <= lo:
            return 0
        ts = frame["ts"].to_numpy()
        new = frame.loc[(ts >= lo) & (ts < hi)]
        if len(new):
            sale = is_sale(new)
            sales = new.loc[sale]
            if len(sales):
                _insert_history(conn, sales)
                logs = log_dollars(sales["cents"])
                grouped = (
                    pd.DataFrame({"customer": sales["customer"].to_numpy(), "x": logs, "x2": logs * logs})
                    .loc[lambda d: d["customer"] != ""]
                    .groupby("customer", sort=False)
                    .agg(n=("x", "size"), total=("x", "sum"), total_sq=("x2", "sum"))
                )
                _merge_profiles(
                    conn,
                    "customer",
                    {
                        str(k): (int(n), float(t), float(t2))
                        for k, n, t, t2 in zip(
                            grouped.index.tolist(),
                            grouped["n"].tolist(),
                            grouped["total"].tolist(),
                            grouped["total_sq"].tolist(),
                            strict=True,
                        )
                    },
                )
                _merge_profiles(
                    conn, "merchant", {"": (len(logs), float(logs.sum()), float((logs * logs).sum()))}
                )
            hours = np.bincount(new["hour"].to_numpy(), minlength=24)
            _merge_profiles(
                conn, "hour", {f"{h:02d}": (int(hours[h]), 0.0, 0.0) for h in range(24) if hours[h]}
            )
            if _state(conn, HISTORY_START) is None:
                _set_state(conn, HISTORY_START, _utc(int(new["ts"].min())))
        _set_state(conn, WATERMARK, window_end.astimezone(dt.UTC))
        conn.execute(
            sa.delete(xPTFraudHist).where(
                xPTFraudHist.c.created_at < window_end - dt.timedelta(days=history_days)
            )
        )
        return len(new)


# ------------------------------------------------------------------------------------------- model


def latest_model(conn: sa.Connection) -> dict[str, Any] | None:
    t = xPTFraudModel
    row = conn.execute(sa.select(t).order_by(t.c.version.desc()).limit(1)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["sample"] = np.asarray(json.loads(out["sample"]), dtype=np.float64).reshape(-1, len(MODEL_FEATURES))
    out["params"] = json.loads(out["params"])
    return out


def save_model(
    engine: sa.Engine,
    *,
    version: int,
    params: Mapping[str, Any],
    sample: np.ndarray,
    data_through: dt.datetime,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(xPTFraudModel).values(
                version=version,
                algorithm="isolation_forest",
                params=json.dumps(dict(params), sort_keys=True),
                features=json.dumps(list(MODEL_FEATURES)),
                sample=json.dumps([[round(float(v), 6) for v in row] for row in sample]),
                n_train=len(sample),
                data_through=data_through,
                fitted_at=dt.datetime.now(dt.UTC),
            )
        )


# ------------------------------------------------------------------------------------------ alerts


def save_alerts(
    engine: sa.Engine, alerts: Sequence[Mapping[str, Any]], run_id: str
) -> list[Mapping[str, Any]]:
    """Insert the alerts whose transaction has none yet; returns the new ones (what gets notified)."""
    if not alerts:
        return []
    t = xPTFraudAlert
    ids = [int(a["transaction_id"]) for a in alerts]
    with engine.begin() as conn:
        existing: set[int] = set()
        for chunk in _chunks(ids):
            existing.update(
                int(v)
                for v in conn.execute(
                    sa.select(t.c.transaction_id).where(t.c.transaction_id.in_(chunk))
                ).scalars()
            )
        new = [a for a in alerts if int(a["transaction_id"]) not in existing]
        now = dt.datetime.now(dt.UTC)
        if new:
            conn.execute(
                sa.insert(t),
                [
                    {
                        "transaction_id": int(a["transaction_id"]),
                        "pattern": a["pattern"],
                        "patterns": ",".join(a["patterns"])[:400],
                        "score": float(a["score"]),
                        "reasons": json.dumps(list(a["reasons"])),
                        "features": json.dumps(a["features"], sort_keys=True),
                        "model_version": a.get("model_version"),
                        "held": 1 if a.get("held") else 0,
                        "created_at": a["created_at"],
                        "run_id": run_id,
                        "scored_at": now,
                    }
                    for a in new
                ],
            )
    return new


def held_transactions(engine: sa.Engine, transaction_ids: Iterable[int]) -> dict[int, str]:
    """Held alerts (mapping ``fraud.hold``) of these ids that are not in SL yet: id → the alert's reason."""
    ids = sorted(set(int(i) for i in transaction_ids))
    out: dict[int, str] = {}
    if not ids:
        return out
    t = xPTFraudAlert
    posted = sa.select(xPTLedger.c.transaction_id).where(
        xPTLedger.c.transaction_id == t.c.transaction_id, xPTLedger.c.status == "posted"
    )
    with engine.connect() as conn:
        for chunk in _chunks(ids):
            rows = conn.execute(
                sa.select(t.c.transaction_id, t.c.patterns, t.c.reasons).where(
                    t.c.transaction_id.in_(chunk), t.c.held == 1, ~sa.exists(posted)
                )
            )
            for tid, patterns, reasons in rows:
                texts = json.loads(reasons or "[]")
                out[int(tid)] = f"fraud alert ({patterns}): {'; '.join(texts)}"[:500]
    return out


def release_hold(engine: sa.Engine, transaction_id: int) -> bool:
    """A person cleared the alert: the next run posts the transaction. True if a hold was released."""
    t = xPTFraudAlert
    with engine.begin() as conn:
        done = conn.execute(
            sa.update(t).where(t.c.transaction_id == transaction_id, t.c.held == 1).values(held=0)
        )
    return bool(done.rowcount)


def list_alerts(
    engine: sa.Engine, start: dt.datetime | None = None, end: dt.datetime | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Alerts of transactions created in [start, end), newest first (report, UI page, CLI)."""
    t = xPTFraudAlert
    query = sa.select(t).order_by(t.c.created_at.desc(), t.c.transaction_id.desc()).limit(limit)
    if start is not None:
        query = query.where(t.c.created_at >= start)
    if end is not None:
        query = query.where(t.c.created_at < end)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for r in rows:
        r["reasons"] = json.loads(r["reasons"] or "[]")
        r["features"] = json.loads(r["features"] or "{}")
        r["held"] = bool(r["held"])
        if r["score"] is not None and not math.isfinite(r["score"]):
            r["score"] = 0.0
    return rows
