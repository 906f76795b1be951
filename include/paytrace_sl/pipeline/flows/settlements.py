"""The settlement steps of one window: settle_extract → settle_transform → settle_load → reconcile →
settle_summarize → report (``paytrace_settlements_to_sl``).

Same shape as :mod:`.payments`: ``def step(ctx: RunContext) -> <Step>Summary`` and its public
``<step>_step(cfg, window, run_id)``. Reconciliation logic lives in
:mod:`paytrace_sl.pipeline.settlement`; this module only wires it to the landing folder and SL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

from paytrace_sl.paytrace.records import Transaction
from paytrace_sl.pipeline.bookkeeping import (
    mark_run_started,
    record_dead_letters,
    record_reviews,
    record_run,
    record_skips,
)
from paytrace_sl.pipeline.context import RunContext, Step, as_step
from paytrace_sl.pipeline.copies import SETTLEMENT_BATCH, Copies, resolve_copies
from paytrace_sl.pipeline.dead_letters import DeadLetter, parse_failure_letter
from paytrace_sl.pipeline.files import (
    BATCH_TX_FILE,
    BATCHES_FILE,
    RECONCILIATION_FILE,
    SETTLE_PLAN_FILE,
    SETTLE_REVIEW_FILE,
    SL_BATCHES_FILE,
)
from paytrace_sl.pipeline.flows.payments import sl_writer, transform_outcome, write_counts
from paytrace_sl.pipeline.landing import Landing, decode_plan
from paytrace_sl.pipeline.notify import Notification, notify
from paytrace_sl.pipeline.run_history import attention_text, unexplained_batches
from paytrace_sl.pipeline.steps import SETTLEMENT_STEP_NAMES
from paytrace_sl.pipeline.summaries import (
    ReconcileSummary,
    ReportSummary,
    SettleExtractSummary,
    SettleLoadSummary,
    SettleSummarizeSummary,
    SettleTransformSummary,
)
from paytrace_sl.pipeline.windows import Window
from paytrace_sl.settings import reports_dir


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


def settle_extract(ctx: RunContext) -> SettleExtractSummary:
    """Settled batches PayTrace lists for the window's days (plus look-back) and each batch's transaction
    list; a batch number returned with different content is set aside (:mod:`..copies`)."""
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import parse_batch, parse_transaction

    window = ctx.window
    mark_run_started(ctx.sl, ctx.cfg, window, ctx.run_id)
    fetch = window.fetch_range(ctx.lookback())
    first_day, last_day = fetch.request_dates()
    tz = fetch.tz
    letters: list[DeadLetter] = []
    batches: list[Any] = []
    tx_rows: list[dict[str, Any]] = []
    client = ctx.client()
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
    landing = ctx.landing
    landing.write_json(BATCHES_FILE, [b.to_json_dict() for b in sorted(batches, key=lambda b: b.number)])
    landing.write_jsonl(BATCH_TX_FILE, tx_rows)
    new_letters = 0
    if letters or conflicts:
        new_letters = record_dead_letters(ctx.sl, ctx.run_id, [*letters, *conflicts])
    return ctx.write_summary(
        SettleExtractSummary(
            window=window.label,
            settlement_batches=len(batches),
            outside_range=sum(1 for b in batches if not fetch.contains(b.created_at)),  # kept too
            batch_transactions=len(tx_rows),
            parse_rejected=len(letters),
            duplicate_conflicts=len(conflicts),
            dead_letters_new=new_letters,
        )
    )


def company(ctx: RunContext) -> str:
    """The SL company: the mapping's, else SL's own setup."""
    from paytrace_sl.sl.setup import load_sl_setup

    if ctx.mapping.company:
        return str(ctx.mapping.company)
    with ctx.engine.connect() as conn:
        return str(load_sl_setup(conn).cpny_id)


def settle_transform(ctx: RunContext) -> SettleTransformSummary:
    """One GL settlement per batch and clearing account (see :mod:`paytrace_sl.pipeline.settlement`).

    A batch that cannot be planned (its listed transactions do not add up to its net, say) is not posted:
    it becomes a review item and the reconciliation records the difference; the other batches proceed.
    """
    from paytrace_sl.pipeline.settlement import SettlementPlanError, is_empty_batch, plan_settlements
    from paytrace_sl.plan import PostingPlan

    landing = ctx.landing
    batches, by_batch = _settlement_inputs(landing)
    mapping: Any = ctx.mapping  # settlement.py reads it through its own protocol
    cpny_id = company(ctx)
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
    return ctx.write_summary(
        SettleTransformSummary(
            settlement_batches=len(batches),
            planned_entries=sum(len(b.items) for b in planned),
            not_planned=len(review),
            empty_batches=len(empty),
            empty_batch_numbers=tuple(empty),
            settlement_planned=bool(mapping.settlement_planned),
        )
    )


def settle_load(ctx: RunContext) -> SettleLoadSummary:
    """Post what the settled batches list but our ledger lacks (the completeness backstop,
    :mod:`paytrace_sl.pipeline.backstop`), then write the settlement GL batches on Hold.

    Each settlement batch stands alone: one that cannot be written becomes a review item naming the batch
    and the reason, and the batches after it are still written.
    """
    from paytrace_sl.pipeline.backstop import post_missing
    from paytrace_sl.sl.writer import WriterError, WriteResult

    run_id, landing = ctx.run_id, ctx.landing
    plan = decode_plan(landing.read_json(SETTLE_PLAN_FILE))
    _, by_batch = _settlement_inputs(landing)
    writer = sl_writer(ctx)
    engine = ctx.sl
    listed = [t for txs in by_batch.values() for t in txs]
    backstop = post_missing(engine, writer, ctx.mapping, listed, ctx.window)
    if backstop.transform is not None:
        outcome = transform_outcome(backstop.transform, backstop.missing)
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
    counts, batches = write_counts(result)
    review = landing.read_json(SETTLE_REVIEW_FILE) if landing.exists(SETTLE_REVIEW_FILE) else []
    reviews_new = record_reviews(engine, run_id, [*review, *failed])
    landing.write_json(SL_BATCHES_FILE, batches)
    return ctx.write_summary(
        SettleLoadSummary(
            **counts.to_json(), reviews_new=reviews_new, not_written=len(failed), backstop=backstop.counts()
        )
    )


def reconcile(ctx: RunContext) -> ReconcileSummary:
    """Per batch: PayTrace totals vs its listed transactions vs what SL holds → ``xPTRecon``."""
    from paytrace_sl.reconcile.settled_batch import reconcile_and_save

    landing = ctx.landing
    batches, by_batch = _settlement_inputs(landing)
    mapping = ctx.mapping
    cpny_id = company(ctx)
    records = []
    engine = ctx.sl
    for batch in batches:
        with engine.begin() as conn:
            records.append(
                reconcile_and_save(
                    conn,
                    batch,
                    by_batch.get(batch.number, []),
                    ctx.run_id,
                    mapping=mapping,
                    cpny_id=cpny_id,
                    expect_settlement=bool(mapping.settlement_planned),
                    programs=(ctx.cfg.program,),
                    timezone=ctx.cfg.timezone,
                )
            )
    statuses = Counter(r.status for r in records)
    landing.write_json(RECONCILIATION_FILE, [r.to_json_dict() for r in records])
    return ctx.write_summary(
        ReconcileSummary(
            settlement_batches=len(records),
            reconciled=statuses.get("matched", 0),
            difference=statuses.get("difference", 0),
            pending=statuses.get("pending", 0),
            difference_cents=sum(abs(r.difference_cents) for r in records),
        )
    )


def settle_summarize(ctx: RunContext) -> SettleSummarizeSummary:
    """Record the settlement run in ``xPTRun``; notify when a batch does not reconcile."""
    window = ctx.window
    extract_s = ctx.read_summary(SettleExtractSummary)
    load_s = ctx.read_summary(SettleLoadSummary)
    recon = ctx.read_summary(ReconcileSummary)
    transform_s = ctx.read_summary(SettleTransformSummary)
    summary = SettleSummarizeSummary(
        window=window.label,
        settlement_batches=extract_s.settlement_batches,
        settlement_entries_posted=load_s.posted,
        sl_batches=load_s.sl_batches,
        reconciled=recon.reconciled,
        difference=recon.difference,
        pending=recon.pending,
        # not planned, not written (writer error), refused (late_items: refuse): each an open review item
        review=transform_s.not_planned + load_s.not_written + load_s.period_refused,
        empty_batches=transform_s.empty_batches,
        dead_letter=extract_s.parse_rejected + extract_s.duplicate_conflicts,
        # a difference every item of which our tables explain (a decline, a void, an open review) needs no one
        unexplained=unexplained_batches(
            ctx.landing.read_json(RECONCILIATION_FILE) if ctx.landing.exists(RECONCILIATION_FILE) else []
        ),
        needs_person="",
    )
    summary = dataclasses.replace(summary, needs_person=attention_text(summary.to_json()))
    data = summary.to_json()
    needs_person = bool(summary.needs_person)
    status = "partial" if needs_person else "success"
    record_run(ctx.sl, ctx.run_id, ctx.cfg.dag_id, window, status, data, try_number=ctx.cfg.try_number)
    ctx.close()
    if needs_person:
        notify(
            ctx.cfg.notify,
            Notification(
                kind="attention",
                title="settlement batches need a look",
                run_id=ctx.run_id,
                window=window.label,
                reason="a batch has an unexplained difference, or review/dead-letter items were left",
                counts={
                    k: data[k] for k in ("unexplained", "difference", "pending", "review", "dead_letter")
                },
            ),
        )
    return ctx.write_summary(summary)


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


def report(ctx: RunContext) -> ReportSummary:
    """The auditor report for the window's merchant day(s): ``<reports dir>/<day>/report.html``
    (``<first day>_<last day>/`` for a window of several days).

    Rebuilt from SL and our tables on every run, so a re-run or backfill replaces it with the same
    content (apart from its generation time). Then up to ``REFRESH_PER_RUN`` reports of other days that a
    later run made out of date are rewritten (:mod:`paytrace_sl.reconcile.report_refresh`).
    """
    from paytrace_sl.reconcile import report_refresh
    from paytrace_sl.reconcile.report import build_report

    window = ctx.window
    out_dir = reports_dir() / report_dir_name(window)
    first, last = _report_days(window)
    engine, mapping, cfg = ctx.engine, ctx.mapping, ctx.cfg
    began = dt.datetime.now(dt.UTC)
    data = build_report(
        engine,
        first,
        last,
        out_dir,
        landing_dir=cfg.landing_dir,
        gx_dir=cfg.gx_dir,
        mapping=mapping,
        refresh_reason=f"settlement run {ctx.run_id}",
    )
    report_refresh.clear(engine, out_dir.name, began)
    refreshed = report_refresh.refresh_stale(
        engine,
        lambda stale: build_report(
            engine,
            stale.first_day,
            stale.last_day,
            reports_dir() / stale.name,
            landing_dir=cfg.landing_dir,
            gx_dir=cfg.gx_dir,
            mapping=mapping,
            refresh_reason=stale.reason,
        ),
        skip=(out_dir.name,),
    )
    ctx.close()
    # The settlement summary travels on (this is the last step of a settlement run).
    return ctx.write_summary(
        ReportSummary(
            report=str(out_dir / "report.html"),
            report_tables=len(data.tables),
            reports_brought_up_to_date=tuple(refreshed),
            settlement=ctx.read_summary_if_any(SettleSummarizeSummary),
        )
    )


# ------------------------------------------------------------------------------------ public steps

settle_extract_step: Step = as_step(settle_extract)
settle_transform_step: Step = as_step(settle_transform)
settle_load_step: Step = as_step(settle_load)
reconcile_step: Step = as_step(reconcile)
settle_summarize_step: Step = as_step(settle_summarize)
report_step: Step = as_step(report)

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
