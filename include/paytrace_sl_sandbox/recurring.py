"""Recurring billing in the PayTrace sandbox: ``/v1/recurrence/create``, ``/export``, ``/export_approved``.

A schedule charges its vault customer on each due day through the sandbox's own ``sale/by_customer``
processing, so every charge is a normal transaction: the transaction export lists it (stamped at the due
time, 6:00 AM merchant time) and it settles like any other sale. Charges are made lazily: before the
sandbox answers any ``/v1/`` call, every schedule is caught up to the sandbox's "now" (its clock, else
the wall clock). The magic decline amount (0.29) makes a schedule fail: its ``last_result`` carries the
decline and it stays active. Shapes follow :mod:`paytrace_sl.paytrace.recurring` (its field names are
[U]: PayTrace documents none).
"""

from __future__ import annotations

import calendar
import datetime as dt
import threading
from typing import TYPE_CHECKING, Any

from paytrace_sl.paytrace.timefmt import format_paytrace_datetime, parse_request_date
from paytrace_sl_sandbox import shapes
from paytrace_sl_sandbox.merchant import cents_to_json

if TYPE_CHECKING:
    from paytrace_sl_sandbox.server import SandboxServer

CHARGE_TIME = dt.time(6, 0)
FREQUENCIES = ("daily", "weekly", "biweekly", "first_of_month", "monthly", "quarterly", "annually")
MAX_CATCH_UP = 400  # charges per schedule per catch-up (a wall clock far ahead of a schedule's start)
FIRST_RECURRENCE_ID = 5001


def _add_months(day: dt.date, months: int, anchor: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def next_due(day: dt.date, frequency: str, anchor: int) -> dt.date:
    """The due day after ``day`` (``anchor``: the start date's day of month)."""
    if frequency == "daily":
        return day + dt.timedelta(days=1)
    if frequency == "weekly":
        return day + dt.timedelta(days=7)
    if frequency == "biweekly":
        return day + dt.timedelta(days=14)
    if frequency == "first_of_month":
        return _add_months(day, 1, 1)
    if frequency == "quarterly":
        return _add_months(day, 3, anchor)
    if frequency == "annually":
        return _add_months(day, 12, anchor)
    return _add_months(day, 1, anchor)


class RecurringBook:
    """The sandbox's schedules and approved recurring payments (reset with the server)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.schedules: dict[int, dict[str, Any]] = {}
        self.next_due: dict[int, dt.date | None] = {}
        self.approved: list[dict[str, Any]] = []
        self._next_id = FIRST_RECURRENCE_ID

    # ----------------------------------------------------------------------------- endpoints
    def create(self, server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
        from paytrace_sl_sandbox.server import _cents, validation_error

        errors: list[tuple[str, str]] = []
        cents = _cents(body.get("amount"))
        if cents is None or cents <= 0:
            errors.append(shapes.ERR_AMOUNT)
        frequency = str(body.get("frequency", "monthly")).lower()
        if frequency not in FREQUENCIES:
            errors.append(("61", "Please provide a valid recurrence frequency."))
        try:
            start = parse_request_date(str(body.get("start_date", "")))
        except ValueError:
            errors.append(("62", "Please provide a valid start date (MM/DD/YYYY)."))
            start = dt.date.min
        total = body.get("total_count", 0)
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            errors.append(("63", "Please provide a valid total count."))
        customer_id = str(body.get("customer_id") or "")
        if errors:
            raise validation_error(*errors)
        masked, _, _, _ = server._customer_card(customer_id)  # error 30 for an unknown customer
        assert cents is not None
        with self._lock:
            rid = self._next_id
            self._next_id += 1
            self.schedules[rid] = {
                "recurrence_id": rid,
                "customer_id": customer_id,
                "amount": cents_to_json(cents),
                "frequency": frequency,
                "status": "active",
                "start_date": f"{start.month}/{start.day}/{start.year}",  # PayTrace's unpadded form
                "next_date": "",
                "total_count": int(total),
                "current_count": 0,
                "description": str(body.get("description", "")),
                "credit_card": {"masked_number": "x" * (len(masked) - 4) + masked[-4:]},
                "created": {"at": format_paytrace_datetime(server._now(), server.sim.tz)},
                "last_result": {},
            }
            self.next_due[rid] = start
            self._render_next(rid)
        return {
            "success": True,
            "response_code": 150,
            "status_message": "The Recurring Payment was successfully created.",
            "recurrence_id": rid,
        }

    def export(self, server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
        wanted_customer = str(body.get("customer_id") or "")
        wanted_id = body.get("recurrence_id")
        with self._lock:
            rows = [
                dict(s)
                for s in self.schedules.values()
                if (not wanted_customer or s["customer_id"] == wanted_customer)
                and (wanted_id in (None, "") or str(s["recurrence_id"]) == str(wanted_id))
            ]
        return {
            "success": True,
            "response_code": 155,
            "status_message": "Recurring payments were successfully exported.",
            "recurrences": rows,
        }

    def export_approved(self, server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
        wanted_customer = str(body.get("customer_id") or "")
        with self._lock:
            rows = [
                dict(p) for p in self.approved if not wanted_customer or p["customer_id"] == wanted_customer
            ]
        return {
            "success": True,
            "response_code": 1,
            "status_message": shapes.EXPORT_OK_MESSAGE,
            "transactions": rows,
        }

    # ----------------------------------------------------------------------------- charging
    def _render_next(self, rid: int) -> None:
        day = self.next_due[rid]
        self.schedules[rid]["next_date"] = f"{day.month:02d}/{day.day:02d}/{day.year}" if day else ""

    def catch_up(self, server: SandboxServer) -> int:
        """Charge every due charge up to the sandbox's now; returns how many were attempted."""
        from paytrace_sl_sandbox.server import ApiError

        now = server._now()
        tz = server.sim.tz
        attempted = 0
        with self._lock:
            for rid, sched in self.schedules.items():
                for _ in range(MAX_CATCH_UP):
                    day = self.next_due[rid]
                    if sched["status"] != "active" or day is None:
                        break
                    due = dt.datetime.combine(day, CHARGE_TIME, tz)
                    if due > now:
                        break
                    attempted += 1
                    charge = {
                        "customer_id": sched["customer_id"],
                        "amount": sched["amount"],
                        "description": f"Recurring payment {rid}",
                    }
                    try:
                        answer = server.process_new(charge, "SALE", by_customer=True)
                        tid, code, message = int(answer["transaction_id"]), 101, str(answer["status_message"])
                    except ApiError as err:
                        tid = int(err.body.get("transaction_id") or 0)
                        code = int(err.body.get("response_code") or 0)
                        message = str(err.body.get("approval_message") or err.body.get("status_message", ""))
                    stamp = format_paytrace_datetime(due, tz)
                    if tid:
                        self._restamp(server, tid, due, stamp)
                    sched["last_result"] = {
                        "transaction_id": tid or None,
                        "at": stamp,
                        "response_code": code,
                        "status_message": message,
                    }
                    if code == 101:
                        sched["current_count"] += 1
                        self.approved.append(
                            {
                                "recurrence_id": rid,
                                "transaction_id": tid,
                                "customer_id": sched["customer_id"],
                                "amount": sched["amount"],
                                "created": {"at": stamp},
                                "credit_card": dict(sched["credit_card"]),
                            }
                        )
                    anchor = parse_request_date(_padded(sched["start_date"])).day
                    following = next_due(day, sched["frequency"], anchor)
                    done = sched["total_count"] and sched["current_count"] >= sched["total_count"]
                    self.next_due[rid] = None if done else following
                    if done:
                        sched["status"] = "completed"
                    self._render_next(rid)
        return attempted

    @staticmethod
    def _restamp(server: SandboxServer, tid: int, due: dt.datetime, stamp: str) -> None:
        """Date the charge at its due time (not the moment the sandbox caught up)."""
        with server._lock:
            rec = server._overlay.records.get(tid)
            if rec is not None:
                rec["created"]["at"] = stamp
                server._overlay.record_day[tid] = due.date()


def _padded(unpadded: str) -> str:
    month, day, year = unpadded.split("/")
    return f"{int(month):02d}/{int(day):02d}/{year}"


def register(routes: dict[str, Any]) -> None:
    """Add the recurrence endpoints to the sandbox's route table."""
    routes["/v1/recurrence/create"] = lambda s, b: s.recurring.create(s, b)
    routes["/v1/recurrence/export"] = lambda s, b: s.recurring.export(s, b)
    routes["/v1/recurrence/export_approved"] = lambda s, b: s.recurring.export_approved(s, b)


def create_demo_schedules(server: SandboxServer, first_day: dt.date) -> list[int]:
    """A few schedules for ``make demo``: monthly, weekly, one linked by cross-reference, one that fails."""
    customers = server.sim.customers()
    exact = [c for c in customers if c.sl_cust_id == c.customer_id]
    xref = [c for c in customers if c.sl_cust_id != c.customer_id] or exact
    plans = (
        (exact[0], "49.95", "monthly", 1, "Gold membership"),
        (exact[1], "12.00", "weekly", 0, "Weekly delivery"),
        (xref[0], "120.00", "quarterly", 3, "Quarterly service"),
        (exact[2], "0.29", "monthly", 2, "Card on file expired"),  # the magic decline amount: fails
    )
    ids = []
    for cust, amount, frequency, offset, description in plans:
        start = first_day + dt.timedelta(days=offset)
        body = {
            "customer_id": cust.customer_id,
            "amount": amount,
            "frequency": frequency,
            "start_date": f"{start.month:02d}/{start.day:02d}/{start.year}",
            "description": description,
        }
        ids.append(int(server.recurring.create(server, body)["recurrence_id"]))
    return ids
