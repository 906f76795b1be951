"""PayTrace transactions → SL posting plan (vectorized pandas, no I/O).

Every input row ends in exactly one bucket: planned (posted), already posted, skipped (with a reason
code) or review (with a reason code) — see :mod:`paytrace_sl.pipeline.accounting` and docs/mapping.md
for the rules. Money is handled as integer cents inside the frame and as ``Decimal`` in the plan.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import numpy as np
import pandas as pd

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.paytrace.records import Transaction, TransactionState
from paytrace_sl.pipeline.accounting import RowAccount
from paytrace_sl.pipeline.cards import brand_from_masked
from paytrace_sl.pipeline.mapping import UNIDENTIFIED_WALK_INS, Mapping
from paytrace_sl.pipeline.posted_copies import REASON_CODE as REASON_CODE_CHANGED
from paytrace_sl.pipeline.posted_copies import changed_copies, customer_digest
from paytrace_sl.pipeline.sl_context import SLContext
from paytrace_sl.plan import (
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
    PostingKind,
    PostingPlan,
)

__all__ = ["Reason", "TransformError", "TransformResult", "build_plan", "plan_rows", "records_frame"]

EXT_REF_LEN = 15  # ARDoc.ExtRefNbr char(15)
REVIEW_NOTE_LEN = 200  # contract sl_posting_plan: review_reason max_length

POSTED, ALREADY, SKIPPED, REVIEW = "posted", "already_posted", "skipped", "review"

# reason codes → default explanation (the text may add specifics)
SKIP_REASONS = {
    "declined": "declined by the card issuer; never posted",
    "awaiting_capture": "authorization only; the CAPTURE transaction is the payment",
    "void_record": "a VOID record; the voided transaction's own state drives the void",
    "type_ignored": "transaction type is mapped to 'ignore' (or not mapped) in mapping.yaml",
    "voided_before_posting": "voided in PayTrace before it was ever posted to SL",
    "zero_amount": "amount is 0.00; nothing to post",
}
REVIEW_REASONS = {
    "unknown_customer": "no SL customer found (exact id, cross-reference or invoice)",
    REASON_CODE_CHANGED: "a transaction id posted before came back with another type, amount or customer",
}


class TransformError(PaytraceSlError, ValueError):
    """The input cannot be transformed at all (bad configuration, duplicate ids, malformed amounts)."""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a transaction was skipped or sent to review: a stable code and a readable text."""

    code: str
    text: str
    transaction_id: int | None = None

    @property
    def reason_code(self) -> str:
        return self.code

    @property
    def reason(self) -> str:
        return self.text


class WindowBounds(Protocol):
    """Anything with zone-aware ``start``/``end`` (e.g. :class:`paytrace_sl.pipeline.windows.Window`)."""

    @property
    def start(self) -> dt.datetime: ...

    @property
    def end(self) -> dt.datetime: ...


class TransformResult:
    """What one window's transform decided.

    ``plan`` and ``outcomes`` are built when first read: the transform step writes the plan batch by batch
    (:attr:`batches`, one batch's items alive at a time) and reads only the outcome counts and posted ids,
    so at 1M records neither the whole plan's objects nor a per-row outcome frame is ever held.
    """

    __slots__ = (
        "_dropped",
        "_outcome_builder",
        "_outcomes",
        "_plan",
        "already_posted",
        "batches",
        "posted_ids",
        "records",
        "review",
        "skipped",
    )

    def __init__(
        self,
        plan: PostingPlan | PlanBatches,
        already_posted: tuple[int, ...],
        skipped: dict[int, Reason],
        review: dict[int, Reason],
        outcomes: pd.DataFrame | Callable[[], pd.DataFrame],
        *,
        posted_ids: Sequence[int] | None = None,
        records: int | None = None,
    ) -> None:
        self._dropped = False
        self.batches: PostingPlan | PlanBatches = plan  # what Landing.write_plan_lines takes
        self._plan = plan if isinstance(plan, PostingPlan) else None
        self._outcomes = outcomes if isinstance(outcomes, pd.DataFrame) else None
        self._outcome_builder = None if isinstance(outcomes, pd.DataFrame) else outcomes
        self.already_posted = already_posted
        self.skipped = skipped
        self.review = review
        if posted_ids is None:
            frame = self.outcomes
            posted_ids = (
                sorted(int(t) for t in frame.loc[frame["outcome"] == POSTED, "transaction_id"])
                if len(frame)
                else []
            )
        self.posted_ids: list[int] = list(posted_ids)  # sorted: the transactions that produced a document
        self.records = len(self.outcomes) if records is None else records

    def drop_plan(self) -> None:
        """Let go of the decided columns once the plan is landed (the step then builds the outcome file from
        the ids and reasons, which stay); :attr:`plan`, :attr:`batches` and :attr:`outcomes` are gone."""
        self._dropped = True
        self.batches, self._plan, self._outcomes, self._outcome_builder = PostingPlan(), None, None, None

    @property
    def plan(self) -> PostingPlan:
        """The whole plan (built once, on first use; the transform step writes :attr:`batches` instead)."""
        if self._dropped:
            raise TransformError("the plan was dropped (drop_plan) after it was landed")
        if self._plan is None:
            assert isinstance(self.batches, PlanBatches)
            self._plan = PostingPlan(batches=tuple(self.batches.iter_batches()))
        return self._plan

    @property
    def outcomes(self) -> pd.DataFrame:
        """One row per input transaction: transaction_id, outcome, reason_code, … (built on first use)."""
        if self._dropped:
            raise TransformError("the outcome columns were dropped (drop_plan) after the plan was landed")
        if self._outcomes is None:
            assert self._outcome_builder is not None
            self._outcomes = self._outcome_builder()
        return self._outcomes

    @property
    def posted(self) -> int:
        """Input rows that produced a planned document (payments, refunds and voids)."""
        return len(self.posted_ids)

    def skipped_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for reason in self.skipped.values():
            counts[reason.code] = counts.get(reason.code, 0) + 1
        return counts

    def row_account(self, *, extracted: int, dead_lettered: int) -> RowAccount:
        """The run's row accounting; ``check()`` proves no row was lost."""
        return RowAccount(
            extracted=extracted,
            posted=self.posted,
            already_posted=len(self.already_posted),
            skipped_by_reason=self.skipped_by_reason(),
            review=len(self.review),
            dead_lettered=dead_lettered,
        )


# ---------------------------------------------------------------------------------------------
# input normalization


# the record fields the transform reads (``_normalize``), in ``Transaction.to_json_dict`` form
_RECORD_COLUMNS = (
    "transaction_id",
    "transaction_type",
    "status",
    "amount",
    "created_at",
    "customer_id",
    "invoice_id",
    "created_through",
    "card_masked",
)


def _frame(transactions: pd.DataFrame | Sequence[Transaction]) -> pd.DataFrame:
    """The input as a frame. Records are read column-wise (only the fields used, no per-row dicts)."""
    if isinstance(transactions, pd.DataFrame):
        return transactions.reset_index(drop=True)
    if not len(transactions):
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "transaction_id": [t.transaction_id for t in transactions],
            "transaction_type": [t.transaction_type for t in transactions],
            "status": [t.status.value for t in transactions],
            "amount": [str(t.amount) for t in transactions],
            "created_at": [t.created_at.isoformat() for t in transactions],
            "customer_id": [t.customer_id for t in transactions],
            "invoice_id": [t.invoice_id for t in transactions],
            "created_through": [t.created_through for t in transactions],
            "card_masked": [t.card_masked for t in transactions],
        },
        columns=list(_RECORD_COLUMNS),
    )


_CREATED_CHUNK = 65_536  # created_at texts parsed to datetimes this many at a time (compact frames)


def records_frame(rows: Iterable[MappingOf[str, Any]], *, compact: bool = False) -> pd.DataFrame:
    """Landing rows (``Transaction.to_json_dict`` form) → the frame :func:`build_plan` reads, column by
    column, with the values ``_frame`` takes from ``Transaction.from_json_dict`` of the same rows — without
    a ``Transaction`` per row (at 1M rows those objects and their copies were most of the transform's memory).
    ``billing_name`` comes along for the review items' payer details; ``build_plan`` ignores it.

    ``compact`` (the transform step's one frame of the whole window): no ``billing_name``, ``created_at``
    as UTC datetimes (parsed a chunk at a time, not a text per row; ``build_plan`` reads the same instants)
    and transaction ids as int64 — about half the memory per row."""
    tids: list[int] = []
    names = _RECORD_COLUMNS[1:] if compact else (*_RECORD_COLUMNS[1:], "billing_name")
    cols: dict[str, list[Any]] = {name: [] for name in names}
    ttype, status, amount = cols["transaction_type"], cols["status"], cols["amount"]
    created: list[str] = []
    created_parts: list[pd.Series] = []
    customer, invoice, channel, masked = (
        cols["customer_id"],
        cols["invoice_id"],
        cols["created_through"],
        cols["card_masked"],
    )
    billing = cols.get("billing_name")
    id_parts: list[np.ndarray] = []
    invoice_parts: list[np.ndarray] = []
    shared: dict[Any, str] = {}  # one object per distinct repeated text (types, states, customers…)
    states: dict[Any, str] = {}
    amounts: dict[Any, str] = {}
    iso = dt.datetime.fromisoformat
    for row in rows:
        tids.append(int(row["transaction_id"]))
        value = row["transaction_type"]
        ttype.append(shared.get(value) or shared.setdefault(value, str(value)))
        value = row["status"]
        state = states.get(value)
        if state is None:
            state = states[value] = TransactionState(value).value
        status.append(state)
        value = row["amount"]
        money = amounts.get(value)
        if money is None:
            money = amounts[value] = str(Decimal(str(value)))
        amount.append(money)
        created.append(iso(row["created_at"]).isoformat())
        value = row.get("customer_id", "")
        customer.append(shared.get(value) or shared.setdefault(value, str(value)))
        invoice.append(str(row.get("invoice_id", "")))
        value = row.get("created_through", "")
        channel.append(shared.get(value) or shared.setdefault(value, str(value)))
        value = row.get("card_masked", "")
        masked.append(shared.get(value) or shared.setdefault(value, str(value)))
        if billing is not None:
            billing.append(str(row.get("billing_name", "")))
        if compact and len(created) >= _CREATED_CHUNK:
            created_parts.append(pd.Series(pd.to_datetime(created, utc=True, format="ISO8601")))
            id_parts.append(np.array(tids, dtype="int64"))
            invoice_parts.append(np.array(invoice, dtype=str))
            created, tids = [], []
            invoice.clear()
    if compact:
        if created:
            created_parts.append(pd.Series(pd.to_datetime(created, utc=True, format="ISO8601")))
            id_parts.append(np.array(tids, dtype="int64"))
            invoice_parts.append(np.array(invoice, dtype=str))
        del created, tids
        # the invoice ids (a distinct text per row) made into strings at the end, side by side, rather than
        # kept as decoded amid each row's freed JSON objects (whose memory they would pin)
        cols["invoice_id"] = np.concatenate(invoice_parts).astype(object).tolist() if invoice_parts else []
        del invoice_parts
        if not id_parts:
            return pd.DataFrame()
        ids = np.concatenate(id_parts)
        del id_parts
        data: dict[str, Any] = {"transaction_id": ids}
        for name in names:
            data[name] = (
                pd.concat(created_parts, ignore_index=True) if name == "created_at" else cols.pop(name)
            )
        del created_parts
        return pd.DataFrame(data)
    if not tids:
        return pd.DataFrame()
    cols["created_at"] = created
    return pd.DataFrame({"transaction_id": tids, **{c: cols[c] for c in names}})


def _cents(value: Any, tid: Any) -> int:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TransformError(f"transaction {tid}: amount {value!r} is not a decimal number") from None
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise TransformError(f"transaction {tid}: amount {value!r} has more than 2 decimal places")
    return int(cents)


def _cents_column(amounts: pd.Series, tids: pd.Series) -> list[int]:
    """``_cents`` per row, computed once per distinct amount (amounts repeat a lot in a window)."""
    memo: dict[Any, int] = {}
    out: list[int] = []
    for value, tid in zip(amounts.tolist(), tids.tolist(), strict=True):
        try:
            cents = memo.get(value)
        except TypeError:  # unhashable: no memo
            cents = None
        if cents is None:
            cents = _cents(value, tid)
            try:
                memo[value] = cents
            except TypeError:
                pass
        out.append(cents)
    return out


def _text_col(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        return pd.Series([""] * len(df), index=df.index, dtype="str")
    return df[name].fillna("").astype("str").str.strip()


def _shared_map(column: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """``fn`` of each value, computed once per distinct value: one shared text object per value (types
    and states repeat), where ``.str.upper()`` made a new string per row."""
    return column.map({value: fn(value) for value in column.unique().tolist()}).astype("str")


def _normalize(raw: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    required = ("transaction_id", "transaction_type", "status", "amount", "created_at")
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise TransformError(f"input lacks columns {missing}")
    df = pd.DataFrame(index=raw.index)
    df["tid"] = pd.to_numeric(raw["transaction_id"], errors="raise").astype("int64")
    dupes = df["tid"][df["tid"].duplicated()]
    if len(dupes):
        raise TransformError(f"duplicate transaction ids in one window: {sorted(set(dupes.tolist()))[:10]}")
    df["ttype"] = _shared_map(_text_col(raw, "transaction_type"), str.upper)
    df["state"] = _shared_map(_text_col(raw, "status"), str.lower)
    df["cents"] = _cents_column(raw["amount"], df["tid"])
    negative = df.loc[df["cents"] < 0, "tid"]
    if len(negative):  # the contract forbids it; a refund is a positive REFUND, never a negative SALE
        raise TransformError(
            f"negative amounts (run the contract checks first): transactions {negative.tolist()[:10]}"
        )
    created = pd.to_datetime(raw["created_at"], utc=True, format="ISO8601")
    local = created.dt.tz_convert(mapping.timezone)
    df["created"] = created
    df["doc_date"] = local.dt.date
    df["customer_id"] = _text_col(raw, "customer_id")
    df["invoice_id"] = _text_col(raw, "invoice_id")
    df["channel"] = _text_col(raw, "created_through")
    masked = _text_col(raw, "card_masked")
    brand_of = {m: brand_from_masked(m) for m in masked.unique()}
    df["brand"] = masked.map(brand_of)
    df["action"] = df["ttype"].map(lambda t: mapping.action_for(t))
    # PayTrace captures in place: a captured AUTHORIZATION keeps its id and type and moves on to
    # pending settlement ("Y") or settled ("GB<n>"). Only "Authorization Only" still waits for its
    # capture; a captured one is the payment (its amount is the captured amount). A voided
    # authorization is treated as a payment too, so that the void rules apply: skipped when it was
    # never posted, a PlannedVoid when a captured one was posted in an earlier window.
    captured = (df["action"] == "await_capture") & df["state"].isin(["pending", "settled", "voided"])
    df.loc[captured, "action"] = "payment"
    df["captured_auth"] = captured
    return df


# SL description label per PayTrace type (an authorization is posted once captured).
_DOC_LABEL = {"SALE": "sale", "CAPTURE": "capture", "AUTHORIZATION": "capture", "FORCE": "force"}

# ---------------------------------------------------------------------------------------------
# rules


def _gl_rule_index(df: pd.DataFrame, mapping: Mapping) -> pd.Series:
    """Index of the first matching clearing-account rule per row (the last rule is the catch-all)."""
    chosen = pd.Series(-1, index=df.index, dtype="int64")
    for index, rule in enumerate(mapping.gl_rules):
        mask = chosen == -1
        if rule.brands:
            mask &= df["brand"].isin(rule.brands)
        if rule.invoice_pattern:
            mask &= df["invoice_id"].str.contains(rule.invoice_pattern, regex=True).fillna(False).astype(bool)
        if rule.channels:
            mask &= df["channel"].isin(rule.channels)
        if rule.merchants and mapping.merchant_id not in rule.merchants:
            mask &= False
        chosen[mask] = index
    return chosen


def _match_customers(df: pd.DataFrame, ctx: SLContext, mapping: Mapping) -> pd.Series:
    """SL CustId per row by the configured strategy order; "" when unmatched."""
    cust = pd.Series("", index=df.index, dtype="str")
    # any invoice, open or closed, released or not, identifies its customer (issue 11 §4): who paid
    # must not depend on whether SL already released or closed the invoice
    owners_of = ctx.invoice_owners

    def invoice_owner(ref: str) -> str:  # looked up per row, not a copy of the window's invoices
        custs = owners_of.get(ref) if ref else None
        return next(iter(custs)) if custs is not None and len(custs) == 1 else ""  # ambiguous: nobody

    for strategy in mapping.customers.strategy:
        todo = cust == ""
        if strategy == "exact":
            found = df["customer_id"].where(df["customer_id"].isin(ctx.customers), "")
        elif strategy == "xref":
            xref = {k: v for k, v in ctx.xref.items() if k}
            found = df["customer_id"].map(xref).astype(object).fillna("").astype("str")
            found = found.where(found.isin(ctx.customers), "")
        else:  # invoice
            found = df["invoice_id"].map(invoice_owner).astype(object).fillna("").astype("str")
        cust = cust.where(~todo, found)
    if ctx.overrides:  # a person chose the customer of this transaction (review resolve): it wins
        chosen = {int(t): c for t, (c, _) in ctx.overrides.items() if c in ctx.customers}
        forced = df["tid"].map(chosen).astype(object).fillna("").astype("str")
        cust = cust.where(forced == "", forced)
    return cust


def _apply_invoice_overrides(out: pd.DataFrame, ctx: SLContext) -> None:
    """The invoice a person chose for a transaction (review resolve) replaces PayTrace's invoice id."""
    chosen = {int(t): ref for t, (_, ref) in ctx.overrides.items() if ref}
    if chosen:
        forced = out["tid"].map(chosen).astype(object).fillna("").astype("str")
        out.loc[forced != "", "invoice_id"] = forced[forced != ""]


def _set(
    frame: pd.DataFrame, mask: pd.Series, outcome: str, code: str, text: str | pd.Series | None = None
) -> None:
    """Give still-undecided rows under ``mask`` their outcome (first rule wins)."""
    mask = mask & (frame["outcome"] == "")
    if mask.any():
        frame.loc[mask, "outcome"] = outcome
        frame.loc[mask, "reason_code"] = code
        frame.loc[mask, "reason_text"] = (
            text[mask]
            if isinstance(text, pd.Series)
            else text
            if text is not None
            else (SKIP_REASONS.get(code) or REVIEW_REASONS.get(code) or code)
        )


def _decide(df: pd.DataFrame, ctx: SLContext, mapping: Mapping) -> pd.DataFrame:
    out = df.copy(deep=False)  # copy-on-write (pandas ≥ 3): the caller's frame never changes
    for col in (
        "outcome",
        "reason_code",
        "reason_text",
        "kind",
        "cust_id",
        "apply_ref",
        "ext_ref",
        "review_note",
    ):
        out[col] = ""
    # ledger facts per row: sets/dicts over the (few) ledger entries, then one vectorised lookup each
    ledger = ctx.ledger
    tids = out["tid"]
    in_ledger = tids.isin([int(t) for t in ledger])
    pay_posted = tids.isin([int(t) for t, e in ledger.items() if e.has("payment", "posted")])
    pay_any = tids.isin([int(t) for t, e in ledger.items() if e.has("payment")])
    refund_any = tids.isin([int(t) for t, e in ledger.items() if e.has("refund")])
    void_any = tids.isin([int(t) for t, e in ledger.items() if e.has("void")])
    # astype(object): an empty ledger maps to float NaN, which pandas 4 will not fill with a string
    ledger_state = tids.map({int(t): e.paytrace_state for t, e in ledger.items()}).astype(object).fillna("")

    is_pay = out["action"] == "payment"
    is_refund = out["action"] == "refund"
    voided = out["state"] == "voided"

    # one id is posted once whatever its type: a copy that differs from what was posted is for a person
    changed_text = changed_copies(out, {int(t): e.posted for t, e in ledger.items() if e.posted is not None})
    _set(out, changed_text != "", REVIEW, REASON_CODE_CHANGED, changed_text)
    _set(out, out["state"] == "declined", SKIPPED, "declined")
    _set(out, out["action"] == "await_capture", SKIPPED, "awaiting_capture")
    _set(out, out["action"] == "void_record", SKIPPED, "void_record")
    _set(out, out["action"] == "ignore", SKIPPED, "type_ignored", None)
    # voids of payments: plan a void only for a payment we posted and have not voided yet
    plan_void = is_pay & voided & pay_posted & ~void_any
    _set(out, plan_void, POSTED, "void", "voided in PayTrace after posting: remove the unreleased payment")
    out.loc[plan_void & (out["reason_code"] == "void"), "kind"] = PostingKind.VOID.value
    _set(out, is_pay & voided & (void_any | pay_any), ALREADY, "state_unchanged", "void already handled")
    # a voided refund we posted: remove its memos from the unreleased batch, like a voided sale (§5)
    refund_posted = tids.isin([int(t) for t, e in ledger.items() if e.has("refund", "posted")])
    plan_refund_void = is_refund & voided & refund_posted & ~void_any
    _set(
        out,
        plan_refund_void,
        POSTED,
        "void",
        "refund voided in PayTrace after posting: remove its memos from the unreleased batch",
    )
    out.loc[plan_refund_void & (out["reason_code"] == "void"), "kind"] = PostingKind.VOID.value
    _set(
        out, is_refund & voided & (void_any | refund_any), ALREADY, "state_unchanged", "void already handled"
    )
    _set(out, voided, SKIPPED, "voided_before_posting")
    # anything we posted before: nothing to do unless the state changed in a way handled above
    changed = in_ledger & (ledger_state != out["state"])
    posted_kind = (is_pay & pay_any) | (is_refund & refund_any)
    _set(out, posted_kind & ~changed, ALREADY, "state_unchanged", "already posted; PayTrace state unchanged")
    _set(
        out,
        posted_kind & changed,
        ALREADY,
        "state_changed_no_action",
        "already posted; state change (e.g. pending → settled) needs no SL document",
    )
    _set(out, out["state"] == "authorized", SKIPPED, "awaiting_capture")
    _set(out, out["cents"] == 0, SKIPPED, "zero_amount")

    # what is left is posted (maybe unapplied with a review note) or goes to review
    todo = (out["outcome"] == "") & (is_pay | is_refund)
    _apply_invoice_overrides(out, ctx)
    cust = _match_customers(out, ctx, mapping)
    out["cust_id"] = cust.where(todo, "")
    unmatched = todo & (cust == "")
    if mapping.customers.unmatched != "review":
        # Payments of unknown payers go to the unidentified-receipts customer; so do their refunds: a DM
        # (Dr A/R of that customer, Cr clearing) that the unidentified receipt pays — never a credit to
        # anyone, and the cash that left the bank is recorded (docs/accounting.md §3).
        to_unident = unmatched & (is_pay | is_refund)
        if mapping.customers.unmatched == UNIDENTIFIED_WALK_INS:  # a known PayTrace customer waits
            to_unident &= out["customer_id"].fillna("").astype(str).str.strip() == ""
        out.loc[to_unident, "cust_id"] = mapping.customers.unidentified_customer_id
        out.loc[to_unident, "review_note"] = (
            "unidentified_customer: PayTrace customer "
            + out.loc[to_unident, "customer_id"].map(lambda c: repr(c) if c else "(none)")
            + " not found in SL"
        )
        unmatched = unmatched & ~to_unident
    texts = (  # only for the unmatched rows (a text per row of the window was this step's peak)
        "PayTrace customer "
        + out.loc[unmatched, "customer_id"].map(lambda c: repr(c) if c else "(none)")
        + " not found in SL (exact id, xPTCustXref, invoice)"
    )
    _review(out, unmatched, "unknown_customer", texts)

    pay_todo = (out["outcome"] == "") & is_pay
    _match_invoices(out, pay_todo, ctx, mapping)
    # A refund reverses an invoice only when it quotes an SL invoice of its customer (the sale paid it);
    # otherwise it returns money the customer paid on account (docs/accounting.md §3).
    refund_todo = (out["outcome"] == "") & is_refund
    refs = out.loc[refund_todo, "invoice_id"]
    reverses = _owns(refs, out.loc[refund_todo, "cust_id"], ctx)
    out.loc[reverses.index[reverses], "apply_ref"] = refs[reverses]
    out.loc[(out["outcome"] == "") & is_pay, "kind"] = PostingKind.PAYMENT.value
    out.loc[(out["outcome"] == "") & is_refund, "kind"] = PostingKind.REFUND.value
    out.loc[(out["outcome"] == "") & (out["kind"] != ""), "reason_code"] = out["kind"]
    out.loc[(out["outcome"] == "") & (out["kind"] != ""), "outcome"] = POSTED
    if (out["outcome"] == "").any():  # pragma: no cover - every branch above must decide
        raise AssertionError(f"undecided rows: {out.loc[out['outcome'] == '', 'tid'].tolist()}")
    return out


def _review(out: pd.DataFrame, mask: pd.Series, code: str, texts: pd.Series) -> None:
    """Undecided rows under ``mask`` go to review; ``texts`` holds their reason (indexed by row)."""
    mask = mask & (out["outcome"] == "")
    rows = mask.index[mask]
    out.loc[rows, "outcome"] = REVIEW
    out.loc[rows, "reason_code"] = code
    out.loc[rows, "reason_text"] = texts.loc[rows]


def _match_invoices(out: pd.DataFrame, todo: pd.Series, ctx: SLContext, mapping: Mapping) -> None:
    """Invoice application or order reference for the payments in ``todo`` (in place).

    The paying customer is known for every row here, so the receipt is always posted (cash that
    reached the bank is always recorded, docs/accounting.md §2). An invoice of that customer gets an
    application of the whole payment; the writer applies what the invoice's open balance (minus
    applications waiting in unreleased batches) allows and leaves the rest unapplied with a review
    item, so the result does not depend on what SL released when. An invoice id that is another
    customer's invoice or order, or nothing SL knows, posts the receipt unapplied with a review note.
    """
    out.loc[todo, "ext_ref"] = out.loc[todo, "invoice_id"].str.slice(0, EXT_REF_LEN)
    has_ref = todo & (out["invoice_id"] != "")
    if not has_ref.any():
        return
    use_invoices = "invoice" in mapping.invoice_match
    use_orders = "order" in mapping.invoice_match
    # texts and keys only for the rows with an invoice id (a column of strings per row of the whole
    # window was this step's peak): masks below are over those rows
    ref, cust = out.loc[has_ref, "invoice_id"], out.loc[has_ref, "cust_id"]
    none = pd.Series(False, index=ref.index)

    owners = ctx.invoice_owners
    own = _owns(ref, cust, ctx) if use_invoices else none
    other = ~own & pd.Series([r in owners for r in ref.tolist()], index=ref.index) if use_invoices else none
    out.loc[own.index[own], "apply_ref"] = ref[own]
    if other.any():
        _add_note(
            out,
            "invoice_other_customer: invoice "
            + ref[other].map(repr)
            + " belongs to "
            + ref[other].map(lambda r: ", ".join(sorted(owners[r])))
            + ", not "
            + cust[other]
            + "; posted unapplied for the paying customer",
        )

    rest = ~own & ~other
    if not rest.any():
        return
    ref, cust = ref[rest], cust[rest]
    pair = ref + "\u241e" + cust  # a printable separator: pandas str drops NUL on concatenation
    own_orders = {f"{o.ord_nbr}\u241e{o.cust_id}": o.ord_nbr for os_ in ctx.orders.values() for o in os_}
    order_nbr = pair.map(own_orders) if use_orders else pd.Series(np.nan, index=ref.index)
    mine = order_nbr.notna()
    _add_note(
        out,
        "order_not_invoiced: PayTrace invoice id "
        + ref[mine].map(repr)
        + " is SL sales order "
        + order_nbr[mine].astype("str")
        + "; posted unapplied, apply it when the order is invoiced",
    )
    foreign = ~mine & ref.isin(set(ctx.orders)) if use_orders else pd.Series(False, index=ref.index)
    if foreign.any():
        order_owner = {k: ", ".join(sorted({o.cust_id for o in v})) for k, v in ctx.orders.items()}
        _add_note(
            out,
            "invoice_other_customer: sales order "
            + ref[foreign].map(repr)
            + " belongs to customer "
            + ref[foreign].map(order_owner).fillna("")
            + ", not "
            + cust[foreign]
            + "; posted unapplied for the paying customer",
        )
    missing = ~mine & ~foreign
    _add_note(
        out,
        "invoice_not_found: invoice id "
        + ref[missing].map(repr)
        + " matches no SL invoice or sales order; posted unapplied",
    )


def _owns(refs: pd.Series, custs: pd.Series, ctx: SLContext) -> pd.Series:
    """Per row: is invoice ``refs`` one of customer ``custs``'s (looked up, no key set of all invoices)."""
    owners = ctx.invoice_owners
    return pd.Series(
        [c in owners.get(r, ()) for r, c in zip(refs.tolist(), custs.tolist(), strict=True)],
        index=refs.index,
        dtype=bool,
    )


def _add_note(out: pd.DataFrame, texts: pd.Series) -> None:
    """Append a review note to the rows of ``texts`` (a row may already carry one, e.g. why its customer
    is unidentified)."""
    if not len(texts):
        return
    before = out.loc[texts.index, "review_note"]
    joined = before.where(before == "", before + "; ") + texts
    out.loc[texts.index, "review_note"] = joined.str.slice(0, REVIEW_NOTE_LEN)


# ---------------------------------------------------------------------------------------------
# plan assembly


@functools.lru_cache(maxsize=1 << 16)
def _money(cents: int) -> Decimal:
    """Cents as a 2-place Decimal; one shared (immutable) object per amount, as amounts repeat."""
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def _group_label(mapping: Mapping, day: dt.date) -> str:
    return f"{day:%Y-%m}" if mapping.batch_grouping == "window" else day.isoformat()


def _split(positions: np.ndarray, tids: np.ndarray, cap: int) -> list[np.ndarray]:
    """One batch's documents (plan positions, ascending) cut into parts of at most ``cap`` (0: no cap).

    Parts are cut in transaction-id order, so they do not depend on the order PayTrace listed the records,
    and the parts are written in that order: when a run stops after writing some of them, the re-run finds
    their documents in the ledger and cuts what is left into the same parts as before. Inside a part the
    documents keep the plan's order (``created_at``, then transaction id). A group within the cap is one
    part, unchanged.
    """
    if cap <= 0 or len(positions) <= cap:
        return [positions]
    by_id = positions[np.argsort(tids[positions], kind="stable")]
    return [np.sort(by_id[start : start + cap]) for start in range(0, len(by_id), cap)]


_KIND_ORDER = {PostingKind.PAYMENT.value: 0, PostingKind.REFUND.value: 1, PostingKind.VOID.value: 2}

# the decided columns the plan's items are made of
_ITEM_COLUMNS = (
    "kind",
    "tid",
    "doc_date",
    "cents",
    "apply_ref",
    "cust_id",
    "ttype",
    "ext_ref",
    "review_note",
    "state",
    "invoice_id",
    "customer_id",
)


@dataclass(frozen=True, slots=True)
class _BatchSpec:
    kind: str
    description: str
    rows: np.ndarray  # the documents' rows in the decided columns, in plan order


class PlanBatches:
    """A window's plan as batches built one at a time from the decided columns (the plan's layout — which
    document goes into which batch — is fixed up front; each batch's items are made only when it is reached,
    so writing the plan never holds more than one batch's objects). Iterating twice gives equal batches."""

    def __init__(
        self,
        table: pd.DataFrame,
        specs: list[_BatchSpec],
        *,
        cpny_id: str,
        mapping: Mapping,
        void_date: dt.date | None,
    ) -> None:
        self._table = table  # the decided columns: _ITEM_COLUMNS and "rule" (the clearing-account rule)
        self._specs = specs
        self._cpny = cpny_id
        self._mapping = mapping
        self._void_date = void_date
        self._digests: dict[str, str] = {}  # one digest per distinct PayTrace customer id
        self.batch_count = len(specs)
        self.item_count = sum(len(s.rows) for s in specs)
        self.cpny_ids: tuple[str, ...] = (cpny_id,) if specs else ()

    def iter_batches(self) -> Iterator[PlannedBatch]:
        for spec in self._specs:
            yield PlannedBatch(
                kind=PostingKind(spec.kind),
                cpny_id=self._cpny,
                items=self._items(spec.rows),
                status=self._mapping.batch_status,
                description=spec.description,
            )

    def _items(self, rows: np.ndarray) -> tuple[PlannedPayment | PlannedRefund | PlannedVoid, ...]:
        part = self._table.iloc[rows]
        mapping, gl_rules, digests = self._mapping, self._mapping.gl_rules, self._digests
        items: list[PlannedPayment | PlannedRefund | PlannedVoid] = []
        for (
            kind,
            tid,
            day,
            cents,
            apply_ref,
            cust_id,
            ttype,
            ext_ref,
            note,
            state,
            inv,
            customer,
            rule,
        ) in zip(*(part[c].tolist() for c in (*_ITEM_COLUMNS, "rule")), strict=True):
            tid = int(tid)
            digest = digests.get(customer)
            if digest is None:
                digest = digests[customer] = customer_digest(customer)
            clearing = gl_rules[int(rule)].clearing
            if kind == PostingKind.PAYMENT.value:
                amount = _money(cents)
                apps = (InvoiceApplication(ref_nbr=apply_ref, amount=amount),) if apply_ref else ()
                items.append(
                    PlannedPayment(
                        transaction_id=tid,
                        cust_id=cust_id,
                        amount=amount,
                        doc_date=day,
                        cash_account=clearing,
                        applications=apps,
                        # ≤ 30 chars (SL's DocDesc/TranDesc) with a 9-digit id: "PayTrace capture 812345678"
                        description=f"PayTrace {_DOC_LABEL.get(ttype, 'payment')} {tid}",
                        ext_ref_nbr=ext_ref,
                        review_reason=note,
                        paytrace_state=state,
                        paytrace_type=ttype,
                        customer_digest=digest,
                    )
                )
            elif kind == PostingKind.REFUND.value:
                items.append(
                    PlannedRefund(
                        transaction_id=tid,
                        cust_id=cust_id,
                        amount=_money(cents),
                        doc_date=day,
                        clearing_account=clearing,
                        refund_account=mapping.refund_account,
                        description=f"PayTrace refund {tid}",
                        ext_ref_nbr=inv[:EXT_REF_LEN],
                        reverses_invoice=apply_ref,
                        review_reason=note,
                        paytrace_state=state,
                        paytrace_type=ttype,
                        customer_digest=digest,
                    )
                )
            else:
                items.append(
                    PlannedVoid(
                        transaction_id=tid,
                        doc_date=self._void_date or day,
                        description=f"PayTrace void of {tid}",
                    )
                )
        return tuple(items)


def _layout(
    kinds: np.ndarray, days: np.ndarray, tids: np.ndarray, mapping: Mapping, void_date: dt.date | None
) -> tuple[list[_BatchSpec], np.ndarray]:
    """Which planned document (given in plan order) goes into which batch, and each one's batch number.

    Batches group documents by kind, company and date (day or month, ``batches.grouping``; a void is dated
    on the window's end), ordered by kind, then label; a group over ``batches.max_documents`` is cut by
    :func:`_split`."""
    specs: list[_BatchSpec] = []
    batch_of = np.full(len(kinds), -1, dtype="int64")
    if not len(kinds):
        return specs, batch_of
    if void_date is not None:
        days = days.copy()
        days[kinds == PostingKind.VOID.value] = void_date
    label_of = {d: _group_label(mapping, d) for d in set(days.tolist())}
    labels = np.array([label_of[d] for d in days.tolist()], dtype=object)
    codes, uniques = pd.factorize(pd.MultiIndex.from_arrays([kinds, labels]))
    order = sorted(range(len(uniques)), key=lambda u: (_KIND_ORDER[uniques[u][0]], uniques[u][1]))
    for u in order:
        kind, label = uniques[u]
        parts = _split(np.flatnonzero(codes == u), tids, mapping.batch_max_documents)
        for number, part in enumerate(parts, start=1):
            batch_of[part] = len(specs)
            # SL's Batch.Descr is char(30): "PT payments 2026-03-02 #123" fits
            description = f"PayTrace {kind}s {label}" if len(parts) == 1 else f"PT {kind}s {label} #{number}"
            specs.append(_BatchSpec(kind, description, part))
    return specs, batch_of


def build_plan(
    transactions: pd.DataFrame | Sequence[Transaction],
    ctx: SLContext,
    mapping: Mapping,
    *,
    window: tuple[dt.datetime, dt.datetime] | WindowBounds | None = None,
) -> TransformResult:
    """Decide what to post for one window. Pure: same input, context and mapping → same plan.

    ``window`` (start, end): a void is dated on the window end's local date (when we learned of it); a
    captured authorization no earlier than the window start's local date (PayTrace keeps the
    authorization's ``created.at``); without a window, on the record's own date.
    """
    raw = _frame(transactions)
    cpny = mapping.company or ctx.cpny_id
    if len(raw) == 0:
        return TransformResult(PostingPlan(), (), {}, {}, _empty_outcomes())
    if not cpny:
        raise TransformError(
            "no SL company: set 'company' in mapping.yaml or fix GLSetup.CpnyId / vs_Company"
        )
    df = _normalize(raw, mapping)
    del raw, transactions  # not read again: a caller that let go of its frame gets the memory back now
    decided = _decide(df, ctx, mapping)
    del df
    rule_index = _gl_rule_index(decided, mapping).to_numpy(dtype="int64")
    window_end = window[1] if isinstance(window, tuple) else (window.end if window is not None else None)
    void_date = window_end.astimezone(mapping.tz).date() if window_end is not None else None
    window_start = window[0] if isinstance(window, tuple) else (window.start if window is not None else None)
    # A captured authorization keeps PayTrace's created.at (the authorization day): it is dated no earlier
    # than the window in which it is first seen captured, as voids are (issue 11 §6).
    capture_floor = window_start.astimezone(mapping.tz).date() if window_start is not None else None
    if capture_floor is not None:
        late = decided["captured_auth"] & (decided["doc_date"] < capture_floor)
        if late.any():
            decided.loc[late, "doc_date"] = capture_floor

    # plan order: created_at, then transaction id (ids are unique, so the order is total)
    tids = decided["tid"].to_numpy(dtype="int64")
    is_posted = (decided["outcome"] == POSTED).to_numpy(dtype=bool)
    posted_at = np.flatnonzero(is_posted)
    created = pd.DatetimeIndex(decided["created"]).asi8[posted_at]
    posted_at = posted_at[np.lexsort((tids[posted_at], created))]
    del created
    specs, plan_batch = _layout(
        decided["kind"].to_numpy(dtype=object)[posted_at],
        decided["doc_date"].to_numpy(dtype=object)[posted_at],
        tids[posted_at],
        mapping,
        void_date,
    )
    batch_of = np.full(len(decided), -1, dtype="int64")
    batch_of[posted_at] = plan_batch
    for spec in specs:  # plan positions → rows of the decided columns
        spec.rows[:] = posted_at[spec.rows]

    # only the columns the plan's items and the outcomes are made of (codes and cents, no per-row
    # objects); the plan's batches and the per-row outcome frame are built from them on demand
    keep = ["tid", "ttype", "state", "outcome", "reason_code", "reason_text", "kind", "cust_id", "cents"]
    keep += ["doc_date", "apply_ref", "review_note", "ext_ref", "invoice_id", "customer_id"]
    compact = decided[keep]
    del decided
    compact["rule"] = rule_index
    plan = PlanBatches(compact, specs, cpny_id=cpny, mapping=mapping, void_date=void_date)

    def outcomes() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "transaction_id": compact["tid"],
                "transaction_type": compact["ttype"],
                "paytrace_state": compact["state"],
                "outcome": compact["outcome"],
                "reason_code": compact["reason_code"],
                "reason_text": compact["reason_text"],
                "kind": compact["kind"],
                "cust_id": compact["cust_id"],
                "amount": [_money(c) for c in compact["cents"]],
                "doc_date": compact["doc_date"],
                "gl_rule": [mapping.gl_rules[int(i)].name for i in rule_index],
                "apply_ref": compact["apply_ref"],
                "review_note": compact["review_note"],
                "batch_index": batch_of.tolist(),
            }
        ).reset_index(drop=True)

    outcome = compact["outcome"]
    return TransformResult(
        plan,
        already_posted=tuple(int(t) for t in compact.loc[outcome == ALREADY, "tid"]),
        skipped={
            int(t): Reason(c, x, int(t))
            for t, c, x in compact.loc[outcome == SKIPPED, ["tid", "reason_code", "reason_text"]].itertuples(
                index=False
            )
        },
        review={
            int(t): Reason(c, x, int(t))
            for t, c, x in compact.loc[outcome == REVIEW, ["tid", "reason_code", "reason_text"]].itertuples(
                index=False
            )
        },
        outcomes=outcomes,
        posted_ids=np.sort(tids[is_posted]).tolist(),
        records=len(compact),
    )


def _empty_outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "transaction_id",
            "transaction_type",
            "paytrace_state",
            "outcome",
            "reason_code",
            "reason_text",
            "kind",
            "cust_id",
            "amount",
            "doc_date",
            "gl_rule",
            "apply_ref",
            "review_note",
            "batch_index",
        ]
    )


def plan_rows(plan: PostingPlan, mapping: Mapping) -> pd.DataFrame:
    """The flat view of a plan checked by contract ``sl_posting_plan``: one row per document item."""
    rows: list[dict[str, Any]] = []
    for index, batch in enumerate(plan.batches):
        for item in batch.items:
            row: dict[str, Any] = {
                "batch_index": index,
                "kind": batch.kind.value,
                "cpny_id": batch.cpny_id,
                "batch_status": batch.status,
                "ledger_key": item.ledger_key,
                "cust_id": "",
                "amount": "0.00",
                "applied_amount": "0.00",
                "applied_ref_nbrs": "",
                "acct": None,
                "sub": None,
                "offset_acct": None,
                "offset_sub": None,
                "ext_ref_nbr": "",
                "review_reason": "",
            }
            if isinstance(item, PlannedPayment):
                applied = sum((a.amount for a in item.applications), Decimal("0.00"))
                row.update(
                    doc_date=item.doc_date.isoformat(),
                    transaction_id=item.transaction_id,
                    doc_type=mapping.sl_doc_types["payment"],
                    cust_id=item.cust_id,
                    amount=str(item.amount),
                    applied_amount=str(applied),
                    applied_ref_nbrs=",".join(a.ref_nbr for a in item.applications),
                    acct=item.cash_account.acct,
                    sub=item.cash_account.sub,
                    ext_ref_nbr=item.ext_ref_nbr,
                    review_reason=item.review_reason,
                )
            elif isinstance(item, PlannedRefund):
                row.update(
                    doc_date=item.doc_date.isoformat(),
                    transaction_id=item.transaction_id,
                    doc_type=mapping.sl_doc_types["refund"] if item.reverses_invoice else "DM",
                    cust_id=item.cust_id,
                    amount=str(item.amount),
                    acct=item.clearing_account.acct,
                    sub=item.clearing_account.sub,
                    offset_acct=item.refund_account.acct,
                    offset_sub=item.refund_account.sub,
                    ext_ref_nbr=item.ext_ref_nbr,
                    applied_ref_nbrs=item.reverses_invoice,
                    review_reason=item.review_reason,
                )
            elif isinstance(item, PlannedVoid):
                row.update(
                    doc_date=item.doc_date.isoformat(), transaction_id=item.transaction_id, doc_type="VOID"
                )
            elif isinstance(item, PlannedSettlement):
                row.update(
                    doc_date=item.settled_date.isoformat(),
                    transaction_id=None,
                    doc_type="GL",
                    amount=str(abs(item.net_amount)),
                    acct=item.bank_account.acct,
                    sub=item.bank_account.sub,
                    offset_acct=item.clearing_account.acct,
                    offset_sub=item.clearing_account.sub,
                )
            rows.append(row)
    columns = [
        "batch_index",
        "kind",
        "cpny_id",
        "batch_status",
        "doc_date",
        "transaction_id",
        "ledger_key",
        "doc_type",
        "cust_id",
        "amount",
        "applied_amount",
        "applied_ref_nbrs",
        "acct",
        "sub",
        "offset_acct",
        "offset_sub",
        "ext_ref_nbr",
        "review_reason",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["transaction_id"] = frame["transaction_id"].astype("Int64")
    return frame
