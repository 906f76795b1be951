"""Which SL period a batch posts to (``PerPost``) and which period it was entered in (``PerEnt``).

SL posts a batch to one period (the release forces every document to ``Batch.PerPost``). That period must
be the module's current period or later — ``ARSetup.PerNbr`` for AR batches, ``GLSetup.PerNbr`` for GL
(reference §5.1 "PerPost = current AR period or later", §6.3) — and never a closed GL period (at or before
``GLSetup.LastClosePerNbr``): the release would post into books the controller has closed. SL can allow
prior-period posting (``GLSetup.ModPriorPost`` / ``PriorYearPost``), but the reference documents neither
their format nor the rule ([I]), so the bridge takes the safer path and never posts before the current
period. A *late* item (its date falls before that) either goes to the current period with its own
``DocDate`` kept (``periods.late_items: current``, the default) or is refused into the review queue
(``refuse``).

``PerEnt`` is the period current when the batch is entered (reference §6.3): the module's current period,
whatever period the batch posts to.
"""

from __future__ import annotations

from dataclasses import dataclass

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.sl.setup import SLSetup

LATE_ITEMS = ("current", "refuse")
"""``periods.late_items`` in mapping.yaml: move late items to the current period, or refuse them."""

REASON_CLOSED_PERIOD = "closed_period"
"""Review reason code of an item refused because its period is before the current or closed."""


class PeriodError(PaytraceSlError, RuntimeError):
    """SL's period setup leaves no open period to post to (the current period is itself closed)."""


@dataclass(frozen=True, slots=True)
class PostingPeriod:
    """The periods of one batch: where it posts, when it was entered, and why (if it was moved)."""

    per_post: str  # Batch/ARDoc/ARTran/GLTran.PerPost
    per_ent: str  # the module's current period at entry
    natural: str  # the fiscal period of the items' dates (or the plan's per_post)
    late: bool = False  # natural is before the current period or in a closed one
    refused: str = ""  # non-empty: the batch must not be written (late_items: refuse); the reason

    @property
    def moved(self) -> bool:
        return self.late and not self.refused


def current_period(module: str, setup: SLSetup) -> str:
    """The module's current period: ``ARSetup.PerNbr`` for AR, ``GLSetup.PerNbr`` for GL."""
    return setup.ar_per_nbr if module == "AR" else setup.gl_per_nbr


def posting_period(natural: str, module: str, setup: SLSetup, late_items: str = "current") -> PostingPeriod:
    """Where a batch whose items fall in ``natural`` may post, under the ``late_items`` policy.

    ``YYYYPP`` strings compare in period order. Raises :class:`PeriodError` when a late batch has no open
    period to go to (SL's current period is at or before ``GLSetup.LastClosePerNbr``).
    """
    if late_items not in LATE_ITEMS:
        raise ValueError(f"late_items must be one of {', '.join(LATE_ITEMS)}, got {late_items!r}")
    current = current_period(module, setup)
    closed = setup.gl_last_close_per_nbr
    before_current = natural < current
    in_closed = bool(closed) and natural <= closed
    if not (before_current or in_closed):
        return PostingPeriod(natural, current, natural)
    why = (
        f"period {natural} is closed in SL (GLSetup.LastClosePerNbr {closed})"
        if in_closed
        else f"period {natural} is before SL's current {module} period {current}"
    )
    if late_items == "refuse":
        return PostingPeriod(natural, current, natural, late=True, refused=f"{why}; late_items: refuse")
    if closed and current <= closed:
        raise PeriodError(
            f"{why}, and the current {module} period {current} is closed too (GLSetup.LastClosePerNbr "
            f"{closed}): advance SL's current period before posting"
        )
    return PostingPeriod(current, current, natural, late=True)
