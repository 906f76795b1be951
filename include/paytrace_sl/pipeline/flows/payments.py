"""The payment steps of one window: extract → validate → transform → load → preflight → summarize.

Each step is ``def step(ctx: RunContext) -> <Step>Summary``: it reads its input from the run's landing
folder (or PayTrace / SL), writes its output there, and returns a *small* summary (safe for XCom and
logs: no card data, no amounts per card). ``<step>_step(cfg, window, run_id)`` is the same step with its
own context (what an Airflow task and ``paytrace-sl sync`` call). Each step can be re-run on its own
(Airflow retry, "clear task", backfill): landing files are overwritten atomically, our bookkeeping rows
are inserted only when absent, and the writer's ledger makes posting to SL exactly-once.
"""

from __future__ import annotations

import array
import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from paytrace_sl.paytrace.records import Transaction, TransactionState
from paytrace_sl.pipeline.bookkeeping import (
    mark_run_started,
    recent_window_counts,
    record_dead_letters,
    record_reviews,
    record_run,
    record_skips,
)
from paytrace_sl.pipeline.config import PipelineError
from paytrace_sl.pipeline.context import RunContext, Step, as_step
from paytrace_sl.pipeline.copies import Landed
from paytrace_sl.pipeline.dead_letters import DeadLetter, parse_failure_letter
from paytrace_sl.pipeline.files import (
    LEGACY_PLAN_FILE,
    OUTCOME_FILE,
    PLAN_FILE,
    REJECTS_FILE,
    SL_BATCHES_FILE,
    TX_FILE,
    VALIDATED_FILE,
    WINDOW_FILE,
)
from paytrace_sl.pipeline.fraud_step import fraud_step
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.notify import Notification, attention_needed, notify, notify_declines
from paytrace_sl.pipeline.run_history import attention_text, has_news
from paytrace_sl.pipeline.steps import PAYMENT_STEP_NAMES
from paytrace_sl.pipeline.summaries import (
    ExtractSummary,
    LoadSummary,
    PreflightSummary,
    SummarizeSummary,
    TransformSummary,
    ValidateSummary,
    WriteCounts,
)
from paytrace_sl.pipeline.windows import Window
from paytrace_sl.settings import reports_dir

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------- extract


@dataclasses.dataclass
class _Landed:
    """What :func:`land_transactions` put into the landing file, and the counts the summary needs."""

    copies: Landed
    fetched: int = 0  # raw records fetched
    in_window: int = 0
    outside: int = 0  # created (in our zone) outside the fetch range
    declined: int = 0

    def count(self, t: Transaction, window: Window, fetch: Window, sign: int) -> None:
        self.in_window += sign * window.contains(t.created_at)
        self.outside += sign * (not fetch.contains(t.created_at))
        self.declined += sign * (t.status is TransactionState.DECLINED)


def land_transactions(ctx: RunContext, window: Window, fetch: Window) -> _Landed:
    """Every transaction PayTrace lists for the days of ``fetch`` (regular and declined exports) into the
    landing's transactions file as the answers arrive, parse failures and conflicting copies set aside
    (:class:`~paytrace_sl.pipeline.copies.LandedCopies`: the file, letters and counts
    ``resolve_copies`` gives, without holding the window's records). A record whose ``created.at`` lies
    outside ``fetch`` is kept and processed like any other (the ledger makes a second sight of it
    "already posted"); the extract step counts it. Nothing lands if the fetch fails part-way."""
    from paytrace_sl.paytrace.errors import RecordParseError
    from paytrace_sl.paytrace.parse import DECLINED_FILTER, parse_transaction

    first_day, last_day = fetch.request_dates()
    end_day = last_day + dt.timedelta(days=1)
    tz = fetch.tz
    fetched = 0
    tally = _Landed(Landed(0, [], []))
    client = ctx.client()
    try:
        with ctx.landing.landed_copies(TX_FILE) as copies:
            # A decline may come in both exports; the two normalized copies are identical and collapse.
            for export_filter in (None, DECLINED_FILTER):
                for raw in client.export_transactions_raw(
                    first_day, end_day, transaction_type=export_filter, include_bin=True
                ):
                    fetched += 1
                    try:
                        tx = parse_transaction(raw, tz, export_filter=export_filter)
                    except RecordParseError as exc:
                        copies.add_failure(parse_failure_letter(raw, exc, "paytrace-transaction"))
                        continue
                    if copies.add(tx):
                        tally.count(tx, window, fetch, 1)
            tally.copies = copies.finish()
    finally:
        client.close()
    for removed in tally.copies.removed:  # first copies of conflicting ids, taken out of the file
        tally.count(removed, window, fetch, -1)
    tally.fetched = fetched
    return tally


def extract(ctx: RunContext) -> ExtractSummary:
    """Fetch the window plus its look-back from PayTrace and land it; parse failures → dead letters."""
    window = ctx.window
    mark_run_started(ctx.sl, ctx.cfg, window, ctx.run_id)
    fetch = window.fetch_range(ctx.lookback())
    landed = land_transactions(ctx, window, fetch)
    copies = landed.copies
    letters = [*copies.parse_failures, *copies.conflicts]
    landing = ctx.landing
    landing.write_json(WINDOW_FILE, {"window": window.to_json_dict(), "fetch": fetch.to_json_dict()})
    landing.write_jsonl(REJECTS_FILE, (dict(dl.payload, reason=dl.reason) for dl in letters))
    new_letters = record_dead_letters(ctx.sl, ctx.run_id, letters) if letters else 0
    # listed by PayTrace for the requested days, but created (in our zone) outside the fetch range:
    # counted here and processed like the rest, never dropped (docs/paytrace.md)
    return ctx.write_summary(
        ExtractSummary(
            window=window.label,
            fetched=landed.fetched,
            transactions=copies.written,
            in_window=landed.in_window,
            lookback_only=copies.written - landed.in_window - landed.outside,
            outside_range=landed.outside,
            parse_rejected=len(copies.parse_failures),
            duplicate_conflicts=len(copies.conflicts),
            dead_letters_new=new_letters,
            declined=landed.declined,
        )
    )


def read_transactions(landing: Landing, name: str) -> list[Transaction]:
    return [Transaction.from_json_dict(row) for row in landing.read_jsonl(name)]


# --------------------------------------------------------------------------------------- validate


def validate(ctx: RunContext) -> ValidateSummary:
    """Great Expectations checks from the contract; failing rows → dead letters, table failures raise."""
    import pandas as pd

    from paytrace_sl.pipeline.checks import validate_window
    from paytrace_sl.pipeline.contracts import load_contract

    window, run_id, landing = ctx.window, ctx.run_id, ctx.landing
    extract_summary = ctx.read_summary_if_any(ExtractSummary)
    mapping = ctx.mapping
    contract = load_contract("paytrace_transaction")
    frame = _frame_from_jsonl(landing, TX_FILE, text_as_category=True)
    checked = len(frame)
    if not checked:
        frame = pd.DataFrame([], columns=list(contract.field_names))
    engine = ctx.sl
    history = recent_window_counts(engine, ctx.cfg.dag_id, window, run_id)
    result = validate_window(
        frame,
        contract=contract,
        run_id=run_id,
        gx_root=ctx.cfg.gx_dir,
        window=(window.start, window.end),
        recent_counts=history,
        expected_count=extract_summary.transactions if extract_summary is not None else None,
        anomaly_factor=mapping.checks.row_count_anomaly_factor,
        anomaly_min_history=mapping.checks.row_count_min_history,
        anomaly_floor=mapping.checks.row_count_floor,
    )
    del frame
    result = dataclasses.replace(result, records=None)  # the window's frame is not needed any more
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
    return ctx.write_summary(
        ValidateSummary(
            checked=checked,
            passed=passed,
            dead_lettered=len(failed_rows),
            dead_letters_new=new_letters,
            data_docs=str(result.data_docs_index or ""),
        )
    )


def _frame_from_jsonl(landing: Landing, name: str, *, text_as_category: bool = False) -> pd.DataFrame:
    """A landing file as a DataFrame, built column by column: the values of ``pd.DataFrame(rows)``
    without holding a dict per row next to it (a 1M-row window's dicts alone are gigabytes).

    Each column whose values are all text (or JSON null) is built from a value → code dict and an
    ``array`` of int codes, so each distinct string is held once per column (states, codes, names,
    dates, amounts repeat across a day; a million separate copies of them were most of the step's
    memory); a column of integers (ids, batch numbers) in an ``array`` of int64, never a list of a
    million objects. A column that meets any other value falls back to plain values; the dtypes are
    those ``pd.DataFrame`` infers (integers with nulls: float64).

    ``text_as_category`` (the validate step): text columns stay categoricals — categories in order of
    first appearance, no unused one, nulls as missing codes. Otherwise they are decoded to plain
    values, equal strings sharing one object: the very frame ``pd.DataFrame(rows)`` gives.
    """
    import numpy as np
    import pandas as pd

    keys: tuple[str, ...] | None = None
    indexes: list[dict[str, int] | None] = []  # per text column, value → code (-1: null)
    codes: list[array.array[int]] = []
    ints: list[array.array[int] | None] = []  # per integer column, its values (0 where null)
    nulls: list[list[int]] = []  # per integer column, where it is null
    values: list[list[Any]] = []  # per other column, its values
    for row in landing.read_jsonl(name):
        if keys is None:
            keys = tuple(row)
            indexes = [{} for _ in keys]
            codes = [array.array("i") for _ in keys]
            ints = [None for _ in keys]
            nulls = [[] for _ in keys]
            values = [[] for _ in keys]
        elif tuple(row) != keys:  # rows of differing shape (never written by extract): pandas aligns them
            return pd.DataFrame(list(landing.read_jsonl(name)))
        for i, value in enumerate(row.values()):
            index = indexes[i]
            if index is not None:
                if type(value) is str:
                    code = index.get(value)
                    if code is None:
                        code = index[value] = len(index)
                    codes[i].append(code)
                    continue
                if value is None:
                    codes[i].append(-1)
                    continue
                if type(value) is int and not index:  # nulls so far, now an integer: an integer column
                    nulls[i] = list(range(len(codes[i])))
                    ints[i] = array.array("q", bytes(8 * len(codes[i])))
                else:  # this column's values as pandas would hold them, from here on plainly
                    values[i] = _decoded(index, codes[i])
                indexes[i], codes[i] = None, array.array("i")
            numbers = ints[i]
            if numbers is not None:
                if type(value) is int and -(2**63) <= value < 2**63:
                    numbers.append(value)
                    continue
                if value is None:
                    nulls[i].append(len(numbers))
                    numbers.append(0)
                    continue
                plain: list[Any] = numbers.tolist()  # any other value: plain values from here on
                for at in nulls[i]:
                    plain[at] = None
                values[i], ints[i], nulls[i] = plain, None, []
            values[i].append(value)
    if keys is None:
        return pd.DataFrame()
    columns: dict[str, Any] = {}
    for i, key in enumerate(keys):
        index, numbers = indexes[i], ints[i]
        if numbers is not None:
            column = np.frombuffer(numbers, dtype=np.int64)
            if nulls[i]:
                column = column.astype(np.float64)
                column[nulls[i]] = np.nan
            columns[key] = column.copy() if column.base is numbers else column
            ints[i] = None
        elif index is None:
            columns[key] = values[i]
        elif not index:  # nulls only: an object column of None, as pandas has it
            columns[key] = [None] * len(codes[i])
        elif not text_as_category:
            columns[key] = _decoded(index, codes[i])
            indexes[i], codes[i] = None, array.array("i")
        else:
            categories_index = pd.Index(list(index), dtype=object)
            indexes[i] = None  # the dict's memory goes before the next column's categorical is made
            columns[key] = pd.Categorical.from_codes(
                np.frombuffer(codes[i], dtype=np.int32), categories=categories_index, validate=False
            )
            codes[i] = array.array("i")
    return pd.DataFrame(columns)


def _decoded(index: dict[str, int], codes: array.array[int]) -> list[Any]:
    """A text column's codes as its values (code -1 → None), one object per distinct string."""
    categories: list[Any] = [*index, None]  # code -1 → None
    return [categories[c] for c in codes]


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


def transform(ctx: RunContext) -> TransformSummary:
    """Validated records + SL context + mapping → posting plan (landed) and the per-record outcome."""
    import numpy as np

    from paytrace_sl.fraud.store import held_transactions
    from paytrace_sl.pipeline.fraud_step import HOLD_REASON_CODE
    from paytrace_sl.pipeline.sl_context import load_sl_context
    from paytrace_sl.pipeline.transform import build_plan, records_frame
    from paytrace_sl.review.overrides import with_overrides

    landing = ctx.landing
    # The records column-wise (no Transaction per row): the plan, the SL look-ups and the outcome need a
    # few fields of each record; a 1M-row window's objects were most of this step's memory.
    frame = records_frame(landing.read_jsonl(VALIDATED_FILE), compact=True)
    mapping = ctx.mapping
    ids = frame["transaction_id"].to_numpy(dtype="int64") if len(frame) else np.empty(0, dtype="int64")
    # fraud alerts the mapping holds: review, not posted (the items fraud_step.fraud_holds makes)
    held_text = held_transactions(ctx.sl, ids)
    held: dict[int, dict[str, Any]] = {}
    if held_text:
        held_rows = frame[frame["transaction_id"].isin(list(held_text))]
        held_state = dict(
            zip(held_rows["transaction_id"].tolist(), held_rows["status"].tolist(), strict=True)
        )
        held = {
            tid: {
                "transaction_id": tid,
                "reason_code": HOLD_REASON_CODE,
                "reason": text,
                "paytrace_state": held_state[tid],
            }
            for tid, text in sorted(held_text.items())
        }
        frame = frame[~frame["transaction_id"].isin(list(held))].reset_index(drop=True)
        ids = frame["transaction_id"].to_numpy(dtype="int64")
    with ctx.sl.connect() as conn:
        sl = load_sl_context(
            conn,
            transaction_ids=ids,
            customer_ids=frame["customer_id"].tolist() if len(frame) else [],
            invoice_ids=frame["invoice_id"].tolist() if len(frame) else [],
            mapping=mapping,
            open_invoices=False,  # build_plan reads who owns an invoice, never its open balance
        )
        sl = with_overrides(conn, sl, landing)  # review resolve: a person's customer/invoice
    del ids
    # build_plan gets the only reference to the frame (released once normalized): the few skipped and
    # review records' states and payer details are read again from the landing file afterwards
    frames = [frame]
    del frame
    result = build_plan(frames.pop(), sl, mapping, window=ctx.window)
    del sl  # read by build_plan only
    # the plan first (built and written one batch at a time), then its columns go before the outcome
    # file's lists are made: the step's peak holds one of the two, not both
    landing.write_plan_lines(PLAN_FILE, result.batches)
    if landing.exists(LEGACY_PLAN_FILE):  # a plan of this run from before the line format: superseded
        landing.path(LEGACY_PLAN_FILE).unlink(missing_ok=True)
    planned_documents, planned_batches = result.batches.item_count, result.batches.batch_count
    result.drop_plan()
    wanted = {*result.skipped, *result.review}
    facts = records_frame(r for r in landing.read_jsonl(VALIDATED_FILE) if int(r["transaction_id"]) in wanted)
    outcome = outcome_lists(result, *_frame_facts(facts, result))
    del facts
    outcome["review"].extend(held.values())
    landing.write_json(OUTCOME_FILE, outcome)
    return ctx.write_summary(
        TransformSummary(
            records=result.records,
            planned_documents=planned_documents,
            planned_batches=planned_batches,
            posted=len(outcome["posted_ids"]),
            already_posted=len(outcome["already_posted"]),
            skipped=result.skipped_by_reason(),
            review=len(outcome["review"]),
            fraud_held=len(held),
        )
    )


def _frame_facts(frame: pd.DataFrame, result: Any) -> tuple[dict[int, str], dict[int, dict[str, Any]]]:
    """PayTrace state of the skipped and review ids, and the review ids' payer details, from the records
    frame (``transaction_outcome`` takes them from ``Transaction`` objects; the same values)."""
    wanted = {*result.skipped, *result.review}
    if not wanted:
        return {}, {}
    rows = frame[frame["transaction_id"].isin(list(wanted))]
    tids = rows["transaction_id"].tolist()
    state = dict(zip(tids, rows["status"].tolist(), strict=True))
    review = rows[rows["transaction_id"].isin(list(result.review))]
    details = {
        int(tid): {  # paytrace_sl.review.store.payer_details of the same record
            "amount": amount,
            "transaction_type": ttype,
            "created_at": created,
            "customer_id": customer,
            "invoice_id": invoice,
            "billing_name": name,
        }
        for tid, amount, ttype, created, customer, invoice, name in zip(
            *(
                review[c].tolist()
                for c in (
                    "transaction_id",
                    "amount",
                    "transaction_type",
                    "created_at",
                    "customer_id",
                    "invoice_id",
                    "billing_name",
                )
            ),
            strict=True,
        )
    }
    return state, details


def transform_outcome(result: Any, transactions: Sequence[Transaction]) -> dict[str, Any]:
    """The transform result as JSON lists for the load and summary steps (ids, codes, texts; no card data)."""
    from paytrace_sl.review.store import payer_details

    wanted = {*result.skipped, *result.review}
    state = {t.transaction_id: t.status.value for t in transactions if t.transaction_id in wanted}
    details = {t.transaction_id: payer_details(t) for t in transactions if t.transaction_id in result.review}
    return outcome_lists(result, state, details)


def outcome_lists(
    result: Any, state: Mapping[int, str], details: Mapping[int, dict[str, Any]]
) -> dict[str, Any]:
    """The outcome file's lists from a transform result, the skipped and review ids' PayTrace state and
    the review ids' payer details (PCI-safe facts: the workbench's queue and hints)."""

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

    return {
        "posted_ids": list(result.posted_ids),
        "already_posted": sorted(int(t) for t in result.already_posted),
        "skipped": reasons(result.skipped),
        "review": [dict(r, details=details[r["transaction_id"]]) for r in reasons(result.review)],
    }


# ------------------------------------------------------------------------------------------- load


def sl_writer(ctx: RunContext) -> Any:
    """The SL writer on the context's engine (own tables installed), for this run."""
    from paytrace_sl.sl.writer import SLWriter

    cfg = ctx.cfg
    late_items = ctx.mapping.late_items  # a broken mapping fails before the database is touched
    return SLWriter(
        ctx.sl,
        user=cfg.sl_user,
        program=cfg.program,
        run_id=ctx.run_id,
        time_zone=cfg.timezone,
        late_items=late_items,
        pending_cache=ctx.mapping.sl_pending_cache,
    )


def load(ctx: RunContext) -> LoadSummary:
    """Write the plan through the SL writer (exactly-once by ledger); record skips, reviews, declines."""
    cfg, run_id, landing = ctx.cfg, ctx.run_id, ctx.landing
    # A plan landed before the line format (a run stopped across an upgrade) is plan.json: read it whole.
    plan = landing.read_plan(PLAN_FILE if landing.exists(PLAN_FILE) else LEGACY_PLAN_FILE)
    outcome = landing.read_json(OUTCOME_FILE)
    result = write_plan_batches(sl_writer(ctx), plan)
    counts, batches = write_counts(result)
    skips_new = record_skips(ctx.sl, run_id, outcome["skipped"])
    reviews_new = record_reviews(ctx.sl, run_id, outcome["review"])
    ctx.close()  # as before: the database is not held while the decline webhook is called
    declines = [s for s in outcome["skipped"] if s.get("paytrace_state") == TransactionState.DECLINED.value]
    declines_sent = 0
    if declines and cfg.notify.decline_webhook_url:
        tx_by_id = {t.transaction_id: t for t in read_transactions(landing, VALIDATED_FILE)}
        declines_sent = notify_declines(
            cfg.notify,
            run_id,
            [
                _decline_item(tx_by_id[int(d["transaction_id"])])
                for d in declines
                if int(d["transaction_id"]) in tx_by_id
            ],
        )
    landing.write_json(SL_BATCHES_FILE, batches)
    return ctx.write_summary(
        LoadSummary(
            **counts.to_json(), skips_new=skips_new, reviews_new=reviews_new, declines_notified=declines_sent
        )
    )


def write_plan_batches(writer: Any, plan: Any) -> Any:
    """The landed plan through ``writer.write_batches``, one batch at a time (the whole plan is never in
    memory), without per-item outcomes (nothing after the load step reads them). The invoice numbers the
    plan applies to come first, from a cheap pass over the file: they bound the writer's pending cache."""
    refs = plan.application_refs() if getattr(writer, "pending_cache", False) else None
    return writer.write_batches(plan.cpny_ids, plan.batches(), keep_outcomes=False, refs=refs)


def _decline_item(tx: Transaction) -> dict[str, Any]:
    return {
        "transaction_id": tx.transaction_id,
        "amount": str(tx.amount),
        "created_at": tx.created_at.isoformat(),
        "customer_id": tx.customer_id,
        "invoice_id": tx.invoice_id,
        "status_message": tx.status_message,
    }


def write_counts(result: Any) -> tuple[WriteCounts, list[dict[str, Any]]]:
    """The writer's WriteResult → counts, and the list of SL batches written (the writer records its
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
    counts = WriteCounts(
        posted=int(result.posted),
        already_posted=int(result.already_posted),
        removed=int(result.removed),
        writer_review=int(result.review_items),
        writer_conflicts=int(result.conflicts),
        period_refused=sum(int(b.refused) for b in result.batches),
        period_refused_new=sum(int(b.refused_new) for b in result.batches),
        moved_to_current_period=sum(int(b.posted) for b in result.batches if b.late_from),
        sl_batches=len(batches),
    )
    return counts, batches


# -------------------------------------------------------------------------------------- preflight


def preflight(ctx: RunContext) -> PreflightSummary:
    """Re-check the SL batches this run wrote the way SL's release would; any finding fails the run.

    The writer already ran the same checks before committing each batch; this step repeats them after
    the commit so a batch changed in between (by a person or another program) is caught, and so the
    check is visible as its own task in Airflow.
    """
    from paytrace_sl.sl.preflight import run_preflight

    landing = ctx.landing
    batches = landing.read_json(SL_BATCHES_FILE) if landing.exists(SL_BATCHES_FILE) else []
    findings: list[Any] = []
    with ctx.engine.connect() as conn:
        for b in batches:
            if b.get("bat_nbr"):
                findings.extend(run_preflight(conn, module=b["module"], bat_nbr=b["bat_nbr"]))
    summary = ctx.write_summary(PreflightSummary(batches_checked=len(batches), findings=len(findings)))
    if findings:
        first = "; ".join(str(f) for f in findings[:3])
        raise PipelineError(
            f"preflight found {len(findings)} problem(s) in SL batches of run {ctx.run_id}: {first}"
        )
    return summary


# -------------------------------------------------------------------------------------- summarize


def summarize(ctx: RunContext) -> SummarizeSummary:
    """Row accounting for the window, the run's row in ``xPTRun``, and a notification if needed.

    extracted (parsed + unparseable) = posted + already posted + skipped + review + dead-lettered, or the
    run fails loudly (:class:`~paytrace_sl.pipeline.accounting.RowAccountingError`).
    """
    from paytrace_sl.pipeline.accounting import RowAccount

    window, run_id, landing = ctx.window, ctx.run_id, ctx.landing
    extract_s = ctx.read_summary(ExtractSummary)
    validate_s = ctx.read_summary(ValidateSummary)
    load_s = ctx.read_summary(LoadSummary)
    outcome = landing.read_json(OUTCOME_FILE)
    skipped_by_reason = dict(Counter(s["reason_code"] for s in outcome["skipped"]))
    # The plan says what was new when it was made; another run (an overlapping backfill) may have
    # posted some of it first. The writer counted those as already posted: move them over, so the
    # run log says what this run actually wrote.
    planned_posted = len(outcome["posted_ids"])
    raced = min(planned_posted, load_s.already_posted)
    # Planned, but the id's one posting was made under another type by a concurrent run: the writer
    # raised a review item instead of posting (posted_copies).
    conflicts = min(planned_posted - raced, load_s.writer_conflicts)
    # Planned but refused by the writer (late_items: refuse): in review, not posted.
    refused = load_s.period_refused
    # Set aside at extract: records that could not be parsed, and ids PayTrace returned with different
    # content (one dead letter per id, none of its copies processed).
    set_aside = extract_s.parse_rejected + extract_s.duplicate_conflicts
    account = RowAccount(
        extracted=extract_s.transactions + set_aside,
        posted=planned_posted - raced - conflicts - refused,
        already_posted=len(outcome["already_posted"]) + raced,
        skipped_by_reason=skipped_by_reason,
        review=len(outcome["review"]) + conflicts + refused,
        dead_lettered=set_aside + validate_s.dead_lettered,
    )
    account.check()
    summary = SummarizeSummary(
        window=window.label,
        transactions=account.extracted,
        in_window=extract_s.in_window,
        outside_range=extract_s.outside_range,  # listed, stamped outside: processed
        checked=validate_s.checked,
        posted=account.posted,
        already_posted=account.already_posted,
        skipped=account.skipped,
        skipped_by_reason=dict(sorted(skipped_by_reason.items())),
        review=account.review + load_s.writer_review,
        # of which posted to SL with a note (the writer's review items); the rest wait unposted
        posted_with_note=load_s.writer_review,
        dead_letter=account.dead_lettered,
        sl_batches=load_s.sl_batches,
        sl_documents_new=load_s.posted,
        moved_to_current_period=load_s.moved_to_current_period,
        declines_notified=load_s.declines_notified,
        # New items only: with an hourly schedule and a 3-day look-back the same open item is seen ~72 times.
        review_new=load_s.reviews_new
        + load_s.writer_review
        + load_s.writer_conflicts
        + load_s.period_refused_new,
        dead_letter_new=extract_s.dead_letters_new + validate_s.dead_letters_new,
        needs_person="",
    )
    # The Airflow run note (paytrace_sl_airflow.run_notes): what waits for a person, "" when nothing does.
    summary = dataclasses.replace(summary, needs_person=attention_text(summary.to_json()))
    data = summary.to_json()
    status = "partial" if attention_needed(data) else "success"
    record_run(ctx.sl, run_id, ctx.cfg.dag_id, window, status, data, try_number=ctx.cfg.try_number)
    _mark_stale_reports(ctx.sl, landing, run_id, data, outcome)
    ctx.close()
    if has_news(data):  # new review items or dead letters, not the same open ones seen again
        notify(
            ctx.cfg.notify,
            Notification(
                kind="attention",
                title="new items wait for a person",
                run_id=run_id,
                window=window.label,
                reason="the run opened review and/or dead-letter items (xPTReview, xPTDeadLetter)",
                counts={k: data[k] for k in ("review_new", "dead_letter_new", "review", "dead_letter")},
            ),
        )
    return ctx.write_summary(summary)


def _mark_stale_reports(
    engine: sa.Engine, landing: Landing, run_id: str, summary: Mapping[str, Any], outcome: Mapping[str, Any]
) -> None:
    """Reports of days this run changed (look-back, replay) are out of date: mark them for a rewrite."""
    from paytrace_sl.reconcile.report_refresh import mark_after_payments_run

    fetch_json = (landing.read_json(WINDOW_FILE) or {}) if landing.exists(WINDOW_FILE) else {}
    fetch = fetch_json.get("fetch") or fetch_json.get("window")
    if not fetch:
        return
    fetch_window = Window.from_json_dict(fetch)
    mark_after_payments_run(
        engine,
        reports_dir(),
        run_id=run_id,
        fetch_days=[dt.date(d.start.year, d.start.month, d.start.day) for d in fetch_window.days()],
        summary=summary,
        outcome=outcome,
        landing_rows=lambda: landing.read_jsonl(TX_FILE),
    )


# ------------------------------------------------------------------------------------ public steps

extract_step: Step = as_step(extract)
validate_step: Step = as_step(validate)
transform_step: Step = as_step(transform)
load_step: Step = as_step(load)
preflight_step: Step = as_step(preflight)
summarize_step: Step = as_step(summarize)

# Names and order from paytrace_sl.pipeline.steps (what the DAG files build their task chains from).
PAYMENT_STEPS: tuple[tuple[str, Step], ...] = tuple(
    zip(
        PAYMENT_STEP_NAMES,
        (extract_step, validate_step, fraud_step, transform_step, load_step, preflight_step, summarize_step),
        strict=True,
    )
)
