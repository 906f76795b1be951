"""Re-processing after a fix (``paytrace_sl_replay``, ``paytrace-sl replay``): named dead letters
(re-fetched from PayTrace by id) or whole merchant days, through the payment steps.

The writer's ledger makes this safe to repeat: what was posted stays posted once. Dead letters whose
transaction now passes the checks are closed (``replayed_at``/``replay_run_id``), and so are open review
items whose document this replay posted (``resolved_by`` = the replay run id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from paytrace_sl.paytrace.records import TransactionState
from paytrace_sl.pipeline.bookkeeping import (
    mark_replayed,
    mark_run_started,
    open_dead_letters,
    record_dead_letters,
)
from paytrace_sl.pipeline.config import REPLAY_DAG_ID, PipelineConfig, PipelineError, with_dag
from paytrace_sl.pipeline.context import RunContext
from paytrace_sl.pipeline.copies import Copies, resolve_copies
from paytrace_sl.pipeline.dead_letters import parse_failure_letter
from paytrace_sl.pipeline.files import REJECTS_FILE, TX_FILE, VALIDATED_FILE, WINDOW_FILE
from paytrace_sl.pipeline.flows.payments import PAYMENT_STEPS
from paytrace_sl.pipeline.flows.run import OnStep, run_steps
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.summaries import ExtractSummary, ReplaySummary, SummarizeSummary
from paytrace_sl.pipeline.windows import Window
from paytrace_sl.settings import ConfigurationError
from paytrace_sl.sl.own_tables import utcnow


class NothingToReplay(PipelineError):
    """Every dead letter named is already closed: the message says when and by which run."""


def closed_letters_text(letters: Sequence[Mapping[str, Any]]) -> str:
    """``dead letter 7 is closed: replayed at … by run …`` for each closed letter (ids, times, run ids)."""
    return "; ".join(
        f"dead letter {r['id']} is closed: replayed at {r['replayed_at'].isoformat(timespec='seconds')} "
        f"by run {r['replay_run_id'] or '(unknown)'}"
        for r in letters
    )


@dataclass
class _Letters:
    """What replaying named dead letters found: the summary of the payment steps (None when nothing was
    replayable), transaction ids that passed, letters without a transaction, letters already closed."""

    summary: SummarizeSummary | None = None
    passed: list[int] = field(default_factory=list)
    not_replayable: list[int] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)


def _passed_ids(cfg: PipelineConfig, run_id: str) -> list[int]:
    return [int(r["transaction_id"]) for r in Landing(cfg.landing_dir, run_id).read_jsonl(VALIDATED_FILE)]


def replay(
    cfg: PipelineConfig,
    run_id: str,
    *,
    dead_letter_ids: Sequence[int] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    on_step: OnStep | None = None,
) -> dict[str, Any]:
    """Re-process after a fix: named dead letters (re-fetched by id) or merchant days [start, end).

    Returns :class:`~paytrace_sl.pipeline.summaries.ReplaySummary` as JSON (the replay DAG's XCom).
    """
    from paytrace_sl.pipeline.review_close import close_reviews_posted_by
    from paytrace_sl.pipeline.windows import day_windows

    cfg = with_dag(cfg, REPLAY_DAG_ID)
    began = utcnow()
    summaries: list[SummarizeSummary] = []
    passed_ids: list[int] = []
    letters = _Letters()
    if dead_letter_ids:
        letters = _replay_dead_letters(cfg, run_id, dead_letter_ids, on_step)
        if letters.summary is not None:
            summaries.append(letters.summary)
        passed_ids.extend(letters.passed)
    if start is not None or end is not None:
        if start is None or end is None:
            raise ConfigurationError("a replay date range needs both start and end")
        for day in day_windows(start, end, cfg.timezone):
            day_run = f"{run_id}__{day.start.date().isoformat()}"
            summaries.append(SummarizeSummary.from_json(run_steps(cfg, PAYMENT_STEPS, day, day_run, on_step)))
            passed_ids.extend(_passed_ids(cfg, day_run))
    if not summaries and not letters.not_replayable:
        if letters.closed:
            raise NothingToReplay(f"nothing to replay: {closed_letters_text(letters.closed)}")
        raise ConfigurationError("nothing to replay: give dead-letter ids or a start and end date")
    with RunContext(cfg, None, run_id) as ctx:
        closed_now = mark_replayed(ctx.engine, run_id, passed_ids, began)
        reviews_closed = close_reviews_posted_by(ctx.engine, run_id, began)
    return ReplaySummary(
        transactions=sum(s.transactions for s in summaries),
        posted=sum(s.posted for s in summaries),
        already_posted=sum(s.already_posted for s in summaries),
        skipped=sum(s.skipped for s in summaries),
        review=sum(s.review for s in summaries),
        dead_letter=sum(s.dead_letter for s in summaries),
        windows=len(summaries),
        dead_letters_closed=closed_now,
        reviews_closed=reviews_closed,
        not_replayable=tuple(letters.not_replayable),
        already_closed=tuple(int(r["id"]) for r in letters.closed),
    ).to_json()


def _replay_dead_letters(
    cfg: PipelineConfig, run_id: str, ids: Sequence[int], on_step: OnStep | None
) -> _Letters:
    """Re-fetch the transactions of dead letters ``ids`` by id, land them as this run's extract, and run
    the other payment steps on them."""
    from paytrace_sl.paytrace.client import EXPORT_BY_ID
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import parse_transaction

    with RunContext(cfg, None, run_id) as ctx:
        letters = open_dead_letters(ctx.sl, ids)
        unknown = sorted(set(ids) - {int(r["id"]) for r in letters})
        if unknown:
            raise ConfigurationError(f"dead-letter id(s) {unknown} not found in xPTDeadLetter")
        replayable = [r for r in letters if r["transaction_id"] is not None and r["replayed_at"] is None]
        found = _Letters(
            not_replayable=[int(r["id"]) for r in letters if r["transaction_id"] is None],
            closed=sorted(
                (r for r in letters if r["transaction_id"] is not None and r["replayed_at"] is not None),
                key=lambda r: int(r["id"]),
            ),
        )
        if not replayable:
            return found
        mark_run_started(ctx.sl, cfg, None, run_id)  # the window is known once the records are fetched
        copies = Copies()
        client = ctx.client()
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
        tz = cfg.paytrace.tz
        if transactions:
            first = min(t.created_at for t in transactions).astimezone(tz)
            last = max(t.created_at for t in transactions).astimezone(tz)
            window = Window(first, last + dt.timedelta(seconds=1), cfg.timezone)
        else:
            now = utcnow()
            window = Window(now - dt.timedelta(seconds=1), now, cfg.timezone)
        landing = ctx.landing
        landing.write_json(WINDOW_FILE, {"window": window.to_json_dict(), "dead_letter_ids": list(ids)})
        landing.write_jsonl(TX_FILE, (t.to_json_dict() for t in transactions))
        landing.write_jsonl(REJECTS_FILE, (dict(d.payload, reason=d.reason) for d in still_bad))
        # the dead letters this replay opened count as new (summarize: dead_letter_new, xPTRun, notify)
        new_letters = record_dead_letters(ctx.sl, run_id, still_bad) if still_bad else 0
        ctx.write_summary(
            ExtractSummary(
                window=window.label,
                fetched=len(transactions) + len(still_bad),
                transactions=len(transactions),
                in_window=len(transactions),  # the window spans the records fetched
                lookback_only=0,
                outside_range=0,
                parse_rejected=len(resolved.parse_failures),
                duplicate_conflicts=len(resolved.conflicts),
                dead_letters_new=new_letters,
                declined=sum(1 for t in transactions if t.status is TransactionState.DECLINED),
            )
        )
    summary = run_steps(cfg, PAYMENT_STEPS[1:], window, run_id, on_step)
    found.summary = SummarizeSummary.from_json(summary)
    found.passed = _passed_ids(cfg, run_id)
    return found
