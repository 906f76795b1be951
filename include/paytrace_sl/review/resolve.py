"""Resolve one review item: a person names the SL customer (and invoice) of its PayTrace transaction.

The transaction is re-fetched from PayTrace by id and goes through the normal steps — validate,
transform, load (ledger, exactly once), preflight, summarize — as a run of its own, with the person's
choice applied to that one transaction (:mod:`.overrides`). When its document is posted the item is
closed with who, when and what; other open items of the same transaction that the posting settles are
closed as a replay closes them. ``remember`` also writes the PayTrace customer → SL customer
cross-reference (``xPTCustXref``) so the next payment of that payer matches by itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paytrace_sl.review.store import ReviewError, ReviewItem, close_resolved, get_item, require_open
from paytrace_sl.sl.own_tables import install, utcnow, xPTLedger

if TYPE_CHECKING:
    from paytrace_sl.paytrace.records import Transaction
    from paytrace_sl.pipeline.landing import Landing
    from paytrace_sl.pipeline.runner import PipelineConfig
    from paytrace_sl.pipeline.windows import Window

POSTING_KINDS = ("payment", "refund")


class ResolveRefused(ReviewError):
    """The choice cannot be applied (unknown customer or invoice, already posted, no transaction)."""


class ResolveNotPosted(ReviewError):
    """The transaction went through the pipeline but was not posted; the message says what happened."""


@dataclass(frozen=True)
class ResolveResult:
    item: ReviewItem
    run_id: str
    posted: str  # "payment PA 000123 in batch 004567 for customer C0001"
    other_items_closed: int
    remembered: bool

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "item": self.item.to_json_dict(),
            "run_id": self.run_id,
            "posted": self.posted,
            "other_items_closed": self.other_items_closed,
            "remembered": self.remembered,
        }


def new_run_id(item_id: int) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"review-resolve__{int(item_id)}__{stamp}__{uuid.uuid4().hex[:6]}"


def _posting(conn: sa.Connection, txid: int, run_id: str | None = None) -> Any:
    lg = xPTLedger
    query = sa.select(lg.c.kind, lg.c.doc_type, lg.c.ref_nbr, lg.c.bat_nbr, lg.c.cust_id, lg.c.run_id).where(
        lg.c.transaction_id == txid, lg.c.kind.in_(POSTING_KINDS), lg.c.status == "posted"
    )
    if run_id is not None:
        query = query.where(lg.c.run_id == run_id)
    return conn.execute(query.order_by(lg.c.id)).first()


def _describe(row: Any) -> str:
    return (
        f"{row.kind} {str(row.doc_type).strip()} {str(row.ref_nbr).strip()} in batch "
        f"{str(row.bat_nbr).strip()} for customer {str(row.cust_id).strip()}"
    )


def check_choice(engine: sa.Engine, item: ReviewItem, cust_id: str, invoice: str | None) -> None:
    """Refuse a choice SL does not know, or an item whose transaction is already posted."""
    from paytrace_sl.sl import catalog

    require_open(item)
    if item.transaction_id is None:
        raise ResolveRefused(
            f"review item {item.id} is not tied to a PayTrace transaction: nothing to post; "
            "dismiss it with a reason instead"
        )
    cu, ar = catalog.Customer, catalog.ARDoc
    with engine.connect() as conn:
        if conn.execute(sa.select(cu.c.CustId).where(cu.c.CustId == cust_id)).first() is None:
            raise ResolveRefused(f"SL customer {cust_id!r} not found (Customer.CustId)")
        if invoice and (
            conn.execute(
                sa.select(ar.c.RefNbr).where(
                    ar.c.DocType == "IN", ar.c.RefNbr == invoice, ar.c.CustId == cust_id
                )
            ).first()
            is None
        ):
            raise ResolveRefused(f"invoice {invoice!r} is not an SL invoice of customer {cust_id!r}")
        posted = _posting(conn, item.transaction_id)
    if posted is not None:
        raise ResolveRefused(
            f"transaction {item.transaction_id} is already posted ({_describe(posted)}, "
            f"run {posted.run_id}); "
            "correct it in SL if the customer is wrong, then dismiss the item with the reason"
        )


def remember_customer(engine: sa.Engine, paytrace_customer_id: str, cust_id: str) -> None:
    """Insert or re-point the ``xPTCustXref`` row of a PayTrace customer (source ``review``)."""
    from paytrace_sl.customers.xref import remember_xref

    with engine.begin() as conn:
        remember_xref(conn, paytrace_customer_id, cust_id, source="review", now=utcnow())


def fetch_transaction(cfg: PipelineConfig, txid: int) -> tuple[list[Transaction], list[Any]]:
    """PayTrace's current record of ``txid`` (by id), parsed; and the copies that failed to parse."""
    from paytrace_sl.paytrace.client import EXPORT_BY_ID, PayTraceClient
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import parse_transaction
    from paytrace_sl.pipeline.copies import Copies, resolve_copies
    from paytrace_sl.pipeline.dead_letters import parse_failure_letter

    copies = Copies()
    client = PayTraceClient(cfg.paytrace)
    try:
        envelope = client.call(EXPORT_BY_ID, {"transaction_id": int(txid)})
        for raw in envelope.get("transactions") or []:
            try:
                copies.add(parse_transaction(raw, cfg.paytrace.tz))
            except RecordParseError as exc:
                copies.add_failure(parse_failure_letter(raw, exc, "paytrace-transaction"))
    finally:
        client.close()
    resolved = resolve_copies(copies)
    return list(resolved.transactions), [*resolved.parse_failures, *resolved.conflicts]


def resolve(
    cfg: PipelineConfig,
    item_id: int,
    *,
    cust_id: str,
    who: str,
    invoice: str | None = None,
    remember: bool = False,
    run_id: str | None = None,
    why: str | None = None,
) -> ResolveResult:
    """Post the item's transaction for ``cust_id`` (applied to ``invoice`` when given) and close the item
    (``why``: kept on the item, e.g. the suggestion an automatic resolve followed)."""
    from paytrace_sl.pipeline import runner
    from paytrace_sl.pipeline.bookkeeping import mark_run_started
    from paytrace_sl.pipeline.landing import Landing
    from paytrace_sl.pipeline.review_close import close_reviews_posted_by

    cust_id, invoice = cust_id.strip(), (invoice or "").strip() or None
    if not cust_id:
        raise ResolveRefused("name the SL customer (--customer CUSTID)")
    run_id = run_id or new_run_id(item_id)
    cfg = runner.with_dag(cfg, runner.REPLAY_DAG_ID)
    began = utcnow()
    with runner.engine_for(cfg) as engine:  # one engine until the steps run: checks, --remember, start
        install(engine)
        item = get_item(engine, item_id)
        check_choice(engine, item, cust_id, invoice)
        txid = int(item.transaction_id or 0)
        tx = _fetch_one(cfg, txid)
        if remember:
            if not tx.customer_id:
                raise ResolveRefused(
                    f"transaction {txid} carries no PayTrace customer id: there is nothing to remember "
                    "(resolve without --remember)"
                )
            remember_customer(engine, tx.customer_id, cust_id)
        landing = Landing(cfg.landing_dir, run_id)
        window = _land_extract(cfg, landing, tx, item_id, (txid, cust_id, invoice))
        mark_run_started(engine, cfg, window, run_id)
    runner.run_steps(cfg, runner.PAYMENT_STEPS[1:], window, run_id)
    with runner.engine_for(cfg) as engine:
        with engine.begin() as conn:
            posted = _posting(conn, txid, run_id)
            if posted is None:
                raise ResolveNotPosted(_not_posted_text(landing, txid, item_id))
            what = f"posted {_describe(posted)} by {run_id}"
            close_resolved(conn, item_id, who=who, what=what, cust_id=cust_id, ref_nbr=invoice, why=why)
        others = close_reviews_posted_by(engine, run_id, began)
        item = get_item(engine, item_id)
    return ResolveResult(item, run_id, _describe(posted), others, remember)


def _fetch_one(cfg: PipelineConfig, txid: int) -> Transaction:
    """The one usable PayTrace record of ``txid``; ResolveNotPosted when there is not exactly one."""
    transactions, still_bad = fetch_transaction(cfg, txid)
    if still_bad or len(transactions) != 1:
        raise ResolveNotPosted(
            f"PayTrace returned {len(transactions)} usable record(s) for transaction {txid}"
            + (f" and {len(still_bad)} it could not read" if still_bad else "")
            + "; nothing posted, the item stays open"
        )
    return transactions[0]


def _land_extract(
    cfg: PipelineConfig,
    landing: Landing,
    tx: Transaction,
    item_id: int,
    choice: tuple[int, str, str | None],
) -> Window:
    """Land what the extract step would for this one transaction, and the person's ``(transaction id,
    customer, invoice)`` choice; returns the run's window."""
    txid, cust_id, invoice = choice
    from paytrace_sl.pipeline.files import REJECTS_FILE, TX_FILE, WINDOW_FILE, summary_file
    from paytrace_sl.pipeline.summaries import ExtractSummary
    from paytrace_sl.pipeline.windows import Window
    from paytrace_sl.review.overrides import write_overrides

    at = tx.created_at.astimezone(cfg.paytrace.tz)
    window = Window(at, at + dt.timedelta(seconds=1), cfg.timezone)
    landing.write_json(WINDOW_FILE, {"window": window.to_json_dict(), "review_item": int(item_id)})
    landing.write_jsonl(TX_FILE, [tx.to_json_dict()])
    landing.write_jsonl(REJECTS_FILE, [])
    write_overrides(landing, {txid: (cust_id, invoice or "")})
    landing.write_json(
        summary_file(ExtractSummary.STEP),
        ExtractSummary(
            window=window.label,
            fetched=1,
            transactions=1,
            in_window=1,
            lookback_only=0,
            outside_range=0,
            parse_rejected=0,
            duplicate_conflicts=0,
            dead_letters_new=0,
            declined=0,
        ).to_json(),
    )
    return window


def _not_posted_text(landing: Any, txid: int, item_id: int) -> str:
    from paytrace_sl.pipeline.runner import OUTCOME_FILE

    why = "no document was written"
    if landing.exists(OUTCOME_FILE):
        outcome = landing.read_json(OUTCOME_FILE)
        if txid in outcome.get("already_posted", []):
            why = "it is already posted"
        for key in ("review", "skipped"):
            for entry in outcome.get(key, []):
                if int(entry.get("transaction_id", -1)) == txid:
                    why = f"{'review' if key == 'review' else 'skipped'}: {entry.get('reason')}"
    return f"transaction {txid} was not posted ({why}); review item {item_id} stays open"
