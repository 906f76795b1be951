"""Work the review queue down by the suggestions that are safe to apply without a person.

An open ``unknown_customer`` item is resolved by its best suggestion only when that suggestion is
marked auto-linkable by the suggester (exact CustId, an active ``xPTCustXref`` row — e.g. one the
customers DAG wrote when it linked the payer's vault profile — or a fuzzy match with two agreeing fields
besides the name and a clear lead) **and** its score is at or above the mapping's
``customers.auto_link_threshold`` (never a lower one). It goes through the normal resolve path
(:func:`paytrace_sl.review.resolve.resolve`: ledger, preflight, exactly once) and is closed with who
``auto-suggestion`` and the score and agreeing fields in the why. Everything else stays open and is
counted by why it needs a person.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paytrace_sl.review.store import ReviewError, ReviewItem, ReviewItemClosed, list_items
from paytrace_sl.suggestion import Suggester, Suggestion

if TYPE_CHECKING:
    from paytrace_sl.pipeline.config import PipelineConfig

AUTO_WHO = "auto-suggestion"
UNKNOWN_CUSTOMER = "unknown_customer"

NO_SUGGESTION = "unknown customer: no suggestion"
BELOW_THRESHOLD = "unknown customer: best suggestion below the auto-link threshold"
NOT_SAFE = "unknown customer: suggestion not safe alone (invoice quoted, inactive or a close second)"
NOT_POSTED = "unknown customer: suggestion could not be posted"


@dataclass(frozen=True)
class Applied:
    item_id: int
    transaction_id: int
    cust_id: str
    score: float
    agreed: tuple[str, ...]
    posted: str  # "payment PA 000123 in batch 004567 for customer C0001" (dry run: "")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "transaction_id": self.transaction_id,
            "cust_id": self.cust_id,
            "score": self.score,
            "agreed": list(self.agreed),
            "posted": self.posted,
        }


@dataclass
class ApplyReport:
    threshold: float
    dry_run: bool
    applied: list[Applied] = field(default_factory=list)
    remaining: Counter[str] = field(default_factory=Counter)  # why each open item needs a person
    problems: list[str] = field(default_factory=list)  # per item: why its safe suggestion was not posted

    @property
    def need_a_person(self) -> int:
        return sum(self.remaining.values())

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "dry_run": self.dry_run,
            "applied": [a.to_json_dict() for a in self.applied],
            "need_a_person": self.need_a_person,
            "remaining": dict(sorted(self.remaining.items())),
            "problems": list(self.problems),
        }

    def lines(self) -> list[str]:
        """The human summary (CLI and ``make demo``)."""
        verb = "would apply" if self.dry_run else "applied"
        by_count = sorted(self.remaining.items(), key=lambda kv: (-kv[1], kv[0]))
        out = [
            f"Suggestions {verb}: {len(self.applied)} (auto-link threshold {self.threshold:.2f})",
            *(
                f"  item {a.item_id}: transaction {a.transaction_id} -> {a.cust_id} "
                f"(score {a.score:.2f}; agreed: {', '.join(a.agreed)})"
                + (f": {a.posted}" if a.posted else "")
                for a in self.applied
            ),
            f"Review queue: {self.need_a_person} items need a person",
            *(f"  {n:>5}  {why}" for why, n in by_count),
        ]
        return out


def reason_label(item: ReviewItem) -> str:
    """The count key of an item a person must settle: its reason code; for a note on a posted document
    (``plan_review``) the note's first code, e.g. ``posted with note: unidentified_customer``."""
    if item.reason_code == "plan_review":
        code = item.reason.split(":", 1)[0].strip() or "note"
        return f"posted with note: {code}"
    return item.reason_code


def why_text(s: Suggestion, threshold: float) -> str:
    return (
        f"best suggestion {s.cust_id} score {s.score:.2f} >= auto-link threshold {threshold:.2f} "
        f"({s.source}; agreed: {', '.join(s.agreed) or '-'})"
    )


def safe(s: Suggestion | None, threshold: float) -> bool:
    return s is not None and s.auto_link and s.score >= threshold


def apply_suggestions(
    cfg: PipelineConfig,
    *,
    dry_run: bool = False,
    suggester: Suggester | None = None,
) -> ApplyReport:
    """Resolve every open unknown-customer item whose best suggestion is safe; count the rest by reason."""
    from paytrace_sl.customers.suggest import build_suggester
    from paytrace_sl.pipeline import runner
    from paytrace_sl.pipeline.mapping import load_mapping
    from paytrace_sl.review.resolve import resolve
    from paytrace_sl.sl.own_tables import install

    matching = load_mapping(cfg.mapping_path).customers
    threshold = float(matching.auto_link_threshold)
    report = ApplyReport(threshold=threshold, dry_run=dry_run)
    with runner.engine_for(cfg) as eng:
        install(eng)
        hints = suggester or build_suggester(
            eng, auto_link_threshold=threshold, suggest_threshold=float(matching.suggest_threshold)
        )
        items = list_items(eng)
    why_open: dict[int, str] = {}  # item id -> why it needs a person
    for item in items:
        if item.reason_code != UNKNOWN_CUSTOMER or item.transaction_id is None:
            why_open[item.id] = reason_label(item)
            continue
        suggestions = hints.suggest(item.payer())
        best = suggestions[0] if suggestions else None
        if best is None:
            why_open[item.id] = NO_SUGGESTION
            continue
        if best.score < threshold:
            why_open[item.id] = BELOW_THRESHOLD
            continue
        if not safe(best, threshold):
            why_open[item.id] = NOT_SAFE
            continue
        if dry_run:
            report.applied.append(
                Applied(item.id, item.transaction_id, best.cust_id, best.score, best.agreed, "")
            )
            continue
        try:
            done = resolve(cfg, item.id, cust_id=best.cust_id, who=AUTO_WHO, why=why_text(best, threshold))
        except ReviewItemClosed:  # closed meanwhile (e.g. by the resolve of its transaction's other item)
            continue
        except ReviewError as exc:  # refused or not posted: the item stays open for a person
            why_open[item.id] = NOT_POSTED
            report.problems.append(f"item {item.id}: {exc}")
            continue
        report.applied.append(
            Applied(item.id, item.transaction_id, best.cust_id, best.score, best.agreed, done.posted)
        )
    if not dry_run and report.applied:
        # the queue as it is now: a resolve may close other items of its transaction, or open a note
        # next to the document it posted (an unapplied payment, say)
        with runner.engine_for(cfg) as eng:
            items = list_items(eng)
        why_open = {i.id: why_open.get(i.id) or reason_label(i) for i in items}
    report.remaining = Counter(why_open.values())
    return report
