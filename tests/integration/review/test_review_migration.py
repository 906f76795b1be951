"""Migration v4 on a live v3 install: the closure columns are added, items a replay closed before v4
read as ``replayed``, open items stay open, and the workbench can act on them afterwards."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from paytrace_sl.review.store import dismiss, get_item
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import REVIEW_CLOSURE_COLUMNS, SCHEMA_VERSION, install, xPTReview

pytestmark = pytest.mark.integration


def test_v3_to_v4_keeps_items_and_marks_old_closures(sl_pg_url: str) -> None:
    engine = create_sl_engine(sl_pg_url)
    assert install(engine, target_version=3).to_version == 3
    created = dt.datetime(2025, 4, 2, 12, tzinfo=dt.UTC)
    old = sa.table(
        "xptreview", *(sa.column(c) for c in ("transaction_id", "reason_code", "reason", "created_at",
                                               "resolved_at", "resolved_by", "resolution"))
    )  # fmt: skip
    with engine.begin() as conn:
        live = {c["name"] for c in sa.inspect(conn).get_columns("xptreview")}
        assert live.isdisjoint(REVIEW_CLOSURE_COLUMNS)
        conn.execute(
            sa.insert(old),
            [
                {"transaction_id": 1, "reason_code": "closed_period", "reason": "r", "created_at": created,
                 "resolved_at": created, "resolved_by": "replay-1", "resolution": "posted by replay"},
                {"transaction_id": 2, "reason_code": "unknown_customer", "reason": "r", "created_at": created,
                 "resolved_at": None, "resolved_by": None, "resolution": None},
            ],
        )  # fmt: skip
    result = install(engine)
    assert (result.from_version, result.to_version) == (3, SCHEMA_VERSION)
    assert {f"xPTReview.{c}" for c in REVIEW_CLOSURE_COLUMNS} <= set(result.added_columns)
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.select(xPTReview.c.transaction_id, xPTReview.c.id)).all())
    replayed, still_open = get_item(engine, ids[1]), get_item(engine, ids[2])
    assert (replayed.closed_how, replayed.resolved_by) == ("replayed", "replay-1")
    assert still_open.is_open and still_open.closed_how is None
    closed = dismiss(engine, ids[2], who="cli:dora", why="merchant's own test card")
    assert (closed.closed_how, closed.closed_why) == ("dismissed", "merchant's own test card")
    assert not install(engine).changed
    engine.dispose()
