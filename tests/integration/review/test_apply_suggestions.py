"""``paytrace-sl review apply-suggestions`` against a real PostgreSQL SL replica and the HTTP sandbox.

The world's cross-references are removed, so payers whose SL id differs wait as ``unknown_customer``
items. For half of those payers the link comes back as the customers DAG writes it (``xPTCustXref``,
source ``auto-match``): their items' best suggestion is then the cross-reference (score 1, auto-linkable)
and apply-suggestions posts them through the normal resolve path, exactly once. The rest stay open.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from review_world import Bench
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.review.apply import AUTO_WHO, BELOW_THRESHOLD, UNKNOWN_CUSTOMER, apply_suggestions
from paytrace_sl.review.store import get_item, list_items
from paytrace_sl.sl.own_tables import utcnow, xPTCustXref, xPTLedger
from paytrace_sl.suggestion import PayerFacts, Suggestion

pytestmark = pytest.mark.integration


def _cli_json(bench: Bench, *args: str) -> Any:
    result = CliRunner().invoke(app, ["review", "apply-suggestions", *args, "--json"], env=bench.env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _postings(bench: Bench, txid: int) -> list[str]:
    with bench.engine.connect() as conn:
        return [
            str(c).strip()
            for c in conn.execute(
                sa.select(xPTLedger.c.cust_id).where(
                    xPTLedger.c.transaction_id == txid,
                    xPTLedger.c.kind.in_(("payment", "refund")),
                    xPTLedger.c.status == "posted",
                )
            ).scalars()
        ]


class _JustBelow:
    """A suggester whose best suggestion is auto-linkable but scores just under the threshold."""

    def __init__(self, cust_id: str, score: float) -> None:
        self.cust_id, self.score = cust_id, score

    def suggest(self, payer: PayerFacts, limit: int = 3) -> list[Suggestion]:
        return [Suggestion(self.cust_id, self.score, ("name", "email", "phone"), True, "fuzzy")]


def test_apply_suggestions_posts_safe_ones_once_and_leaves_the_rest(bench: Bench) -> None:
    queue = list_items(bench.engine, reason=UNKNOWN_CUSTOMER)
    payers = sorted({i.payer().paytrace_customer_id or "" for i in queue} & set(bench.xref))
    assert len(payers) >= 2, "the removed cross-references must leave unknown_customer items of 2+ payers"
    linked = payers[: len(payers) // 2]
    now = utcnow()
    with bench.engine.begin() as conn:  # what the customers DAG writes when it links a vault profile
        conn.execute(
            sa.insert(xPTCustXref),
            [
                {"paytrace_customer_id": p, "cust_id": bench.xref[p], "source": "auto-match", "active": 1,
                 "created_at": now, "updated_at": now}
                for p in linked
            ],
        )  # fmt: skip
    expected = {i.id: i for i in queue if i.payer().paytrace_customer_id in linked}
    untouched = [i for i in queue if i.id not in expected]
    assert expected and untouched
    open_before = list_items(bench.engine)

    # --dry-run: names exactly the safe items, posts and closes nothing
    dry = _cli_json(bench, "--dry-run")
    assert dry["dry_run"] is True
    assert {a["item_id"] for a in dry["applied"]} == set(expected)
    assert all(a["score"] >= dry["threshold"] == 0.9 for a in dry["applied"])
    assert [i.id for i in list_items(bench.engine)] == [i.id for i in open_before]
    assert all(_postings(bench, int(i.transaction_id or 0)) == [] for i in expected.values())

    first = _cli_json(bench)
    assert {a["item_id"] for a in first["applied"]} == set(expected)
    for item_id, before in expected.items():
        truth = bench.xref[before.payer().paytrace_customer_id or ""]
        after = get_item(bench.engine, item_id)
        assert (after.closed_how, after.resolved_by, after.resolved_cust_id) == ("resolved", AUTO_WHO, truth)
        assert after.closed_why and "score 1.00" in after.closed_why and "customer_id" in after.closed_why
        assert _postings(bench, int(before.transaction_id or 0)) == [truth]
    for item in untouched:  # below the threshold or not safe alone: open, nothing posted
        assert get_item(bench.engine, item.id).is_open
        assert _postings(bench, int(item.transaction_id or 0)) == []
    still_open = list_items(bench.engine)
    assert first["need_a_person"] == len(still_open) == len(open_before) - len(expected)
    assert sum(first["remaining"].values()) == len(still_open)

    # a second run applies nothing and posts nothing again
    second = _cli_json(bench)
    assert second["applied"] == [] and second["need_a_person"] == len(still_open)
    for before in expected.values():
        assert len(_postings(bench, int(before.transaction_id or 0))) == 1

    # an auto-linkable suggestion just under the mapping's threshold is left for a person
    target = untouched[0]
    report = apply_suggestions(bench.cfg, suggester=_JustBelow(bench.xref[payers[-1]], 0.89))
    assert report.applied == [] and report.remaining[BELOW_THRESHOLD] >= 1
    assert get_item(bench.engine, target.id).is_open
    assert _postings(bench, int(target.transaction_id or 0)) == []
    text = "\n".join(report.lines())
    assert f"Review queue: {len(still_open)} items need a person" in text
