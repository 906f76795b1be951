"""Auditor reports that stay right: a report a later run made out of date is marked, then rewritten.

A day's report is written by that day's settlement run. A later run can change what it covers: a
payments run whose look-back posts a transaction of that day, a replay that posts a dead-lettered
record or resolves a review item. Such a run marks the report directories that cover the days it
changed (:func:`mark_changed_days`, one ``xPTReportStale`` row per report); the next settlement run's
report step rewrites up to :data:`REFRESH_PER_RUN` of them, oldest mark first
(:func:`refresh_stale`), and each rewritten report says when it was brought up to date and why.

Report directories are named ``<day>`` or ``<first day>_<last day>`` (``flows.settlements.report_dir_name``);
only directories that hold a ``report.html`` are marked — a day without a report gets one from its own
settlement run.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from paytrace_sl.sl.catalog import live_table_names
from paytrace_sl.sl.own_tables import utcnow, xPTReportStale

log = logging.getLogger(__name__)

REFRESH_PER_RUN = 7  # stale reports one settlement run rewrites (a catch-up marks many days at once)
_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:_(\d{4}-\d{2}-\d{2}))?$")


@dataclass(frozen=True, slots=True)
class StaleReport:
    name: str
    first_day: dt.date
    last_day: dt.date
    reason: str
    marked_by: str | None
    marked_at: dt.datetime


def report_range(name: str) -> tuple[dt.date, dt.date] | None:
    """``(first, last)`` day of a report directory name, or None for a name not made by the pipeline."""
    match = _NAME.match(name)
    if not match:
        return None
    try:
        first = dt.date.fromisoformat(match.group(1))
        last = dt.date.fromisoformat(match.group(2)) if match.group(2) else first
    except ValueError:
        return None
    return (first, last) if first <= last else None


def existing_reports(root: Path) -> dict[str, tuple[dt.date, dt.date]]:
    """Report directories under ``root`` that hold a ``report.html``, with their day ranges."""
    found: dict[str, tuple[dt.date, dt.date]] = {}
    if not root.is_dir():
        return found
    for path in root.iterdir():
        span = report_range(path.name)
        if span is not None and (path / "report.html").is_file():
            found[path.name] = span
    return found


def reports_covering(root: Path, days: Iterable[dt.date]) -> dict[str, tuple[dt.date, dt.date]]:
    wanted = set(days)
    return {
        name: (first, last)
        for name, (first, last) in existing_reports(root).items()
        if any(first <= d <= last for d in wanted)
    }


def mark_stale(
    engine: sa.Engine, reports: Mapping[str, tuple[dt.date, dt.date]], reason: str, run_id: str | None
) -> list[str]:
    """Mark ``reports`` stale (a report already marked keeps its first mark); returns the names marked now."""
    if not reports:
        return []
    with engine.begin() as conn:
        present = {
            str(r[0])
            for r in conn.execute(
                sa.select(xPTReportStale.c.report_name).where(
                    xPTReportStale.c.report_name.in_(sorted(reports))
                )
            )
        }
        marked = sorted(set(reports) - present)
        if marked:
            now = utcnow()
            conn.execute(
                sa.insert(xPTReportStale),
                [
                    {
                        "report_name": name,
                        "first_day": reports[name][0],
                        "last_day": reports[name][1],
                        "reason": reason[:500],
                        "marked_by": run_id,
                        "marked_at": now,
                    }
                    for name in marked
                ],
            )
    if marked:
        log.info("reports out of date after %s: %s", reason, ", ".join(marked))
    return marked


def mark_changed_days(
    engine: sa.Engine, root: Path, days: Iterable[dt.date], reason: str, run_id: str | None
) -> list[str]:
    """Mark every existing report that covers one of ``days``."""
    return mark_stale(engine, reports_covering(root, days), reason, run_id)


def days_of_transactions(rows: Iterable[Mapping[str, Any]], ids: set[int]) -> set[dt.date]:
    """Merchant days (``created_at`` is stored in the merchant zone) of the landing rows in ``ids``."""
    days: set[dt.date] = set()
    for row in rows:
        try:
            if int(row["transaction_id"]) in ids:
                days.add(dt.date.fromisoformat(str(row["created_at"])[:10]))
        except (KeyError, TypeError, ValueError):
            continue
    return days


def mark_after_payments_run(
    engine: sa.Engine,
    root: Path,
    *,
    run_id: str,
    fetch_days: Sequence[dt.date],
    summary: Mapping[str, Any],
    outcome: Mapping[str, Any],
    landing_rows: Callable[[], Iterable[Mapping[str, Any]]],
) -> list[str]:
    """After a payments (or replay) run: mark the reports of the days whose records it changed.

    Changed = posted now, or put in review now (the plan's ids, dated from the landing file), or — when
    the run opened new dead letters, which carry no date here — every day it fetched. Cheap when nothing
    changed or no report covers the fetched days (the landing file is read only otherwise).
    """
    candidates = reports_covering(root, fetch_days)
    if not candidates:
        return []
    posted = int(summary.get("posted", 0) or 0)
    review_new = int(summary.get("review_new", 0) or 0)
    letters_new = int(summary.get("dead_letter_new", 0) or 0)
    if not (posted or review_new or letters_new):
        return []
    if letters_new:
        days = set(fetch_days)
        what = f"{letters_new} new dead letter(s)"
    else:
        ids = {int(i) for i in outcome.get("posted_ids", [])}
        if review_new:
            ids |= {int(r["transaction_id"]) for r in outcome.get("review", []) if r.get("transaction_id")}
        days = days_of_transactions(landing_rows(), ids)
        what = f"{posted} posted, {review_new} new review item(s)"
    chosen = {n: span for n, span in candidates.items() if any(span[0] <= d <= span[1] for d in days)}
    return mark_stale(engine, chosen, f"run {run_id}: {what}", run_id)


def _installed(conn: sa.Connection) -> bool:
    """Schema v4 present (a report written before the run's own tables were installed has no marks)."""
    return xPTReportStale.name.lower() in live_table_names(conn)


def stale_reports(engine: sa.Engine, limit: int | None = None) -> list[StaleReport]:
    """Stale reports, oldest mark first."""
    query = sa.select(xPTReportStale).order_by(xPTReportStale.c.marked_at, xPTReportStale.c.report_name)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        if not _installed(conn):
            return []
        return [
            StaleReport(str(r.report_name), r.first_day, r.last_day, str(r.reason), r.marked_by, r.marked_at)
            for r in conn.execute(query)
        ]


def clear(engine: sa.Engine, name: str, before: dt.datetime) -> bool:
    """The report ``name`` was rewritten from data read after ``before``: drop its mark if not newer."""
    with engine.begin() as conn:
        if not _installed(conn):
            return False
        result = conn.execute(
            sa.delete(xPTReportStale).where(
                xPTReportStale.c.report_name == name, xPTReportStale.c.marked_at <= before
            )
        )
    return bool(result.rowcount)


def refresh_stale(
    engine: sa.Engine,
    rebuild: Callable[[StaleReport], object],
    *,
    skip: Iterable[str] = (),
    limit: int = REFRESH_PER_RUN,
) -> list[str]:
    """Rewrite up to ``limit`` stale reports (oldest first) with ``rebuild``; returns the names rewritten.

    A report marked again while it was being rebuilt stays marked (the rebuild may have read too early).
    A report that fails to rebuild stays marked and is logged; the others go on.
    """
    done: list[str] = []
    skipped = set(skip)
    for stale in stale_reports(engine, limit + len(skipped)):
        if stale.name in skipped:
            continue
        if len(done) >= limit:
            break
        began = utcnow()
        try:
            rebuild(stale)
        except Exception as exc:  # one broken report must not stop the run's own work
            log.warning("could not bring report %s up to date: %s", stale.name, type(exc).__name__)
            continue
        clear(engine, stale.name, began)
        done.append(stale.name)
    return done
