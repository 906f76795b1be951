"""The review queue in ``xPTReview``: read it, and close items with who, when, how and why.

An item is open while ``resolved_at`` is NULL. Closing never deletes: ``closed_how`` says how
(``resolved`` by a person's customer choice, ``dismissed`` with a reason, ``replayed`` when a replay
posted its document, ``posted`` when a replay found it posted by a later run), ``resolved_by`` who
(``cli:<user>``, ``airflow:<user>`` or a run id), ``closed_why`` a person's reason, ``resolution`` what
was done — the auditor report shows all of it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.sl.own_tables import REVIEW_CLOSURE_COLUMNS, utcnow, xPTReview
from paytrace_sl.suggestion import PayerFacts

if TYPE_CHECKING:
    from paytrace_sl.paytrace.records import Transaction

WHO_LEN = 60
WHY_LEN = 500


class ReviewError(PaytraceSlError, ValueError):
    """A review action cannot be done as asked (unknown or closed item, unknown customer, …)."""


class ReviewItemNotFound(ReviewError):
    pass


class ReviewItemClosed(ReviewError):
    pass


@dataclass(frozen=True)
class ReviewItem:
    id: int
    transaction_id: int | None
    ledger_key: str | None
    reason_code: str
    reason: str
    details: Mapping[str, Any]
    run_id: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    closed_how: str | None = None
    closed_why: str | None = None
    resolved_cust_id: str | None = None
    resolved_ref_nbr: str | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def amount(self) -> Decimal | None:
        """The transaction amount when the item recorded it (items from the transform do)."""
        raw = self.details.get("amount")
        try:
            return None if raw in (None, "") else Decimal(str(raw))
        except InvalidOperation:
            return None

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        return (now or utcnow()) - self.created_at

    def payer(self) -> PayerFacts:
        """What the item knows of the payer, for a :class:`~paytrace_sl.suggestion.Suggester`."""
        d = self.details

        def text(key: str) -> str | None:
            value = str(d.get(key) or "").strip()
            return value or None

        return PayerFacts(
            paytrace_customer_id=text("customer_id"),
            name=text("billing_name"),
            email=text("email"),
            phone=text("phone"),
            postal_code=text("postal_code"),
            address=text("address"),
            invoice=text("invoice_id"),
        )

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["details"] = dict(self.details)
        data["amount"] = None if self.amount is None else str(self.amount)
        data["open"] = self.is_open
        for key in ("created_at", "resolved_at"):
            value = data[key]
            data[key] = value.isoformat(timespec="seconds") if value is not None else None
        return data


def payer_details(tx: Transaction) -> dict[str, Any]:
    """The PCI-safe facts a review item keeps of its transaction (no card data at all)."""
    return {
        "amount": str(tx.amount),
        "transaction_type": tx.transaction_type,
        "created_at": tx.created_at.isoformat(),
        "customer_id": tx.customer_id,
        "invoice_id": tx.invoice_id,
        "billing_name": tx.billing_name,
    }


def _item(row: Any) -> ReviewItem:
    try:
        details = json.loads(row.details) if row.details else {}
    except ValueError:
        details = {}
    return ReviewItem(
        id=int(row.id),
        transaction_id=None if row.transaction_id is None else int(row.transaction_id),
        ledger_key=row.ledger_key,
        reason_code=str(row.reason_code),
        reason=str(row.reason),
        details=details if isinstance(details, dict) else {},
        run_id=row.run_id,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
        closed_how=row.closed_how,
        closed_why=row.closed_why,
        resolved_cust_id=(row.resolved_cust_id or "").strip() or None,
        resolved_ref_nbr=(row.resolved_ref_nbr or "").strip() or None,
    )


def queue_order(items: list[ReviewItem]) -> list[ReviewItem]:
    """Oldest first; of the same age (to the minute), the larger amount first."""
    return sorted(
        items,
        key=lambda i: (
            i.created_at.replace(second=0, microsecond=0),
            -(i.amount if i.amount is not None else Decimal(0)),
            i.id,
        ),
    )


def list_items(
    engine: sa.Engine,
    *,
    reason: str | None = None,
    older_than: dt.timedelta | None = None,
    include_closed: bool = False,
    now: dt.datetime | None = None,
) -> list[ReviewItem]:
    """Open items (or all: ``include_closed``) by reason code and minimum age, in queue order."""
    t = xPTReview
    query = sa.select(t)
    if not include_closed:
        query = query.where(t.c.resolved_at.is_(None))
    if reason:
        query = query.where(t.c.reason_code == reason)
    if older_than is not None:
        query = query.where(t.c.created_at <= (now or utcnow()) - older_than)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return queue_order([_item(r) for r in rows])


def reason_counts(engine: sa.Engine) -> dict[str, int]:
    """Open items per reason code (the page's filter list)."""
    t = xPTReview
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.reason_code, sa.func.count())
            .where(t.c.resolved_at.is_(None))
            .group_by(t.c.reason_code)
        ).all()
    return {str(code): int(n) for code, n in sorted(rows)}


def get_item(engine: sa.Engine | sa.Connection, item_id: int) -> ReviewItem:
    query = sa.select(xPTReview).where(xPTReview.c.id == int(item_id))
    if isinstance(engine, sa.Connection):
        row = engine.execute(query).first()
    else:
        with engine.connect() as conn:
            row = conn.execute(query).first()
    if row is None:
        raise ReviewItemNotFound(f"review item {item_id} not found in xPTReview")
    return _item(row)


def closed_text(item: ReviewItem) -> str:
    when = item.resolved_at.isoformat(timespec="seconds") if item.resolved_at else "?"
    how = item.closed_how or "closed"
    return f"review item {item.id} is already closed ({how} by {item.resolved_by} at {when})"


def require_open(item: ReviewItem) -> ReviewItem:
    if not item.is_open:
        raise ReviewItemClosed(closed_text(item))
    return item


def _who(who: str) -> str:
    who = " ".join(str(who).split())
    if not who:
        raise ReviewError("who acts must be named (the workbench records it)")
    return who[:WHO_LEN]


def dismiss(engine: sa.Engine, item_id: int, *, who: str, why: str) -> ReviewItem:
    """Close an item without posting anything; the item and ``why`` stay for the auditor."""
    from paytrace_sl.redaction import redact_text

    why = " ".join(redact_text(str(why)).split())  # a person's text: never a card number in our tables
    if not why:
        raise ReviewError("dismissing needs a reason (--why): the auditor reads it")
    acting = _who(who)
    with engine.begin() as conn:
        require_open(get_item(conn, item_id))
        done = conn.execute(
            sa.update(xPTReview)
            .where(xPTReview.c.id == int(item_id), xPTReview.c.resolved_at.is_(None))
            .values(
                resolved_at=utcnow(),
                resolved_by=acting,
                closed_how="dismissed",
                closed_why=why[:WHY_LEN],
                resolution=f"dismissed: {why}"[:WHY_LEN],
            )
        )
        if not done.rowcount:  # closed by someone else between the read and the update
            raise ReviewItemClosed(closed_text(get_item(conn, item_id)))
    return get_item(engine, item_id)


def close_resolved(
    conn: sa.Connection,
    item_id: int,
    *,
    who: str,
    what: str,
    cust_id: str,
    ref_nbr: str | None,
    why: str | None = None,
) -> bool:
    """Close an item a resolve settled (in the caller's transaction); False when it was closed already."""
    done = conn.execute(
        sa.update(xPTReview)
        .where(xPTReview.c.id == int(item_id), xPTReview.c.resolved_at.is_(None))
        .values(
            resolved_at=utcnow(),
            resolved_by=_who(who),
            closed_how="resolved",
            closed_why=(why or None) and str(why)[:WHY_LEN],
            resolution=what[:WHY_LEN],
            resolved_cust_id=cust_id[:15],
            resolved_ref_nbr=(ref_nbr or None) and ref_nbr[:10],
        )
    )
    return bool(done.rowcount)


def closed_between(
    conn: sa.Connection, start: dt.datetime, end: dt.datetime, transaction_ids: Sequence[int] = ()
) -> list[ReviewItem]:
    """Closed items of the period, oldest closure first (the auditor report's "resolved and dismissed"
    table): items of ``transaction_ids`` (the period's transactions) whenever they were settled, and items
    opened or closed in ``[start, end)``. Empty when the installed schema predates the closure columns
    (v4)."""
    from paytrace_sl.sl.catalog import live_table_names

    t = xPTReview
    live = live_table_names(conn).get(t.name.lower())
    if live is None:
        return []
    present = {str(c["name"]).lower() for c in sa.inspect(conn).get_columns(live)}
    if not {c.lower() for c in REVIEW_CLOSURE_COLUMNS} <= present:
        return []
    closed = t.c.resolved_at.isnot(None)
    in_range = sa.or_(
        sa.and_(t.c.resolved_at >= start, t.c.resolved_at < end),
        sa.and_(t.c.created_at >= start, t.c.created_at < end),
    )
    found = {int(r.id): r for r in conn.execute(sa.select(t).where(closed, in_range))}
    ids = sorted({int(i) for i in transaction_ids})
    for chunk in range(0, len(ids), 500):
        rows = conn.execute(sa.select(t).where(closed, t.c.transaction_id.in_(ids[chunk : chunk + 500])))
        found.update({int(r.id): r for r in rows})
    items = [_item(r) for r in found.values()]
    return sorted(items, key=lambda i: (i.resolved_at or start, i.id))


def parse_age(text: str) -> dt.timedelta:
    """``3d``, ``12h``, ``90m`` or a plain number of days."""
    value = text.strip().lower()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    try:
        if value and value[-1] in units:
            return dt.timedelta(**{units[value[-1]]: float(value[:-1])})
        return dt.timedelta(days=float(value))
    except ValueError:
        raise ReviewError(f"age {text!r}: expected a number of days or 3d / 12h / 90m") from None
