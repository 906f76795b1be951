"""Reconciliation over a date range: per settlement batch, plus every exception with an actionable reason.

PayTrace's side comes from the API (``paytrace_client``) when credentials are configured; otherwise from
what the pipeline already fetched: the landing files of past runs (transactions) and ``xPTRecon`` (the
batch totals the settlement DAG stored). SL's side is always read live, joined to ``xPTLedger``.

An exception is *explained* when our own tables say why (an open review item, a dead letter, a skip, the
void handling); everything else is *unexplained* and makes ``paytrace-sl reconcile`` exit non-zero.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from paytrace_sl.paytrace.records import SettlementBatch, Transaction, TransactionState
from paytrace_sl.pipeline.settlement import classify
from paytrace_sl.reconcile.books import books_checks
from paytrace_sl.reconcile.chargebacks import chargeback_checks, chargeback_exceptions, chargeback_note
from paytrace_sl.reconcile.model import DIFFERENCE, PENDING, ReconException, ReconRecord, ReconReport, Totals
from paytrace_sl.reconcile.settled_batch import explains, reconcile_settlement_batch
from paytrace_sl.reconcile.sl_state import (
    PostedDoc,
    WhyNotPosted,
    load_posted_docs,
    loads_json,
    why_not_posted,
)
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger, xPTRecon

UNRELEASED = ("H", "B", "S")
CHANGED_COPY_CODES = ("posted_copy_changed", "posted_twice")  # review codes of pipeline.posted_copies
DOCUMENT_KINDS = ("payment", "refund", "settlement")
_STATE_RANK = {
    TransactionState.PENDING: 1, TransactionState.AUTHORIZED: 1, TransactionState.SETTLED: 2,
    TransactionState.VOIDED: 3, TransactionState.DECLINED: 3,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReconOptions:
    timezone: str = "America/Los_Angeles"
    pending_days: int = 3  # a PayTrace transaction still unsettled after this many days is an exception
    hold_days: int = 5  # an SL batch of ours still on Hold after this many days is an exception
    programs: tuple[str, ...] = ("PTSL",)  # SL program names our writer stamps (LUpd_Prog)
    expect_settlement: bool = False  # a deposit GL entry is configured (mapping.settlement_planned)


@dataclass(frozen=True, slots=True)
class PayTraceSide:
    source: str
    transactions: tuple[Transaction, ...]
    batches: tuple[tuple[SettlementBatch, tuple[Transaction, ...]], ...]
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------ PayTrace side

_T = TypeVar("_T")


def _local_day(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    return moment.astimezone(tz).date()


def _readable(raws: Iterable[Any], parse: Callable[[Any], _T], unreadable: list[int]) -> list[_T]:
    """The records that parse; the others are counted in ``unreadable`` (the pipeline dead-letters
    them with their reason; one poison record must not stop the report of a whole day)."""
    from paytrace_sl.paytrace.errors import RecordParseError

    out: list[_T] = []
    for raw in raws:
        try:
            out.append(parse(raw))
        except RecordParseError:
            unreadable[0] += 1
    return out


def from_client(client: Any, start: dt.date, end: dt.date, tz: ZoneInfo) -> PayTraceSide:
    """Transactions and settled batches of merchant days ``start..end`` (inclusive) from the API.

    Ids PayTrace returns twice with different content, and records that cannot be parsed, follow the
    pipeline's one duplicate-id policy (:mod:`paytrace_sl.pipeline.copies`): set aside, and named in
    the report's notes (ids and field names only) instead of failing the reconciliation.
    """
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import parse_batch, parse_transaction
    from paytrace_sl.pipeline.copies import SETTLEMENT_BATCH, Copies, resolve_copies
    from paytrace_sl.pipeline.dead_letters import parse_failure_letter

    after = end + dt.timedelta(days=1)
    tx_copies = Copies()
    for raw in client.export_transactions_raw(start, after):
        try:
            tx_copies.add(parse_transaction(raw, tz))
        except RecordParseError as exc:
            tx_copies.add_failure(parse_failure_letter(raw, exc, "paytrace-transaction"))
    batch_copies = Copies(kind=SETTLEMENT_BATCH)
    for raw in client.export_batches_raw(start, after):
        try:
            batch_copies.add(parse_batch(raw, tz))
        except RecordParseError as exc:
            number = raw.get("number") if isinstance(raw, dict) else None
            batch_copies.add_failure(
                parse_failure_letter(raw, exc, SETTLEMENT_BATCH.source),
                key=number if type(number) is int else None,
            )
    resolved_tx, resolved_batches = resolve_copies(tx_copies), resolve_copies(batch_copies)
    txs = [t for t in resolved_tx.records if start <= _local_day(t.created_at, tz) <= end]
    unreadable = [0]
    batches = [
        (
            b,
            tuple(
                _readable(
                    client.batch_transactions_raw(b.number), lambda r: parse_transaction(r, tz), unreadable
                )
            ),
        )
        for b in resolved_batches.records
    ]
    notes = tuple(
        f"set aside, not reconciled: {letter.reason}"
        for resolved in (resolved_tx, resolved_batches)
        for letter in (*resolved.conflicts, *resolved.parse_failures)
    ) + (
        (
            f"{unreadable[0]} PayTrace record(s) of settled batches could not be read and are left out "
            "here; the pipeline sets each aside as a dead letter with its reason (xPTDeadLetter)",
        )
        if unreadable[0]
        else ()
    )
    return PayTraceSide("paytrace-api", _dedupe(txs), tuple(batches), notes)


def _dedupe(txs: Iterable[Transaction]) -> tuple[Transaction, ...]:
    best: dict[int, Transaction] = {}
    for tx in txs:
        old = best.get(tx.transaction_id)
        if old is None or _STATE_RANK.get(tx.status, 0) >= _STATE_RANK.get(old.status, 0):
            best[tx.transaction_id] = tx
    return tuple(best[k] for k in sorted(best))


def landing_transactions(landing_dir: Path) -> list[Transaction]:
    """Every transaction in the landing files of past runs (run directories in name order)."""
    out: list[Transaction] = []
    if not landing_dir.is_dir():
        return out
    for run_dir in sorted(p for p in landing_dir.iterdir() if p.is_dir()):
        path = run_dir / "transactions.jsonl"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    out.append(Transaction.from_json_dict(json.loads(line)))
    return out


def from_landing(
    conn: sa.Connection, landing_dir: Path | None, start: dt.date, end: dt.date, tz: ZoneInfo
) -> PayTraceSide:
    """PayTrace's side as the pipeline saw it: landing files + the batch totals stored in ``xPTRecon``."""
    notes = ["PayTrace API not configured: transactions from the landing files, batch totals from xPTRecon"]
    every = _dedupe(landing_transactions(landing_dir)) if landing_dir is not None else ()
    if landing_dir is None or not every:
        notes.append(f"no landing transactions found under {landing_dir}; PayTrace-side checks are limited")
    txs = tuple(t for t in every if start <= _local_day(t.created_at, tz) <= end)
    by_batch: dict[int, list[Transaction]] = defaultdict(list)
    for t in every:
        if t.batch_number is not None:
            by_batch[t.batch_number].append(t)
    batches = []
    for row in conn.execute(
        sa.select(xPTRecon.c.batch_number, xPTRecon.c.explanation).order_by(xPTRecon.c.batch_number)
    ):
        data = loads_json(row.explanation) or {}
        if "paytrace" not in data or "settled_date" not in data:
            continue
        day = dt.date.fromisoformat(str(data["settled_date"]))
        if not start <= day <= end:
            continue
        totals = Totals.from_json_dict(data["paytrace"])
        batch = SettlementBatch(
            number=int(row.batch_number),
            created_at=dt.datetime.combine(day, dt.time(12), tz),
            transaction_count=totals.count,
            net_amount=totals.net,
            sales_count=totals.sales_count,
            sales_amount=totals.sales_amount,
            refund_count=totals.refund_count,
            refund_amount=totals.refund_amount,
        )
        batches.append((batch, tuple(sorted(by_batch.get(batch.number, []), key=lambda t: t.transaction_id))))
    return PayTraceSide("landing", txs, tuple(batches), tuple(notes))


# ------------------------------------------------------------------------------------------ SL side


def current_periods(conn: sa.Connection) -> dict[str, str]:
    """SL's current period per module: ``{"AR": ARSetup.PerNbr, "GL": GLSetup.PerNbr}``."""
    out: dict[str, str] = {}
    for module, tbl, setup_id in (("GL", catalog.GLSetup, "GL"), ("AR", catalog.ARSetup, "AR")):
        value = conn.execute(sa.select(tbl.c.PerNbr).where(tbl.c.SetupId == setup_id)).scalar()
        if value is not None and str(value).strip():
            out[module] = str(value).strip()
    return out


def _docs_in_range(
    conn: sa.Connection,
    ids: Sequence[int],
    start: dt.date,
    end: dt.date,
    tz: ZoneInfo,
    programs: Sequence[str],
) -> list[PostedDoc]:
    """Our posted documents of the range: those of PayTrace's transactions, plus any posted document
    whose SL date (or, if gone, posting date) falls in the range."""
    docs = {d.ledger_key: d for d in load_posted_docs(conn, transaction_ids=ids, programs=programs)}
    since = dt.datetime.combine(start - dt.timedelta(days=45), dt.time(), tz)
    for d in load_posted_docs(conn, where=xPTLedger.c.posted_at >= since, programs=programs):
        day = d.doc_date or _local_day(d.posted_at, tz)
        if start <= day <= end:
            docs.setdefault(d.ledger_key, d)
    # Void rows record what we did about a void (amount 0, no SL document of their own): not documents.
    return [docs[k] for k in sorted(docs) if docs[k].kind in DOCUMENT_KINDS]


# ----------------------------------------------------------------------------------------- reconcile


def reconcile(
    engine: sa.Engine,
    start: dt.date,
    end: dt.date,
    *,
    paytrace_client: Any | None = None,
    landing_dir: Path | None = None,
    mapping: Any | None = None,
    options: ReconOptions | None = None,
    now: dt.datetime | None = None,
) -> ReconReport:
    """Reconcile merchant days ``start..end`` (inclusive) between PayTrace, our tables and SL."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    opts = options or ReconOptions(
        timezone=getattr(mapping, "timezone", "America/Los_Angeles"),
        expect_settlement=bool(getattr(mapping, "settlement_planned", False)),
    )
    tz = ZoneInfo(opts.timezone)
    moment = now or dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        side = (
            from_client(paytrace_client, start, end, tz)
            if paytrace_client is not None
            else from_landing(conn, landing_dir, start, end, tz)
        )
        records = [
            reconcile_settlement_batch(
                conn,
                batch,
                listed,
                mapping=mapping,
                expect_settlement=opts.expect_settlement,
                programs=opts.programs,
                timezone=opts.timezone,
            )
            for batch, listed in side.batches
        ]
        ids = [t.transaction_id for t in side.transactions]
        docs = _docs_in_range(conn, ids, start, end, tz, opts.programs)
        why = why_not_posted(conn, ids)
        void_keys = (
            {
                str(k): str(n or "")
                for k, n in conn.execute(
                    sa.select(xPTLedger.c.ledger_key, xPTLedger.c.note).where(xPTLedger.c.kind == "void")
                )
            }
            if ids
            else {}
        )
        periods = current_periods(conn)
        cases = chargeback_checks(conn, start, end)  # chargeback case stages (reconcile/chargebacks.py)
    exceptions = find_exceptions(
        side.transactions, docs, records, why, void_keys, periods, opts, moment, mapping
    )
    books_exceptions, books_notes = books_checks(side.transactions, docs, why, tz, mapping)
    exceptions += books_exceptions
    exceptions += chargeback_exceptions(cases)
    if cases_note := chargeback_note(cases):
        books_notes = [*books_notes, cases_note]
    return ReconReport(
        start=start,
        end=end,
        source=side.source,
        batches=tuple(sorted(records, key=lambda r: r.batch_number)),
        exceptions=tuple(sorted(exceptions, key=lambda e: e.sort_key)),
        transactions_checked=len(side.transactions),
        notes=(*side.notes, *books_notes),
        chargeback_cases=tuple(cases),
        transactions=tuple(side.transactions),
    )


def find_exceptions(
    txs: Sequence[Transaction],
    docs: Sequence[PostedDoc],
    records: Sequence[ReconRecord],
    why: dict[int, Any],
    void_keys: dict[str, str],
    periods: dict[str, str],
    opts: ReconOptions,
    now: dt.datetime,
    mapping: Any | None = None,
) -> list[ReconException]:
    """Every exception kind; pure function of its inputs (unit-testable without a database)."""
    tz = ZoneInfo(opts.timezone)
    out: list[ReconException] = []
    by_key = {d.ledger_key: d for d in docs}
    pt_ids = {t.transaction_id for t in txs}
    sale_invoices: dict[str, PostedDoc] = {}
    for tx in txs:
        day = _local_day(tx.created_at, tz)
        kind = classify(tx, mapping)
        pay = by_key.get(f"paytrace:{tx.transaction_id}:payment")
        if kind == "sale" and pay is not None and tx.invoice_id:
            sale_invoices[tx.invoice_id] = pay
        if tx.status == TransactionState.PENDING and now - tx.created_at > dt.timedelta(
            days=opts.pending_days
        ):
            age = (now - tx.created_at).days
            out.append(
                ReconException(
                    "pending_too_long",
                    f"PayTrace still shows {tx.transaction_type} {tx.transaction_id} as pending "
                    f"after {age} days",
                    "check the transaction in PayTrace's virtual terminal; ask PayTrace support "
                    "why it has not settled",
                    explained=False,
                    transaction_id=tx.transaction_id,
                    amount=tx.amount,
                    day=day,
                )
            )
        if tx.status == TransactionState.VOIDED and pay is not None:
            void_note = void_keys.get(f"paytrace:{tx.transaction_id}:void")
            out.append(
                ReconException(
                    "voided_after_posting",
                    f"PayTrace voided sale {tx.transaction_id} after we posted {pay.sl_ref}"
                    + (f"; {void_note}" if void_note else ""),
                    "reverse the payment in SL (08.240 NSF/reversal) and resolve the review item",
                    explained=void_note is not None,
                    transaction_id=tx.transaction_id,
                    ledger_key=pay.ledger_key,
                    sl_ref=pay.sl_ref,
                    amount=pay.amount,
                    day=day,
                )
            )
        changed = why.get(tx.transaction_id)
        if changed is not None and changed.reason_code in CHANGED_COPY_CODES:
            # the id was posted once; PayTrace now returns it differently: name it, do not re-derive it
            # as "missing" or "amount differs" from the changed copy
            out.append(
                ReconException(
                    "posted_copy_changed",
                    f"PayTrace returns {tx.transaction_type} {tx.transaction_id} differently from what we "
                    f"posted: {changed.reason}",
                    "compare the transaction in PayTrace with the SL document, correct SL by hand, then "
                    "resolve the review item",
                    explained=True,
                    transaction_id=tx.transaction_id,
                    amount=tx.amount,
                    day=day,
                )
            )
            continue
        if kind is None:
            continue
        key = f"paytrace:{tx.transaction_id}:{'payment' if kind == 'sale' else 'refund'}"
        doc = by_key.get(key)
        if doc is None:
            reason = why.get(tx.transaction_id)
            if reason is not None and not explains(tx, reason):
                reason = WhyNotPosted("", f"{reason.reason}; but PayTrace settled it, so it must be posted")
            text = reason.reason if reason else "no SL document and no review, dead-letter or skip record"
            action = {
                "review": (
                    f"`paytrace-sl review list` shows its item: `paytrace-sl review resolve ID --customer "
                    f"CUSTID [--remember]` posts transaction {tx.transaction_id} and closes the item, or "
                    "`paytrace-sl review dismiss ID --why …`; after fixing the cause in SL, `paytrace-sl "
                    f"replay --start {day} --end {day + dt.timedelta(days=1)}` posts and closes it too"
                ),
                "dead_letter": "fix the record or the contract and replay the dead letter",
                "skipped": "none if the skip reason is right; otherwise change mapping.yaml and re-run",
                "removed": "none: the document was removed on purpose",
            }.get(
                reason.code if reason else "", "re-run the import for this day; if it persists, report a bug"
            )
            out.append(
                ReconException(
                    "missing_in_sl",
                    f"{tx.transaction_type} {tx.transaction_id} ({tx.amount}) is in PayTrace but not "
                    f"in SL: {text}",
                    action,
                    explained=reason is not None and bool(reason.code),
                    transaction_id=tx.transaction_id,
                    ledger_key=key,
                    amount=tx.amount,
                    day=day,
                )
            )
            continue
        if doc.amount != tx.amount:
            out.append(
                ReconException(
                    "amount_differs",
                    f"PayTrace {tx.transaction_id} is {tx.amount} but we posted {doc.amount} ({doc.sl_ref})",
                    "correct the SL document (or re-post) so it matches PayTrace",
                    explained=False,
                    transaction_id=tx.transaction_id,
                    ledger_key=key,
                    sl_ref=doc.sl_ref,
                    amount=tx.amount,
                    day=day,
                )
            )
        if kind == "refund" and tx.invoice_id in sale_invoices:
            sale = sale_invoices[tx.invoice_id]
            out.append(
                ReconException(
                    "refunded_after_posting",
                    f"refund {tx.transaction_id} ({tx.amount}) of invoice {tx.invoice_id} "
                    f"follows payment {sale.sl_ref}; posted as {doc.sl_ref}",
                    "none: the refund is posted; re-open the invoice in SL if the sale is being returned",
                    explained=True,
                    transaction_id=tx.transaction_id,
                    ledger_key=key,
                    sl_ref=doc.sl_ref,
                    amount=tx.amount,
                    day=day,
                )
            )
    seen_batches: set[tuple[str, str]] = set()
    for doc in docs:
        day = doc.doc_date or _local_day(doc.posted_at, tz)
        common: dict[str, Any] = {
            "transaction_id": doc.transaction_id,
            "ledger_key": doc.ledger_key,
            "sl_ref": doc.sl_ref,
            "amount": doc.amount,
            "day": day,
        }
        if doc.kind in ("payment", "refund") and doc.transaction_id not in pt_ids:
            out.append(
                ReconException(
                    "missing_in_paytrace",
                    f"we posted {doc.sl_ref} ({doc.amount}) for PayTrace {doc.transaction_id}, "
                    "which PayTrace does not list for this range",
                    "look the transaction up in PayTrace; if it does not "
                    "exist, delete or reverse the SL document",
                    explained=False,
                    **common,
                )
            )
        if doc.sl_amount is None and doc.amount != 0:
            gone = (
                "batch voided in SL"
                if doc.batch is not None and doc.batch.status == "V"
                else "rows not found"
            )
            out.append(
                ReconException(
                    "deleted_in_sl",
                    f"{doc.sl_ref} that we wrote is gone from SL ({gone})",
                    "find who deleted it (SL audit); re-post (clear its ledger row) only if it must exist",
                    explained=False,
                    **common,
                )
            )
        elif doc.sl_amount is not None and (doc.sl_amount != doc.amount or doc.doc_edited_by):
            what = (
                f"amount {doc.amount} → {doc.sl_amount}"
                if doc.sl_amount != doc.amount
                else f"changed by program {doc.doc_edited_by}"
            )
            out.append(
                ReconException(
                    "edited_in_sl",
                    f"{doc.sl_ref} was edited in SL after we wrote it ({what})",
                    "confirm the change with the person who made it; SL now differs from PayTrace",
                    explained=False,
                    **common,
                )
            )
        b = doc.batch
        if b is None or b.rlsed or b.status not in UNRELEASED:
            continue
        current = periods.get(doc.module, "")
        if current and doc.per_post and doc.per_post < current:
            out.append(
                ReconException(
                    "closed_period",
                    f"{doc.sl_ref} is posted to period {doc.per_post} but SL's {doc.module} period is "
                    f"now {current}; the batch is not released",
                    f"change batch {doc.bat_nbr}'s period in SL (or reopen {doc.per_post}) before releasing",
                    explained=False,
                    **common,
                )
            )
        if b.status == "H" and (b.module, b.bat_nbr) not in seen_batches and b.crtd is not None:
            created = b.crtd.replace(tzinfo=tz) if b.crtd.tzinfo is None else b.crtd
            if now - created > dt.timedelta(days=opts.hold_days):
                seen_batches.add((b.module, b.bat_nbr))
                out.append(
                    ReconException(
                        "hold_too_long",
                        f"SL {b.module} batch {b.bat_nbr} is still on Hold after {(now - created).days} days",
                        f"review and release {b.module} batch {b.bat_nbr} in SL",
                        explained=False,
                        sl_ref=f"{b.module} {b.bat_nbr}",
                        day=created.date(),
                    )
                )
    for rec in records:
        if rec.status == DIFFERENCE:
            parts = [f"PayTrace net {rec.paytrace.net}", f"SL documents {rec.posted.net}"]
            if rec.listed_difference_cents or rec.listed.count != rec.paytrace.count:
                parts.append(
                    f"listed transactions {rec.listed.net} ({rec.listed.count} vs {rec.paytrace.count})"
                )
            if rec.settlement_posted is not None:
                parts.append(f"deposit entry {rec.settlement_posted}")
            detail = "; ".join(f"{i.transaction_id}: {i.reason}" for i in rec.items[:5])
            out.append(
                ReconException(
                    "batch_difference",
                    f"settlement batch {rec.batch_number}: "
                    + ", ".join(parts)
                    + (f" — {detail}" if detail else ""),
                    "work the listed transactions; the batch matches once each is posted or explained",
                    explained=rec.explained,
                    batch_number=rec.batch_number,
                    amount=Decimal(rec.difference_cents) / 100,
                    day=rec.settled_date,
                )
            )
        elif rec.status == PENDING:
            out.append(
                ReconException(
                    "settlement_pending",
                    f"settlement batch {rec.batch_number} matches but its deposit GL entry is not "
                    "written yet",
                    "run the paytrace_settlements_to_sl DAG (or paytrace-sl sync)",
                    explained=True,
                    batch_number=rec.batch_number,
                    amount=rec.paytrace.net,
                    day=rec.settled_date,
                )
            )
    return out
