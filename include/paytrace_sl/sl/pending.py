"""What is already applied to each invoice in unreleased AR batches, carried from batch to batch.

The writer checks every application line against the invoice's open balance minus the application (U)
lines waiting in unreleased AR batches (docs/accounting.md §2), and preflight checks the same sum. SL has
no index on ``ARTran.SiteId`` or ``BatNbr``, and a capped day is many unreleased batches, so reading that
sum per batch was a pass over ``ARTran`` per batch, twice (issue 17: quadratic in the day's batches).

:class:`PendingApplications` reads it once per load step (one grouped pass, kept only for the plan's
invoices) and then, before each batch, re-reads only the small ``Batch`` table: a batch released, voided
or deleted is dropped; a batch that is new, or whose fingerprint (``writer_sql.BATCH_FINGERPRINT``:
status, totals, ``LUpd_*``, ``tstamp``) changed, has its lines read again. The batches the writer itself
writes are added from what it wrote, with the fingerprint read back inside its transaction.

Assumption (documented in docs/mapping.md, ``sl.pending_cache``): whoever adds, changes or removes an
application line of an unreleased batch also changes that batch's ``Batch`` row, as SL's screens and
procedures do (and SQL Server's ``tstamp`` changes on any update of the row). A site with direct-SQL
writers that touch ``ARTran`` alone sets ``sl.pending_cache: false``: the per-batch reads come back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.sl import writer_sql as q

Target = tuple[str, str, str]  # (CustId, DocType, RefNbr) of the adjusted document, stripped

_IN_CHUNK = 500  # batch numbers per IN list (SQL Server allows 2,100 parameters per statement)


def _s(value: object) -> str:
    return "" if value is None else str(value).strip()


class PendingApplications:
    """Σ ``CuryTranAmt`` of the U lines of each unreleased AR batch per target, for one load step.

    ``refs``: the invoice numbers (``SiteId``) the plan applies to; lines on other documents are not
    kept, so memory is bounded by the plan, not by SL's unreleased history. ``None`` keeps every target.
    ``scans`` counts the statements that read ``ARTran`` (tests and benchmarks show it).
    """

    def __init__(self, refs: Collection[str] | None = None) -> None:
        self._refs = None if refs is None else frozenset(_s(r) for r in refs)
        self._prints: dict[str, tuple[Any, ...]] = {}  # batch → fingerprint as last read or written
        self._by_batch: dict[str, dict[Target, Decimal]] = {}  # what each batch adds (to drop it again)
        self._total: dict[Target, Decimal] = {}  # Σ over the batches held, exact (Decimal)
        self._staged: tuple[str, tuple[Any, ...], dict[Target, Decimal]] | None = None
        self.filled = False
        self.scans = 0

    def covers(self, refs: Iterable[str]) -> bool:
        """True when every one of these invoice numbers is kept (else the caller reads them itself)."""
        return self._refs is None or all(_s(r) in self._refs for r in refs)

    # ---- reading SL ------------------------------------------------------------------------------

    def refresh(self, conn: sa.Connection) -> None:
        """Bring the cache up to date with SL: the whole read the first time, then only what changed."""
        current = {_s(row[0]): tuple(row[1:]) for row in conn.execute(q.unreleased_ar_batch_rows_stmt())}
        if not self.filled:
            self._read(conn, None, current)
            self._prints = current
            self.filled = True
            return
        for bat in [b for b in self._prints if b not in current]:
            self._drop(bat)  # released, voided or deleted: no longer pending
        changed = sorted(b for b, fp in current.items() if self._prints.get(b) != fp)
        for bat in changed:
            self._drop(bat)
        for start in range(0, len(changed), _IN_CHUNK):
            self._read(conn, changed[start : start + _IN_CHUNK], current)
        self._prints = current

    def _read(self, conn: sa.Connection, bat_nbrs: list[str] | None, current: Mapping[str, Any]) -> None:
        """Add the U lines of ``bat_nbrs`` (None: every unreleased batch) that are in ``current`` (a batch
        created after ``current`` was read is left for the next refresh, which sees it as new)."""
        self.scans += 1
        stmt = q.pending_lines_by_batch_stmt(bat_nbrs)
        refs = self._refs
        for cust, dtype, ref, bat, amt in conn.execute(stmt.execution_options(stream_results=True)):
            site = _s(ref)
            if refs is not None and site not in refs:
                continue
            bat_s = _s(bat)
            if bat_s not in current:
                continue
            self._add(bat_s, (_s(cust), _s(dtype), site), Decimal(str(amt or 0)))

    def _add(self, bat: str, target: Target, amount: Decimal) -> None:
        sums = self._by_batch.setdefault(bat, {})
        sums[target] = sums.get(target, Decimal(0)) + amount
        self._total[target] = self._total.get(target, Decimal(0)) + amount

    def _drop(self, bat: str) -> None:
        self._prints.pop(bat, None)
        for target, amount in self._by_batch.pop(bat, {}).items():
            left = self._total[target] - amount  # exact: Decimal
            if left:
                self._total[target] = left
            else:
                del self._total[target]  # absent reads as 0

    # ---- answers ---------------------------------------------------------------------------------

    def totals(self, targets: Iterable[Target], *, staged: bool = False) -> dict[Target, Decimal]:
        """Σ pending per target (0 when nothing is pending); ``staged``: with the batch staged in the
        current transaction (preflight's view of the batch being written)."""
        extra = self._staged[2] if staged and self._staged is not None else {}
        zero = Decimal(0)
        return {t: self._total.get(t, zero) + extra.get(t, zero) for t in targets}

    def staged_targets(self) -> set[Target]:
        return set(self._staged[2]) if self._staged is not None else set()

    # ---- our own batches -------------------------------------------------------------------------

    def stage(
        self, conn: sa.Connection, bat_nbr: str, lines: Iterable[tuple[object, object, object, object]]
    ) -> None:
        """The batch being written (its ``Batch`` row final): its U lines ``(CustId, DocType, RefNbr,
        amount)`` as written, and its fingerprint read back in the same transaction. Kept apart until
        :meth:`commit` (a rolled-back batch never counts)."""
        row = conn.execute(q.unreleased_ar_batch_rows_stmt(bat_nbr)).first()
        sums: dict[Target, Decimal] = {}
        for cust, dtype, ref, amount in lines:
            target = (_s(cust), _s(dtype), _s(ref))
            if self._refs is not None and target[2] not in self._refs:
                continue
            sums[target] = sums.get(target, Decimal(0)) + Decimal(str(amount or 0))
        self._staged = None if row is None else (_s(bat_nbr), tuple(row[1:]), sums)

    def commit(self) -> None:
        """The staged batch was committed: it counts from now on, as written (no re-read)."""
        staged, self._staged = self._staged, None
        if staged is None or not self.filled:
            return  # not filled yet: the first refresh reads it with everything else
        bat, fingerprint, sums = staged
        self._drop(bat)
        for target, amount in sums.items():
            self._add(bat, target, amount)
        self._prints[bat] = fingerprint

    def discard(self) -> None:
        """The transaction was rolled back: forget the staged batch."""
        self._staged = None
