"""Row accounting: every extracted row ends in exactly one bucket, and the numbers must add up.

Buckets (docs/data-contracts.md, "Row accounting"):

* ``extracted``      rows in the window's landing file (what PayTrace returned, parsed).
* ``dead_lettered``  rows that failed a row-level contract check (or could not be parsed); stored in
                     xPTDeadLetter with the failed checks, never posted.
* ``posted``         rows that produced a planned SL document in this run (payment, refund or void),
                     including payments posted unapplied with a review note.
* ``already_posted`` rows our ledger shows as posted before, with nothing new to post.
* ``skipped``        rows deliberately not posted, by reason code (declined, awaiting_capture, …).
* ``review``         rows held for a person (unknown customer, invoice not found, …); nothing posted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paytrace_sl.errors import PaytraceSlError

__all__ = ["RowAccount", "RowAccountingError"]


class RowAccountingError(PaytraceSlError, RuntimeError):
    """Rows were lost or double counted between extract and plan."""


@dataclass(frozen=True)
class RowAccount:
    extracted: int
    posted: int
    already_posted: int
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    review: int = 0
    dead_lettered: int = 0

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())

    @property
    def accounted(self) -> int:
        return self.posted + self.already_posted + self.skipped + self.review + self.dead_lettered

    def check(self) -> RowAccount:
        """Raise :class:`RowAccountingError` unless every extracted row is in exactly one bucket."""
        negative = {k: v for k, v in self.as_dict().items() if isinstance(v, int) and v < 0}
        negative.update({f"skipped[{k}]": v for k, v in self.skipped_by_reason.items() if v < 0})
        if negative or self.extracted != self.accounted:
            raise RowAccountingError(
                f"row accounting does not add up: extracted {self.extracted} != posted {self.posted} + "
                f"already posted {self.already_posted} + skipped {self.skipped} "
                f"{dict(self.skipped_by_reason)} + "
                f"review {self.review} + dead-lettered {self.dead_lettered} = {self.accounted}"
                + (f"; negative counts {negative}" if negative else "")
            )
        return self

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (xPTRun.counts, task logs, XCom)."""
        return {
            "extracted": self.extracted,
            "posted": self.posted,
            "already_posted": self.already_posted,
            "skipped": self.skipped,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "review": self.review,
            "dead_lettered": self.dead_lettered,
        }

    def summary(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped_by_reason.items()))
        return (
            f"extracted {self.extracted} = posted {self.posted} + already posted {self.already_posted} + "
            f"skipped {self.skipped}{f' ({reasons})' if reasons else ''} + review {self.review} + "
            f"dead-lettered {self.dead_lettered}"
        )
