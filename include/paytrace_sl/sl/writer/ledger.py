"""The exactly-once SL batch writer: a :class:`~paytrace_sl.plan.PostingPlan` becomes SL batches on Hold.

One database transaction per SL batch. Inside it: lock SL's setup row, drop items the ledger already
has, take the next batch number (width kept), insert ``Batch``, ``ARDoc``, ``ARTran`` / ``GLTran`` with
*every* column, our ``xPTLedger`` rows (unique ``ledger_key``) and ``xPTReview`` items, run the release
preflight on the batch, commit. A crash anywhere leaves all or nothing; a concurrent writer that got the
same item first makes our ledger insert fail, and the batch is retried once after re-filtering.

What the writer never does (SL's release does it, and half-doing it corrupts balances): write
``ARAdjust``, ``AR_Balances``, ``ARHist`` or AR-module ``GLTran``, or set ``Rlsed = 1``.
The document set for each PayTrace event, and the journal entries SL posts on release, are in
``docs/accounting.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from paytrace_sl.plan import (
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
    PostingKind,
    PostingPlan,
    application_refs,
)
from paytrace_sl.sl import catalog, numbering
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.engine import timeout_error
from paytrace_sl.sl.pending import PendingApplications
from paytrace_sl.sl.periods import PeriodError, PostingPeriod, posting_period
from paytrace_sl.sl.preflight import WrittenKeys, required_filled, run_preflight, written_keys
from paytrace_sl.sl.rows import ColumnRows
from paytrace_sl.sl.setup import SLSetup
from paytrace_sl.sl.writer.chargebacks import ChargebackDocuments
from paytrace_sl.sl.writer.model import (
    BatchResult,
    Item,
    ItemOutcome,
    PreflightFailed,
    WriterError,
    WriteResult,
    _Review,
    _stamp_per_ent,
    _Work,
)
from paytrace_sl.sl.writer.payments import PaymentDocuments
from paytrace_sl.sl.writer.refunds import RefundDocuments
from paytrace_sl.sl.writer.settlements import SettlementEntries
from paytrace_sl.sl.writer.voids import VoidRemovals

log = logging.getLogger("paytrace_sl.sl.writer")  # the logger name callers configured before the split


class SLWriter(PaymentDocuments, RefundDocuments, SettlementEntries, VoidRemovals, ChargebackDocuments):
    """Writes posting plans into an SL database, exactly once, leaving every batch unreleased.

    The constructor is :class:`~paytrace_sl.sl.writer.core.WriterCore`'s; each SL document kind adds its
    builders (``payments``, ``refunds``, ``settlements``, ``voids``), this class the transaction skeleton.
    """

    # ---- public API --------------------------------------------------------------------------------

    def prepare(self, cpny_ids: Iterable[str]) -> None:
        """Read SL's setup for these companies (and how ARTran.RecordID is filled) before writing anything.

        A misconfigured database (missing setup row, unknown company, bad fiscal calendar) fails here,
        before any batch is written. Called by :meth:`write_plan`; batch numbers are re-read under lock.
        """
        self._setup.clear()
        with self.engine.connect() as conn:
            for cpny_id in sorted(set(cpny_ids)):
                self._setup_for(conn, cpny_id)
            self._identity(conn)

    def write_plan(self, plan: PostingPlan) -> WriteResult:
        """Write every batch of ``plan``, each in its own transaction; stops at the first failing batch."""
        return self.write_batches((b.cpny_id for b in plan.batches), plan.batches, keep_outcomes=True)

    def write_batches(
        self,
        cpny_ids: Iterable[str],
        batches: Iterable[PlannedBatch],
        *,
        keep_outcomes: bool = False,
        refs: Iterable[str] | None = None,
    ) -> WriteResult:
        """:meth:`prepare`, then each batch in order in its own transaction, stopping at the first failure.

        ``batches`` may be a stream (the load step reads the plan one batch at a time). ``keep_outcomes``
        False drops each batch's per-item outcomes (at 1M transactions ~700k objects nothing reads).
        With ``pending_cache`` (default) the applications pending in unreleased AR batches are read once
        for the whole call and carried from batch to batch (:mod:`paytrace_sl.sl.pending`); ``refs``, the
        invoice numbers the batches apply to, bounds what is kept — taken from ``batches`` when it is a
        sequence, else every pending target is kept.
        """
        self.prepare(cpny_ids)
        if refs is None and isinstance(batches, Sequence):
            refs = application_refs(batches)
        self._pending = (
            PendingApplications(None if refs is None else set(refs)) if self.pending_cache else None
        )
        result = WriteResult()
        try:
            for batch in batches:
                written = self.write_batch(batch)
                result.batches.append(written if keep_outcomes else dataclasses.replace(written, outcomes={}))
        finally:
            self._pending = None
        return result

    def write_batch(self, batch: PlannedBatch) -> BatchResult:
        """Write one planned batch in one transaction (retried once if a concurrent writer beat us)."""
        self._validate(batch)
        try:
            return self._write_once_timed(batch)
        except sa.exc.IntegrityError as exc:
            log.warning(
                "batch of %d %s item(s) collided with a concurrent writer (%s); retrying once",
                len(batch.items),
                batch.kind,
                type(exc.orig).__name__ if exc.orig else "IntegrityError",
            )
            result = self._write_once_timed(batch)
            result.attempts = 2
            return result

    def _write_once_timed(self, batch: PlannedBatch) -> BatchResult:
        """``_write_once``, turning a lock or statement timeout into a clear retryable error."""
        self._last_step = "reading the ledger"
        try:
            return self._write_once(batch)
        except sa.exc.DBAPIError as exc:
            clear = timeout_error(exc, f"writing a {batch.kind} batch (last step: {self._last_step})")
            if clear is None:
                raise
            raise clear from None

    # ---- orchestration -----------------------------------------------------------------------------

    def _validate(self, batch: PlannedBatch) -> None:
        if not batch.items:
            raise WriterError(f"planned {batch.kind} batch for company {batch.cpny_id!r} has no items")
        expected = {
            PostingKind.PAYMENT: PlannedPayment,
            PostingKind.REFUND: PlannedRefund,
            PostingKind.VOID: PlannedVoid,
            PostingKind.SETTLEMENT: PlannedSettlement,
        }[PostingKind(batch.kind)]
        for item in batch.items:
            if not isinstance(item, expected):
                raise WriterError(f"{batch.kind} batch holds a {type(item).__name__} ({item.ledger_key})")
        keys = [i.ledger_key for i in batch.items]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise WriterError(f"planned batch repeats ledger key(s) {', '.join(dupes)}")
        if batch.status not in ("H", "B"):
            raise WriterError(
                f"planned batch status {batch.status!r}: only H or B are written, never released"
            )

    def _write_once(self, batch: PlannedBatch) -> BatchResult:
        result = BatchResult(kind=str(batch.kind), cpny_id=batch.cpny_id)
        keys = [i.ledger_key for i in batch.items]
        with self.engine.connect() as conn:
            # Cheap filter outside the lock: a re-run of a fully posted plan never touches SL's setup row.
            with conn.begin():
                existing = self._existing(conn, keys)
            if all(k in existing for k in keys):
                for k in keys:
                    result.add(ItemOutcome(k, "already_posted"))
                result.already_posted = len(keys)
                return result
            try:
                self._write_transaction(conn, batch, result)
            except BaseException:
                if self._pending is not None:
                    self._pending.discard()
                raise
            if self._pending is not None:
                self._pending.commit()  # the batch just committed counts as pending from now on
            self._step("committed")
        return result

    def _write_transaction(self, conn: sa.Connection, batch: PlannedBatch, result: BatchResult) -> None:
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # psycopg prepares a statement run 5 times and PostgreSQL may then keep one plan for
                # any values: a value list becomes a parameter searched element by element per row
                # instead of a hashed constant. Batches repeat the same statements: plan each anew.
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            self._step("begin")
            if batch.kind == PostingKind.VOID:
                self._write_voids(conn, batch, result)
            else:
                self._write_documents(conn, batch, result)
            self._step("before_commit")

    def _drop_posted_otherwise(
        self, conn: sa.Connection, items: list[Item], result: BatchResult
    ) -> tuple[list[Item], list[_Review]]:
        """Items whose PayTrace id already has its one posting under another ledger key (posted as a
        refund, now a payment, or the reverse — a concurrent run's copy the transform could not see):
        not posted; a review item says so. The unique ``posted_txn_id`` makes this race-safe."""
        reviews: list[_Review] = []
        txids = [i.transaction_id for i in items if isinstance(i, (PlannedPayment, PlannedRefund))]
        if not txids:
            return items, reviews
        posted: dict[int, tuple[str, str]] = {}
        pg_array = conn.dialect.name == "postgresql"  # one array parameter instead of 1,000-item INs
        chunk = max(1, len(txids)) if pg_array else 1000
        for start in range(0, len(txids), chunk):
            stmt = q.posted_txn_stmt(txids[start : start + chunk], pg_array=pg_array)
            for txid, key, kind in conn.execute(stmt):
                posted[int(txid)] = (str(key), str(kind))
        keep: list[Item] = []
        for item in items:
            found = posted.get(getattr(item, "transaction_id", -1))
            if found is None or found[0] == item.ledger_key:
                keep.append(item)
                continue
            txid = int(getattr(item, "transaction_id"))  # noqa: B009 - Item is a union
            reason = (
                f"transaction {txid} was posted to SL once, as a {found[1]}; a copy of it now planned as a "
                f"{item.ledger_key.rsplit(':', 1)[-1]} differs in type. Not posted again: check the "
                "transaction in PayTrace, correct SL by hand if needed, then resolve this item"
            )
            reviews.append(_Review(txid, item.ledger_key, "posted_copy_changed", reason))
            result.conflicts += 1
            result.add(ItemOutcome(item.ledger_key, "review", message=reason))
        return keep, reviews

    def _write_documents(self, conn: sa.Connection, batch: PlannedBatch, result: BatchResult) -> None:
        module = "GL" if batch.kind == PostingKind.SETTLEMENT else "AR"
        setup = self._setup_for(conn, batch.cpny_id)
        locked = numbering.lock_setup(
            conn, module, *(("LastBatNbr", "LastRefNbr") if module == "AR" else ("LastBatNbr",))
        )
        self._step("locked")
        # Re-filter under the lock: a concurrent writer holding the lock before us has committed by now.
        existing = self._existing(conn, [i.ledger_key for i in batch.items])
        fresh = [i for i in batch.items if i.ledger_key not in existing]
        for item in batch.items:
            if item.ledger_key in existing:
                result.add(ItemOutcome(item.ledger_key, "already_posted"))
                result.already_posted += 1
        fresh, conflicts = self._drop_posted_otherwise(conn, fresh, result)
        if not fresh:
            if conflicts:
                self._insert_all(conn, _Work(reviews=conflicts))
            return  # nothing new: no number consumed, nothing written
        period = self._per_post(batch, fresh, setup, module)
        if period.refused:
            self._refuse(conn, fresh, period, result)
            if conflicts:
                self._insert_all(conn, _Work(reviews=conflicts))
            return  # nothing written to SL, no number consumed
        per_post = period.per_post
        result.late_from = period.natural if period.moved else ""
        now = self._now()
        work = _Work(reviews=conflicts)
        if batch.kind == PostingKind.SETTLEMENT:
            settle = [i for i in fresh if isinstance(i, PlannedSettlement)]
            writes_sl = any(i.net_amount != 0 for i in settle)
            bat_nbr = numbering.take_batch_number(conn, "GL", str(locked.LastBatNbr)) if writes_sl else ""
            self._step("numbered")
            self._build_settlements(settle, batch, setup, bat_nbr, per_post, now, work, result)
        else:
            bat_nbr = numbering.take_batch_number(conn, "AR", str(locked.LastBatNbr))
            self._step("numbered")
            if batch.kind == PostingKind.PAYMENT:
                pays = [i for i in fresh if isinstance(i, PlannedPayment)]
                self._build_payments(conn, pays, batch, setup, bat_nbr, per_post, now, work, result)
            else:
                refunds = [i for i in fresh if isinstance(i, PlannedRefund)]
                count = sum(2 if r.reverses_invoice else 1 for r in refunds)  # CM + DM, or the DM alone
                refs = numbering.take_ref_numbers(conn, str(locked.LastRefNbr), count)
                self._step("ref_numbered")
                self._build_refunds(conn, refunds, refs, batch, setup, bat_nbr, per_post, now, work, result)
        result.module = module
        result.bat_nbr = bat_nbr
        _stamp_per_ent(work, period.per_ent)
        if bat_nbr:
            batch_row = self._batch_row(batch, module, setup, bat_nbr, per_post, now, work)
            batch_row["PerEnt"] = period.per_ent
            conn.execute(q.insert_stmt(catalog.Batch, include_identity=False), [batch_row])
            self._step("batch_inserted")
        self._insert_all(conn, work)
        if self._pending is not None and module == "AR" and bat_nbr:
            self._pending.stage(conn, bat_nbr, _application_lines(work))
        if self.preflight and bat_nbr:
            # Every row of the new batch was checked column by column on its way in (complete_row /
            # complete_columns): preflight re-reads them only if rows of other origin share the batch.
            tables = {
                "Batch": [batch_row],
                "ARDoc": work.table("ardoc"),
                "ARTran": work.table("artran"),
                "GLTran": work.gltran,
            }
            written = {name: len(rows) for name, rows in tables.items() if required_filled(name, rows)}
            # With the pending cache, the batch's lines are read back by the keys written (ARTran0), not
            # by BatNbr (no index: a pass over ARTran per batch). The batch number was
            # taken under lock in this transaction, so the batch holds no row of anyone else.
            keys = None
            if self._pending is not None and module == "AR":
                keys = WrittenKeys(written_keys(tables["ARTran"], ("CustId", "TranType", "RefNbr")))
            findings = run_preflight(
                conn, module=module, bat_nbr=bat_nbr, written=written, pending=self._pending, keys=keys
            )
            self._step("preflight_done")
            if findings:
                raise PreflightFailed(module, findings)

    # ---- shared row pieces -------------------------------------------------------------------------

    def _per_post(
        self, batch: PlannedBatch, items: Sequence[Item], setup: SLSetup, module: str = "AR"
    ) -> PostingPeriod:
        """One PerPost per batch: the plan's, else SL's fiscal period of the items' dates (all must agree),
        never before SL's current period nor in a closed one (``sl/periods.py``, ``late_items``)."""
        try:
            if batch.per_post:
                return posting_period(batch.per_post, module, setup, self.late_items)
            periods: dict[str, list[str]] = defaultdict(list)
            decided: dict[str, PostingPeriod] = {}
            by_day: dict[dt.date, str] = {}
            for item in items:
                day = item.settled_date if isinstance(item, PlannedSettlement) else item.doc_date
                if day not in by_day:
                    by_day[day] = setup.period_for(day)
                natural = by_day[day]
                if natural not in decided:
                    decided[natural] = posting_period(natural, module, setup, self.late_items)
                periods[decided[natural].per_post].append(item.ledger_key)
        except PeriodError as exc:
            raise WriterError(f"planned {batch.kind} batch ({batch.items[0].ledger_key}, …): {exc}") from exc
        if len(periods) > 1:
            detail = "; ".join(f"{p}: {', '.join(k[:3])}" for p, k in sorted(periods.items()))
            raise WriterError(
                f"planned {batch.kind} batch spans fiscal periods ({detail}); SL allows one PerPost "
                "per batch — split it or set per_post"
            )
        return decided[min(decided)]


def _application_lines(work: _Work) -> list[tuple[object, object, object, object]]:
    """The batch's U lines as written: (CustId, DocType = CostType, RefNbr = SiteId, CuryTranAmt)."""
    rows = work.table("artran")
    if isinstance(rows, ColumnRows):  # payments: one list per varying column, DrCr a constant
        names = ("CustId", "CostType", "SiteId", "CuryTranAmt", "DrCr")
        columns = [rows.varying.get(n) or [rows.constant.get(n)] * rows.count for n in names]
        return [(c, t, s, a) for c, t, s, a, d in zip(*columns, strict=True) if str(d).strip() == "U"]
    return [
        (r.get("CustId"), r.get("CostType"), r.get("SiteId"), r.get("CuryTranAmt"))
        for r in rows
        if str(r.get("DrCr", "")).strip() == "U"
    ]
