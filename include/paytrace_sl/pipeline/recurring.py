"""Recurring billing (issue 16 §3): mirror PayTrace's schedules into ``xPTRecurSched``, link each to its SL
customer, record the approved payments in ``xPTRecurPay``, and read upcoming and failed charges back.

Nothing here posts to SL. A recurring charge is an ordinary PayTrace sale: the transaction export lists
it and the normal payment path posts it, once (``xPTLedger``: one posting per transaction id). The
recurrence exports only annotate: which schedule a transaction belongs to, what is due next, what failed.

Customer linking uses the pipeline's customer matching (the strategies ``exact`` and ``xref`` of the
mapping, in the mapping's order, against the same :func:`~paytrace_sl.pipeline.sl_context.load_sl_context`
lookups); a schedule that matches nobody is kept, marked ``unlinked``. A record that fails to parse is a
dead letter (``xPTDeadLetter``, source ``paytrace-recurrence`` / ``paytrace-recurring-payment``) naming
the record and the field; it is stored once, however many refreshes see it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.recurring import (
    RecurringPayment,
    RecurringSchedule,
    parse_recurrence,
    parse_recurring_payment,
)
from paytrace_sl.pipeline.dead_letters import DeadLetter, parse_failure_letter, record_digest
from paytrace_sl.sl import own_tables

log = logging.getLogger(__name__)

SOURCE_SCHEDULE = "paytrace-recurrence"
SOURCE_PAYMENT = "paytrace-recurring-payment"
LINK_STRATEGIES = ("exact", "xref")  # the matching strategies that apply to a schedule (no invoice id)
DEFAULT_HORIZON_DAYS = 14


class RecurrenceSource(Protocol):
    """What the refresh needs from PayTrace (:class:`~paytrace_sl.paytrace.client.PayTraceClient`)."""

    def export_recurrences_raw(self, customer_id: str | None = None) -> list[dict[str, Any]]: ...

    def export_recurring_approved_raw(self, customer_id: str | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class RefreshResult:
    schedules: int
    linked: int
    unlinked: int
    payments_new: int
    payments_known: int
    dead_letters: int
    removed: int

    def to_json_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RecurringCharge:
    """One row of the overview: an upcoming or failed charge of a schedule."""

    recurrence_id: int
    paytrace_customer_id: str
    cust_id: str  # "" when not linked
    amount: Decimal
    frequency: str
    status: str
    next_date: dt.date | None
    last_result_at: dt.datetime | None
    last_message: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "recurrence_id": self.recurrence_id,
            "paytrace_customer_id": self.paytrace_customer_id,
            "cust_id": self.cust_id,
            "amount": str(self.amount),
            "frequency": self.frequency,
            "status": self.status,
            "next_date": self.next_date.isoformat() if self.next_date else None,
            "last_result_at": self.last_result_at.isoformat() if self.last_result_at else None,
            "last_message": self.last_message,
        }


@dataclass(frozen=True, slots=True)
class RecurringOverview:
    today: dt.date
    horizon_days: int
    schedules: int
    active: int
    unlinked: int
    upcoming: tuple[RecurringCharge, ...] = field(default_factory=tuple)
    failed: tuple[RecurringCharge, ...] = field(default_factory=tuple)
    upcoming_total: Decimal = Decimal("0.00")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "horizon_days": self.horizon_days,
            "schedules": self.schedules,
            "active": self.active,
            "unlinked": self.unlinked,
            "upcoming_total": str(self.upcoming_total),
            "upcoming": [c.to_json_dict() for c in self.upcoming],
            "failed": [c.to_json_dict() for c in self.failed],
        }


# ------------------------------------------------------------------------------------------ refresh


def _parse_all(
    raws: Iterable[Any], parse: Any, tz: ZoneInfo, source: str
) -> tuple[list[Any], list[DeadLetter]]:
    good: list[Any] = []
    letters: list[DeadLetter] = []
    for raw in raws:
        try:
            good.append(parse(raw, tz))
        except RecordParseError as exc:
            letters.append(parse_failure_letter(raw, exc, source, record=str(exc.transaction_id)))
    return good, letters


def link_customers(
    conn: sa.Connection, customer_ids: Iterable[str], strategies: Sequence[str] = LINK_STRATEGIES
) -> dict[str, tuple[str, str]]:
    """PayTrace customer id -> (SL CustId, strategy) by the pipeline's exact / xref matching."""
    from paytrace_sl.pipeline.sl_context import load_sl_context

    ids = sorted({c for c in customer_ids if c})
    if not ids:
        return {}
    ctx = load_sl_context(conn, transaction_ids=(), customer_ids=ids, invoice_ids=())
    found: dict[str, tuple[str, str]] = {}
    for cid in ids:
        for strategy in strategies:
            if strategy == "exact" and cid in ctx.customers:
                found[cid] = (cid, "exact")
            elif strategy == "xref" and ctx.xref.get(cid, "") in ctx.customers:
                found[cid] = (ctx.xref[cid], "xref")
            if cid in found:
                break
    return found


def _store_letters(
    conn: sa.Connection, letters: Sequence[DeadLetter], run_id: str | None, now: dt.datetime
) -> int:
    """Insert the dead letters not stored yet (same source and payload); returns how many were new."""
    d = own_tables.xPTDeadLetter
    new = 0
    for letter in letters:
        payload = json.dumps(letter.payload, sort_keys=True, default=str)
        digest = record_digest(f"{letter.source}\0{payload}")
        seen = conn.execute(
            sa.select(sa.func.count())
            .select_from(d)
            .where(d.c.source == letter.source, d.c.payload_hash == digest)
        ).scalar_one()
        if seen:
            continue
        conn.execute(
            sa.insert(d).values(
                transaction_id=letter.transaction_id,
                source=letter.source,
                payload=payload,
                payload_hash=digest,
                reason=letter.reason[:500],
                failed_checks=json.dumps(list(letter.failed_checks)),
                run_id=run_id,
                created_at=now,
                replayed_at=None,
                replay_run_id=None,
            )
        )
        new += 1
    return new


def _schedule_row(
    s: RecurringSchedule, link: tuple[str, str] | None, run_id: str | None, now: dt.datetime
) -> dict[str, Any]:
    return {
        "recurrence_id": s.recurrence_id,
        "paytrace_customer_id": s.customer_id,
        "cust_id": link[0] if link else None,
        "link_source": link[1] if link else "unlinked",
        "amount": s.amount,
        "frequency": s.frequency,
        "status": s.status,
        "start_date": s.start_date,
        "next_date": s.next_date,
        "total_count": s.total_count,
        "current_count": s.current_count,
        "description": s.description,
        "card_masked": s.card_masked,
        "last_txn_id": s.last_transaction_id,
        "last_result_at": s.last_result_at,
        "last_failed": 1 if s.last_failed else 0,
        "last_message": s.last_message,
        "run_id": run_id,
        "refreshed_at": now,
    }


def refresh_recurring(
    source: RecurrenceSource,
    engine: sa.Engine,
    tz: ZoneInfo,
    *,
    customer_id: str | None = None,
    run_id: str | None = None,
    strategies: Sequence[str] = LINK_STRATEGIES,
    now: dt.datetime | None = None,
) -> RefreshResult:
    """Export schedules and approved payments, link customers and store both, in one transaction.

    Without ``customer_id`` the export is the merchant's whole list, so a schedule PayTrace no longer
    lists is removed from the mirror; with it, only that customer's schedules are replaced.
    """
    now = now or own_tables.utcnow()
    schedules, letters = _parse_all(
        source.export_recurrences_raw(customer_id), parse_recurrence, tz, SOURCE_SCHEDULE
    )
    payments, pay_letters = _parse_all(
        source.export_recurring_approved_raw(customer_id), parse_recurring_payment, tz, SOURCE_PAYMENT
    )
    by_id: dict[int, RecurringSchedule] = {}
    for s in schedules:
        by_id[s.recurrence_id] = s  # an exact repeat is harmless; the last copy wins
    sched_t, pay_t = own_tables.xPTRecurSched, own_tables.xPTRecurPay
    with engine.begin() as conn:
        links = link_customers(conn, (s.customer_id for s in by_id.values()), strategies)
        scope = sched_t.c.paytrace_customer_id == customer_id if customer_id else sa.true()
        removed = conn.execute(
            sa.delete(sched_t).where(scope, sched_t.c.recurrence_id.not_in(sorted(by_id) or [-1]))
        ).rowcount
        if by_id:
            conn.execute(sa.delete(sched_t).where(sched_t.c.recurrence_id.in_(sorted(by_id))))
            conn.execute(
                sa.insert(sched_t),
                [_schedule_row(s, links.get(s.customer_id), run_id, now) for s in by_id.values()],
            )
        wanted = {p.transaction_id: p for p in payments}
        known: set[int] = set()
        if wanted:
            known = {
                int(r[0])
                for r in conn.execute(
                    sa.select(pay_t.c.transaction_id).where(pay_t.c.transaction_id.in_(sorted(wanted)))
                )
            }
        fresh = [p for tid, p in wanted.items() if tid not in known]
        if fresh:
            conn.execute(sa.insert(pay_t), [_payment_row(p, run_id, now) for p in fresh])
        new_letters = _store_letters(conn, letters + pay_letters, run_id, now)
    result = RefreshResult(
        schedules=len(by_id),
        linked=sum(1 for s in by_id.values() if s.customer_id in links),
        unlinked=sum(1 for s in by_id.values() if s.customer_id not in links),
        payments_new=len(fresh),
        payments_known=len(known),
        dead_letters=new_letters,
        removed=max(0, int(removed or 0)),
    )
    log.info("recurring refresh: %s", result.to_json_dict())
    return result


def _payment_row(p: RecurringPayment, run_id: str | None, now: dt.datetime) -> dict[str, Any]:
    return {
        "transaction_id": p.transaction_id,
        "recurrence_id": p.recurrence_id,
        "paytrace_customer_id": p.customer_id,
        "amount": p.amount,
        "created_at": p.created_at,
        "run_id": run_id,
        "refreshed_at": now,
    }


# ------------------------------------------------------------------------------------------ overview


def _charge(row: Any) -> RecurringCharge:
    return RecurringCharge(
        recurrence_id=int(row.recurrence_id),
        paytrace_customer_id=str(row.paytrace_customer_id),
        cust_id=str(row.cust_id or ""),
        amount=Decimal(str(row.amount)).quantize(Decimal("0.01")),
        frequency=str(row.frequency),
        status=str(row.status),
        next_date=row.next_date,
        last_result_at=row.last_result_at,
        last_message=str(row.last_message or ""),
    )


def recurring_overview(
    conn: sa.Connection, today: dt.date, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> RecurringOverview | None:
    """Upcoming charges (active schedules due in ``[today, today + horizon)``) and failed ones (the latest
    attempt was not approved). None when the recurring tables are not installed (schema < v9)."""
    from paytrace_sl.sl.catalog import live_table_names

    t = own_tables.xPTRecurSched
    if t.name.lower() not in live_table_names(conn):
        return None
    rows = conn.execute(sa.select(t).order_by(t.c.next_date, t.c.recurrence_id)).all()
    until = today + dt.timedelta(days=horizon_days)
    upcoming = tuple(
        _charge(r)
        for r in rows
        if r.status == "active" and r.next_date is not None and today <= r.next_date < until
    )
    failed = tuple(_charge(r) for r in rows if int(r.last_failed or 0) == 1)
    return RecurringOverview(
        today=today,
        horizon_days=horizon_days,
        schedules=len(rows),
        active=sum(1 for r in rows if r.status == "active"),
        unlinked=sum(1 for r in rows if r.cust_id is None),
        upcoming=upcoming,
        failed=failed,
        upcoming_total=sum((c.amount for c in upcoming), Decimal("0.00")),
    )


def link_strategies(mapping: Any) -> tuple[str, ...]:
    """The mapping's customer-matching order, restricted to what applies to a schedule (no invoice)."""
    order = tuple(s for s in mapping.customers.strategy if s in LINK_STRATEGIES)
    return order or LINK_STRATEGIES
