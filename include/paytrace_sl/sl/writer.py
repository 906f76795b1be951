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

import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.plan import (
    Account,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.sl import catalog, copy_text, numbering
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.engine import timeout_error
from paytrace_sl.sl.own_tables import POSTING_KINDS, utcnow, xPTLedger
from paytrace_sl.sl.periods import (
    LATE_ITEMS,
    REASON_CLOSED_PERIOD,
    PeriodError,
    PostingPeriod,
    posting_period,
)
from paytrace_sl.sl.preflight import Finding, required_filled, run_preflight
from paytrace_sl.sl.rows import (
    SLValueError,
    complete_columns,
    complete_row,
    fiscal_year,
    money,
    money_read,
)
from paytrace_sl.sl.setup import SLSetup, load_sl_setup

log = logging.getLogger(__name__)

# What the writer is about to do after each step hook, in an operator's words (lock timeout messages).
_STEP_WORDS = {
    "begin": "locking SL's setup row (ARSetup/GLSetup) to number the batch",
    "locked": "numbering the batch",
    "numbered": "inserting the Batch row",
    "void_locked": "removing voided documents",
}

SCREEN_INVOICE_MEMO = "08010"
SCREEN_PAYMENT = "08030"
SCREEN_GL_JOURNAL = "01010"
COPY_THRESHOLD = 200  # rows; below it a plain executemany is as fast and simpler
COPY_CHUNK_LINES = 2000  # COPY lines sent per write (bounded memory, few calls)
CENT = Decimal("0.01")
FIRST_LINE_NBR = -32767  # SL's grid numbering starts at -32767 (reference §2.4)

Item = PlannedPayment | PlannedRefund | PlannedVoid | PlannedSettlement
StepHook = Callable[[str], None]


class WriterError(PaytraceSlError, RuntimeError):
    """The plan cannot be written as given; the message names the batch/item and the field."""


class PreflightFailed(WriterError):
    """SL's release checks failed on the batch we were about to commit; it was rolled back."""

    def __init__(self, module: str, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        lines = "\n".join(f"  {f}" for f in self.findings)
        super().__init__(f"{module} batch failed the release preflight and was rolled back:\n{lines}")


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What happened to one planned item (keyed by its ledger key)."""

    ledger_key: str
    outcome: str  # posted | already_posted | removed | review | nothing_to_do | refused
    doc_type: str = ""
    ref_nbr: str = ""
    message: str = ""


@dataclass
class BatchResult:
    """One planned batch's outcome. ``bat_nbr`` is the SL batch written (for voids: the one batch changed,
    or "" when none or several — see ``touched``); counts and per-item outcomes keyed by ledger key."""

    kind: str
    cpny_id: str
    module: str = ""
    bat_nbr: str = ""
    posted: int = 0
    already_posted: int = 0
    removed: int = 0
    review_items: int = 0
    conflicts: int = 0  # not posted: the id's one posting exists under another kind (review item raised)
    outcomes: dict[str, ItemOutcome] = field(default_factory=dict)
    attempts: int = 1
    touched: list[str] = field(default_factory=list)  # voids: the existing AR batches they changed
    refused: int = 0  # items not written: their period is closed/past and late_items is refuse
    refused_new: int = 0  # of which review items opened now (the rest were already open)
    late_from: str = ""  # the items' own period when the batch was moved to SL's current period

    def add(self, outcome: ItemOutcome) -> None:
        self.outcomes[outcome.ledger_key] = outcome


@dataclass
class WriteResult:
    batches: list[BatchResult] = field(default_factory=list)

    @property
    def posted(self) -> int:
        return sum(b.posted for b in self.batches)

    @property
    def already_posted(self) -> int:
        return sum(b.already_posted for b in self.batches)

    @property
    def removed(self) -> int:
        return sum(b.removed for b in self.batches)

    @property
    def review_items(self) -> int:
        return sum(b.review_items for b in self.batches)

    @property
    def conflicts(self) -> int:
        return sum(b.conflicts for b in self.batches)

    @property
    def batch_numbers(self) -> list[tuple[str, str]]:
        return [(b.module, b.bat_nbr) for b in self.batches if b.bat_nbr]


@dataclass
class _Review:
    transaction_id: int | None
    ledger_key: str
    reason_code: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Work:
    """Rows for one batch, accumulated before the inserts."""

    ardoc: list[dict[str, object]] = field(default_factory=list)
    artran: list[dict[str, object]] = field(default_factory=list)
    gltran: list[dict[str, object]] = field(default_factory=list)
    refnbr: list[dict[str, object]] = field(default_factory=list)
    ledger: list[dict[str, object]] = field(default_factory=list)
    reviews: list[_Review] = field(default_factory=list)
    total: Decimal = Decimal(0)
    deposit: Decimal = Decimal(0)
    bank: Account | None = None
    mixed_bank: bool = False


def _stamp_per_ent(work: _Work, per_ent: str) -> None:
    """``PerEnt`` of every row of the batch: the period current at entry, not ``PerPost`` (§6.3)."""
    for rows in (work.ardoc, work.artran, work.gltran):
        for row in rows:
            row["PerEnt"] = per_ent


def fit_text(table: sa.Table, column: str, text: str) -> str:
    """Free text (descriptions) cut to SL's ``char(n)`` width, as SL's own screens do on entry.

    Only descriptions are cut: keys and numbers that do not fit still fail loudly in ``complete_row``.
    The full text is not lost: the ledger row and ``ExtRefNbr`` keep the transaction's identity.
    """
    width = catalog.char_length(table.c[column])
    return text[:width] if width and len(text) > width else text


def content_hash(item: Item) -> str:
    """SHA-256 of what the plan asked us to post (so a later change to the same transaction is detectable).

    The frozen dataclass ``repr`` lists every field (Decimals and dates exactly), in declaration order.
    """
    return hashlib.sha256(repr(item).encode()).hexdigest()


class SLWriter:
    """Writes posting plans into an SL database, exactly once, leaving every batch unreleased."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        user: str = "PAYTRACE",
        program: str = "PTSL",
        batch_status: str | None = None,
        run_id: str | None = None,
        gl_journal_type: str = "GJ",
        time_zone: str = "America/Los_Angeles",
        step_hook: StepHook | None = None,
        preflight: bool = True,
        bulk: bool = True,
        late_items: str = "current",
    ) -> None:
        if not user or len(user) > 10:
            raise WriterError(f"user {user!r} must be 1..10 characters (SL Crtd_User is char(10))")
        if not program or len(program) > 8:
            raise WriterError(f"program {program!r} must be 1..8 characters (SL Crtd_Prog is char(8))")
        if batch_status not in (None, "H", "B"):
            raise WriterError(
                f"batch_status {batch_status!r}: the writer only creates H (hold) or B (balanced)"
            )
        if not gl_journal_type or len(gl_journal_type) > 3:
            raise WriterError(f"gl_journal_type {gl_journal_type!r} must be 1..3 characters")
        if late_items not in LATE_ITEMS:
            raise WriterError(f"late_items {late_items!r} must be one of {', '.join(LATE_ITEMS)}")
        self.engine = engine
        self.user = user
        self.program = program
        self.batch_status = batch_status
        self.run_id = run_id
        self.gl_journal_type = gl_journal_type
        self.zone = ZoneInfo(time_zone)
        self.step_hook = step_hook
        self._last_step = "starting"
        self.preflight = preflight
        self.bulk = bulk
        self.late_items = late_items
        self._identity_by_db: bool | None = None
        self._setup: dict[str, SLSetup] = {}

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
        self.prepare(b.cpny_id for b in plan.batches)
        result = WriteResult()
        for batch in plan.batches:
            result.batches.append(self.write_batch(batch))
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

    def _step(self, name: str) -> None:
        self._last_step = _STEP_WORDS.get(name, name)
        if self.step_hook is not None:
            self.step_hook(name)

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

    def _status(self, batch: PlannedBatch) -> str:
        return self.batch_status or batch.status

    def _now(self) -> dt.datetime:
        """Audit timestamp: merchant-local wall time at minute precision (SL smalldatetime has no zone)."""
        return dt.datetime.now(self.zone).replace(tzinfo=None, second=0, microsecond=0)

    def _existing(self, conn: sa.Connection, keys: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        pg_array = conn.dialect.name == "postgresql"
        chunk = max(1, len(keys)) if pg_array else 1000
        for start in range(0, len(keys), chunk):
            stmt = q.ledger_keys_stmt(keys[start : start + chunk], pg_array=pg_array)
            out.update((str(key), str(status)) for key, status in conn.execute(stmt))
        return out

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
            with conn.begin():
                self._step("begin")
                if batch.kind == PostingKind.VOID:
                    self._write_voids(conn, batch, result)
                else:
                    self._write_documents(conn, batch, result)
                self._step("before_commit")
            self._step("committed")
        return result

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
        for start in range(0, len(txids), 1000):
            for txid, key, kind in conn.execute(q.posted_txn_stmt(txids[start : start + 1000])):
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

    def _setup_for(self, conn: sa.Connection, cpny_id: str) -> SLSetup:
        if cpny_id not in self._setup:
            self._setup[cpny_id] = load_sl_setup(conn, cpny_id)
        return self._setup[cpny_id]

    def _identity(self, conn: sa.Connection) -> bool:
        if self._identity_by_db is None:
            self._identity_by_db = catalog.identity_supplied_by_db(conn, catalog.ARTran)
        return self._identity_by_db

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
        if self.preflight and bat_nbr:
            # Every row of the new batch was checked column by column on its way in (complete_row /
            # complete_columns): preflight re-reads them only if rows of other origin share the batch.
            tables = {"Batch": [batch_row], "ARDoc": work.ardoc, "ARTran": work.artran, "GLTran": work.gltran}
            written = {name: len(rows) for name, rows in tables.items() if required_filled(name, rows)}
            findings = run_preflight(conn, module=module, bat_nbr=bat_nbr, written=written)
            self._step("preflight_done")
            if findings:
                raise PreflightFailed(module, findings)

    def _insert_all(self, conn: sa.Connection, work: _Work) -> None:
        if work.ardoc:
            self._insert_sl(conn, catalog.ARDoc, work.ardoc, include_identity=False)
            self._step("ardoc_inserted")
        if work.artran:
            identity = self._identity(conn)
            if not identity:  # SQLite: we number RecordID under the write lock; the database does elsewhere
                first = int(conn.execute(q.max_record_id_stmt()).scalar_one()) + 1
                for offset, row in enumerate(work.artran):
                    row["RecordID"] = first + offset
            self._insert_sl(conn, catalog.ARTran, work.artran, include_identity=not identity)
            self._step("artran_inserted")
        if work.refnbr:
            self._insert_sl(conn, catalog.RefNbr, work.refnbr, include_identity=False)
            self._step("refnbr_inserted")
        if work.gltran:
            self._insert_sl(conn, catalog.GLTran, work.gltran, include_identity=False)
            self._step("gltran_inserted")
        if work.ledger:
            if self._use_copy(conn, work.ledger):
                self._copy_own(conn, xPTLedger, work.ledger)
            else:
                self._insert_rows(conn, q.ledger_insert_stmt(), work.ledger)
            self._step("ledger_inserted")
        if work.reviews:
            now = utcnow()
            conn.execute(
                q.review_insert_stmt(),
                [
                    {
                        "transaction_id": r.transaction_id,
                        "ledger_key": r.ledger_key,
                        "reason_code": r.reason_code,
                        "reason": r.reason[:500],
                        "details": json.dumps(r.details, sort_keys=True, default=str),
                        "run_id": self.run_id,
                        "created_at": now,
                        "resolved_at": None,
                        "resolution": None,
                        "resolved_by": None,
                    }
                    for r in work.reviews
                ],
            )
            self._step("reviews_inserted")

    def _use_copy(self, conn: sa.Connection, rows: Sized) -> bool:
        """COPY only on PostgreSQL through psycopg 3, in bulk mode, for batches worth the set-up."""
        return (
            self.bulk
            and len(rows) >= COPY_THRESHOLD
            and conn.dialect.name == "postgresql"
            and conn.dialect.driver == "psycopg"
        )

    def _insert_sl(
        self, conn: sa.Connection, tbl: sa.Table, rows: list[dict[str, object]], *, include_identity: bool
    ) -> None:
        """Check ``rows`` (the values the writer chose) and insert them with every other column blank.

        PostgreSQL bulk: checked column-wise and streamed with COPY. Elsewhere: :func:`complete_row` per
        row and one executemany (psycopg pipelines it; SQL Server uses fast_executemany). The rows and
        the errors for a bad value are the same on both paths.
        """
        if self._use_copy(conn, rows):
            given, blanks = complete_columns(tbl, rows, include_identity=include_identity)
            # Columns holding one value for the whole batch join the blanks in the constant line suffix.
            varying = [(n, v) for n, v in given if v.count(v[0]) != len(v)] or given[:1]
            constant = {n: v[0] for n, v in given if (n, v) not in varying} | blanks
            names = [n for n, _ in varying] + list(constant)
            rendered = [copy_text.render_column(values) for _, values in varying]
            self._copy(conn, tbl, names, copy_text.lines(rendered, constant.values()))
            return
        complete = [complete_row(tbl, row, include_identity=include_identity) for row in rows]
        self._insert_rows(conn, q.insert_stmt(tbl, include_identity=include_identity), complete)

    def _insert_rows(self, conn: sa.Connection, stmt: sa.Insert, rows: list[dict[str, object]]) -> None:
        """One executemany per table, or — ``bulk=False`` — one INSERT per row (the naive baseline)."""
        if self.bulk:
            conn.execute(stmt, rows)
        else:
            for row in rows:
                conn.execute(stmt, row)

    def _copy_own(self, conn: sa.Connection, tbl: sa.Table, rows: list[dict[str, object]]) -> None:
        """COPY rows of one of our ``xPT*`` tables, converted by the columns' own bind logic (UTC times)."""
        names = list(rows[0])
        columns = []
        for name in names:
            col_type = tbl.c[name].type
            convert = (
                functools.partial(col_type.process_bind_param, dialect=conn.dialect)
                if isinstance(col_type, sa.types.TypeDecorator)
                else None
            )
            columns.append(copy_text.render_column([row[name] for row in rows], convert))
        self._copy(conn, tbl, names, copy_text.lines(columns))

    def _copy(self, conn: sa.Connection, tbl: sa.Table, names: Sequence[str], data: Iterable[str]) -> None:
        """``COPY <tbl> (<names>) FROM STDIN`` on the connection's own transaction (all or nothing).

        A unique-key collision (a concurrent writer got there first) surfaces as SQLAlchemy's
        IntegrityError, exactly as from an INSERT, so :meth:`write_batch` retries the batch.
        """
        import psycopg  # the COPY path runs only under the psycopg 3 driver

        prep = conn.dialect.identifier_preparer
        columns = ", ".join(prep.format_column(tbl.c[n]) for n in names)
        sql = f"COPY {prep.format_table(tbl)} ({columns}) FROM STDIN"
        raw: Any = conn.connection.driver_connection
        chunk: list[str] = []
        try:
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                for line in data:
                    chunk.append(line)
                    if len(chunk) == COPY_CHUNK_LINES:
                        copy.write("".join(chunk))
                        chunk.clear()
                if chunk:
                    copy.write("".join(chunk))
        except psycopg.IntegrityError as exc:
            raise sa.exc.IntegrityError(sql, None, exc) from exc

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

    def _refuse(
        self, conn: sa.Connection, items: Sequence[Item], period: PostingPeriod, result: BatchResult
    ) -> None:
        """``late_items: refuse``: nothing goes to SL; each item waits in review (one open item per key).

        No ledger row is written, so a later run (after the setting changed or SL reopened the period)
        decides again.
        """
        keys = [i.ledger_key for i in items]
        already_open: set[str] = set()
        for start in range(0, len(keys), 1000):  # SQL Server: at most 2,100 parameters per statement
            chunk = keys[start : start + 1000]
            already_open.update(
                str(k) for (k,) in conn.execute(q.open_reviews_stmt(chunk, REASON_CLOSED_PERIOD))
            )
        work = _Work()
        for item in items:
            reason = f"{item.ledger_key} not posted: {period.refused}"
            if item.ledger_key not in already_open:
                work.reviews.append(
                    _Review(
                        getattr(item, "transaction_id", None),
                        item.ledger_key,
                        REASON_CLOSED_PERIOD,
                        reason,
                        {"period": period.natural, "current_period": period.per_ent},
                    )
                )
            result.add(ItemOutcome(item.ledger_key, "refused", message=reason))
        result.refused = len(items)
        result.refused_new = len(work.reviews)
        self._insert_all(conn, work)

    def _audit(self, now: dt.datetime) -> dict[str, object]:
        """The six audit columns (a fresh dict per call: callers merge it into rows)."""
        return {
            "Crtd_DateTime": now,
            "Crtd_Prog": self.program,
            "Crtd_User": self.user,
            "LUpd_DateTime": now,
            "LUpd_Prog": self.program,
            "LUpd_User": self.user,
        }

    def _cury(self, setup: SLSetup, day: dt.date) -> dict[str, object]:
        """Base-currency document: rate 1, multiply (what SL's screens write for the base currency)."""
        return {"CuryId": setup.base_cury_id, "CuryMultDiv": "M", "CuryRate": 1.0, "CuryEffDate": day}

    def _ledger_row(
        self,
        item: Item,
        *,
        kind: str,
        cpny: str,
        module: str,
        bat_nbr: str,
        doc_type: str,
        ref_nbr: str,
        cust_id: str,
        amount: Decimal,
        setup: SLSetup,
        per_post: str,
        status: str = "posted",
        note: str | None = None,
    ) -> dict[str, object]:
        now = utcnow()
        txn = getattr(item, "transaction_id", None)
        return {
            "ledger_key": item.ledger_key,
            "transaction_id": txn,
            "kind": kind,
            "cpny_id": cpny,
            "module": module,
            "bat_nbr": bat_nbr,
            "doc_type": doc_type,
            "ref_nbr": ref_nbr,
            "cust_id": cust_id,
            "amount": amount.quantize(CENT),
            "cury_id": setup.base_cury_id,
            "per_post": per_post,
            "paytrace_state": getattr(item, "paytrace_state", ""),
            "content_hash": content_hash(item),
            "status": status,
            "run_id": self.run_id,
            "posted_at": now,
            "updated_at": now,
            "note": note,
            "settle_batch_nbr": None,
            # one posting per PayTrace id whatever its type (unique): set on the payment/refund row
            "posted_txn_id": txn if kind in POSTING_KINDS else None,
            "paytrace_type": getattr(item, "paytrace_type", "") or None,
            "customer_digest": getattr(item, "customer_digest", "") or None,
        }

    def _batch_row(
        self,
        batch: PlannedBatch,
        module: str,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
    ) -> dict[str, object]:
        dec = setup.cury_dec_pl
        total = money(work.total, dec)
        values: dict[str, object] = {
            "Module": module,
            "BatNbr": bat_nbr,
            "CpnyID": batch.cpny_id,
            "BatType": "N",
            "Status": self._status(batch),
            "Rlsed": 0,
            "PerPost": per_post,
            "PerEnt": per_post,
            "BaseCuryID": setup.base_cury_id,
            "LedgerID": setup.ledger_id,
            "DateEnt": now.date(),
            "Descr": fit_text(catalog.Batch, "Descr", batch.description or f"PayTrace {batch.kind}s"),
            "CuryRateType": " ",
            **self._cury(setup, now.date()),
            **self._audit(now),
        }
        if module == "GL":
            values.update(
                {
                    "EditScrnNbr": SCREEN_GL_JOURNAL,
                    "JrnlType": self.gl_journal_type,
                    "BalanceType": "A",
                    "CtrlTot": total,
                    "CrTot": total,
                    "DrTot": total,
                    "CuryCtrlTot": total,
                    "CuryCrTot": total,
                    "CuryDrTot": total,
                }
            )
        else:
            screen = SCREEN_PAYMENT if batch.kind == PostingKind.PAYMENT else SCREEN_INVOICE_MEMO
            # SL release error 12123: CuryCrTot must equal Σ CuryOrigDocAmt of the batch's documents.
            values.update(
                {
                    "EditScrnNbr": screen,
                    "JrnlType": "AR",
                    "GLPostOpt": "D",
                    "CtrlTot": total,
                    "CrTot": total,
                    "CuryCtrlTot": total,
                    "CuryCrTot": total,
                }
            )
            if batch.kind == PostingKind.PAYMENT:
                deposit = money(work.deposit, dec)
                values.update({"DepositAmt": deposit, "CuryDepositAmt": deposit})
                if work.bank is not None and not work.mixed_bank:
                    values.update({"BankAcct": work.bank.acct, "BankSub": work.bank.sub})
        return complete_row(catalog.Batch, values, include_identity=False)

    def _ardoc(
        self,
        *,
        cust_id: str,
        doc_type: str,
        ref_nbr: str,
        bat_nbr: str,
        appl_bat_nbr: str,
        cpny: str,
        day: dt.date,
        amount: float,
        applied: float,
        bank: Account,
        per_post: str,
        desc: str,
        ext_ref: str,
        line_cntr: int,
        setup: SLSetup,
        now: dt.datetime,
    ) -> dict[str, object]:
        values: dict[str, object] = {
            "CustId": cust_id,
            "DocType": doc_type,
            "RefNbr": ref_nbr,
            "BatNbr": bat_nbr,
            "BatSeq": 0,
            "ApplBatNbr": appl_bat_nbr,
            "CpnyID": cpny,
            "DocDate": day,
            "DueDate": day,
            "DiscDate": day,
            "DocDesc": fit_text(catalog.ARDoc, "DocDesc", desc),
            "BankAcct": bank.acct,
            "BankSub": bank.sub,
            "CuryOrigDocAmt": amount,
            "OrigDocAmt": amount,
            "CuryDocBal": amount,
            "DocBal": amount,
            "CuryApplAmt": applied,
            "ApplAmt": applied,
            "DocClass": "N",
            "OpenDoc": 1,
            "Rlsed": 0,
            "PerEnt": per_post,
            "PerPost": per_post,
            "CustOrdNbr": ext_ref,
            "LineCntr": line_cntr,
            **self._cury(setup, day),
            **self._audit(now),
        }
        return values  # checked and completed with SL blanks at insert time (_insert_sl)

    def _artran(
        self,
        *,
        cust_id: str,
        tran_type: str,
        ref_nbr: str,
        bat_nbr: str,
        cpny: str,
        line: int,
        drcr: str,
        acct: Account,
        amount: float,
        day: dt.date,
        per_post: str,
        desc: str,
        ext_ref: str,
        setup: SLSetup,
        now: dt.datetime,
        extra: dict[str, object] | None = None,
    ) -> dict[str, object]:
        values: dict[str, object] = {
            "CustId": cust_id,
            "TranType": tran_type,
            "RefNbr": ref_nbr,
            "BatNbr": bat_nbr,
            "CpnyID": cpny,
            "LineNbr": FIRST_LINE_NBR + line,
            "LineId": line + 1,
            "LineRef": f"{line + 1:05d}",
            "DrCr": drcr,
            "Acct": acct.acct,
            "Sub": acct.sub,
            "CuryTranAmt": amount,
            "TranAmt": amount,
            "TranDate": day,
            "TranDesc": fit_text(catalog.ARTran, "TranDesc", desc),
            "ExtRefNbr": ext_ref,
            "PerEnt": per_post,
            "PerPost": per_post,
            "FiscYr": fiscal_year(per_post),
            "JrnlType": "AR",
            "Rlsed": 0,
            "TranClass": "N",
            "Qty": 0.0,
            **self._cury(setup, day),
            **self._audit(now),
        }
        values.pop("CuryEffDate")  # ARTran has no CuryEffDate
        values.update(extra or {})
        return values  # checked and completed with SL blanks at insert time (_insert_sl)

    # ---- payments ----------------------------------------------------------------------------------

    def _build_payments(
        self,
        conn: sa.Connection,
        pays: Sequence[PlannedPayment],
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
        result: BatchResult,
    ) -> None:
        dec = setup.cury_dec_pl
        refs = {a.ref_nbr for p in pays for a in p.applications}
        docs: dict[tuple[str, str], list[sa.Row[Any]]] = defaultdict(list)
        pending: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        if refs:
            pg_array = conn.dialect.name == "postgresql"  # one array parameter instead of 1,000-item INs
            chunk_size = len(refs) if pg_array else 1000
            ordered = sorted(refs)
            for start in range(0, len(ordered), chunk_size):
                chunk = ordered[start : start + chunk_size]
                for row in conn.execute(q.adjusted_docs_stmt(chunk, pg_array=pg_array)).all():
                    docs[(str(row.DocType).strip(), str(row.RefNbr).strip())].append(row)
                for cust, dtype, ref, amt in conn.execute(
                    q.pending_applications_stmt(chunk, pg_array=pg_array)
                ).all():
                    pending[(str(cust).strip(), str(dtype).strip(), str(ref).strip())] += Decimal(
                        str(amt or 0)
                    )
            self._step("invoices_checked")
        chosen: dict[tuple[str, str, str], sa.Row[Any] | None] = {}

        def find(doc_type: str, ref: str, cust_id: str) -> sa.Row[Any] | None:
            key = (doc_type, ref, cust_id)
            if key not in chosen:
                chosen[key] = self._find_doc(docs, doc_type, ref, cust_id)
            return chosen[key]

        for pay in pays:
            ref_nbr = str(pay.transaction_id)
            if len(ref_nbr) > 10:
                raise SLValueError("ARDoc", "RefNbr", ref_nbr, "PayTrace transaction id longer than char(10)")
            if pay.amount <= 0:
                raise WriterError(f"payment {pay.ledger_key}: amount {pay.amount} must be positive")
            amount = money(pay.amount, dec)
            lines: list[dict[str, object]] = []
            applied_total = Decimal(0)
            reviews: list[_Review] = []
            if pay.review_reason:
                reviews.append(
                    _Review(
                        pay.transaction_id,
                        pay.ledger_key,
                        "plan_review",
                        pay.review_reason,
                        {"bat_nbr": bat_nbr, "ref_nbr": ref_nbr},
                    )
                )
            for appl in pay.applications:
                problem = self._check_application(
                    pay, appl.ref_nbr, appl.doc_type, appl.amount, applied_total, docs, pending, find
                )
                part = self._partial_application(pay, appl.ref_nbr, appl.doc_type, appl.amount, pending, find)
                if problem and part is not None and problem[0] == "appl_short_balance":
                    problem, appl_amount = part
                else:
                    appl_amount = appl.amount
                if problem:
                    code, reason = problem
                    reviews.append(
                        _Review(
                            pay.transaction_id,
                            pay.ledger_key,
                            code,
                            reason,
                            {
                                "bat_nbr": bat_nbr,
                                "ref_nbr": ref_nbr,
                                "invoice": appl.ref_nbr,
                                "doc_type": appl.doc_type,
                                "amount": str(appl.amount),
                            },
                        )
                    )
                    if appl_amount == appl.amount:
                        continue  # nothing of it can be applied: the payment stays unapplied (on account)
                inv = find(appl.doc_type, appl.ref_nbr, pay.cust_id)
                assert inv is not None
                pending[(pay.cust_id, appl.doc_type, appl.ref_nbr)] += appl_amount
                applied_total += appl_amount
                applied = money(appl_amount, dec)
                lines.append(
                    self._artran(
                        cust_id=pay.cust_id,
                        tran_type="PA",
                        ref_nbr=ref_nbr,
                        bat_nbr=bat_nbr,
                        cpny=batch.cpny_id,
                        line=len(lines),
                        drcr="U",
                        acct=Account(str(inv.BankAcct).strip(), str(inv.BankSub).strip()),
                        amount=applied,
                        day=pay.doc_date,
                        per_post=per_post,
                        desc=pay.description,
                        ext_ref=pay.ext_ref_nbr,
                        setup=setup,
                        now=now,
                        extra={
                            "SiteId": appl.ref_nbr,
                            "CostType": appl.doc_type,
                            "CuryUnitPrice": 0.0,
                            "CnvFact": 0.0,
                            "UnitPrice": float(inv.CuryRate or 1.0),
                            "TranClass": " ",
                        },
                    )
                )
            if applied_total > pay.amount:
                raise WriterError(
                    f"payment {pay.ledger_key}: applications {applied_total} exceed amount {pay.amount}"
                )
            work.ardoc.append(
                self._ardoc(
                    cust_id=pay.cust_id,
                    doc_type="PA",
                    ref_nbr=ref_nbr,
                    bat_nbr=bat_nbr,
                    appl_bat_nbr=bat_nbr,
                    cpny=batch.cpny_id,
                    day=pay.doc_date,
                    amount=amount,
                    applied=money(applied_total, dec),
                    bank=pay.cash_account,
                    per_post=per_post,
                    desc=pay.description,
                    ext_ref=pay.ext_ref_nbr,
                    line_cntr=len(lines),
                    setup=setup,
                    now=now,
                )
            )
            work.artran.extend(lines)
            rounded = Decimal(str(amount))
            work.total += rounded
            work.deposit += rounded
            if work.bank is None:
                work.bank = pay.cash_account
            elif work.bank != pay.cash_account:
                work.mixed_bank = True
            note = "; ".join(r.reason for r in reviews) or None
            work.ledger.append(
                self._ledger_row(
                    pay,
                    kind="payment",
                    cpny=batch.cpny_id,
                    module="AR",
                    bat_nbr=bat_nbr,
                    doc_type="PA",
                    ref_nbr=ref_nbr,
                    cust_id=pay.cust_id,
                    amount=pay.amount,
                    setup=setup,
                    per_post=per_post,
                    note=note[:255] if note else None,
                )
            )
            work.reviews.extend(reviews)
            result.posted += 1
            result.review_items += len(reviews)
            result.add(
                ItemOutcome(pay.ledger_key, "review" if reviews else "posted", "PA", ref_nbr, note or "")
            )

    @staticmethod
    def _find_doc(
        docs: dict[tuple[str, str], list[sa.Row[Any]]], doc_type: str, ref: str, cust_id: str
    ) -> sa.Row[Any] | None:
        rows = [r for r in docs.get((doc_type, ref), []) if str(r.CustId).strip() == cust_id]
        released = [r for r in rows if int(r.Rlsed) == 1]
        chosen = released or rows
        return chosen[0] if chosen else None

    def _check_application(
        self,
        pay: PlannedPayment,
        ref: str,
        doc_type: str,
        amount: Decimal,
        applied_so_far: Decimal,
        docs: dict[tuple[str, str], list[sa.Row[Any]]],
        pending: dict[tuple[str, str, str], Decimal],
        find: Callable[[str, str, str], sa.Row[Any] | None],
    ) -> tuple[str, str] | None:
        """Why this application cannot be written now (reason code, text), or None when it can."""
        if amount <= 0:
            return "appl_bad_amount", f"application of {amount} to {doc_type} {ref} is not positive"
        if applied_so_far + amount > pay.amount:
            return "appl_exceeds_payment", (
                f"applications to {doc_type} {ref} would exceed the payment amount "
                f"{pay.amount}; posted unapplied"
            )
        candidates = docs.get((doc_type, ref), [])
        if not candidates:
            return "appl_invoice_missing", f"{doc_type} {ref} does not exist in SL; payment posted unapplied"
        doc = find(doc_type, ref, pay.cust_id)
        if doc is None:
            owners = sorted({str(r.CustId).strip() for r in candidates})
            return "appl_wrong_customer", (
                f"{doc_type} {ref} belongs to customer {', '.join(owners)}, not "
                f"{pay.cust_id}; payment posted unapplied"
            )
        if int(doc.Rlsed) != 1:
            return (
                "appl_invoice_unreleased",
                f"{doc_type} {ref} is not released in SL yet; payment posted unapplied",
            )
        balance = Decimal(str(doc.CuryDocBal))
        if int(doc.OpenDoc) != 1 or balance <= 0:
            return (
                "appl_invoice_closed",
                f"{doc_type} {ref} is already paid (closed); payment posted unapplied",
            )
        already = pending[(pay.cust_id, doc_type, ref)]
        if already + amount > balance:
            return "appl_short_balance", (
                f"{doc_type} {ref} open balance {balance:.2f} (minus {already:.2f} "
                f"awaiting release) is less than {amount}; payment posted unapplied"
            )
        return None

    @staticmethod
    def _partial_application(
        pay: PlannedPayment,
        ref: str,
        doc_type: str,
        amount: Decimal,
        pending: dict[tuple[str, str, str], Decimal],
        find: Callable[[str, str, str], sa.Row[Any] | None],
    ) -> tuple[tuple[str, str], Decimal] | None:
        """A payment larger than the invoice's open balance is split (docs/accounting.md §2).

        Applied: min(amount, open balance − applications waiting in unreleased batches); the rest stays
        unapplied on the customer's account. The same split whatever SL released in between: a released
        application lowered ``DocBal`` by exactly what an unreleased one counts in ``pending``. None when
        nothing of the invoice is left to apply (the whole payment stays unapplied).
        """
        doc = find(doc_type, ref, pay.cust_id)
        if doc is None or int(doc.Rlsed) != 1 or int(doc.OpenDoc) != 1:
            return None
        balance = Decimal(str(doc.CuryDocBal)).quantize(CENT)
        already = pending[(pay.cust_id, doc_type, ref)]
        available = balance - already
        if available <= 0 or available >= amount:
            return None
        return (
            "appl_partial",
            f"{doc_type} {ref} open balance {balance:.2f} (minus {already:.2f} awaiting release) covers "
            f"{available:.2f} of {amount:.2f}: applied {available:.2f}, {amount - available:.2f} posted "
            "unapplied (on account); apply or refund it in SL",
        ), available

    # ---- refunds -----------------------------------------------------------------------------------

    def _build_refunds(
        self,
        conn: sa.Connection,
        refunds: Sequence[PlannedRefund],
        refs: Sequence[str],
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
        result: BatchResult,
    ) -> None:
        """Per refund (docs/accounting.md §3): reversing an invoice the sale paid, a credit memo (Dr
        refunds, Cr A/R) + a debit memo (Dr A/R, Cr clearing), A/R nets 0; returning money paid on
        account, the debit memo alone, and a review item names the customer's unapplied payment to apply
        to it in 08.030 (SL's application path needs both documents released; we do not apply it)."""
        dec = setup.cury_dec_pl
        customers = {
            str(r.CustId).strip(): r for r in conn.execute(q.customers_stmt({r.cust_id for r in refunds}))
        }
        pos = 0
        for refund in refunds:
            if refund.amount <= 0:
                raise WriterError(f"refund {refund.ledger_key}: amount {refund.amount} must be positive")
            ar = refund.ar_account or self._customer_ar(customers.get(refund.cust_id), setup)
            amount = money(refund.amount, dec)
            desc = refund.description or f"PayTrace refund {refund.transaction_id}"
            ext = refund.ext_ref_nbr or str(refund.transaction_id)
            documents: tuple[tuple[str, str, str, Account], ...]
            if refund.reverses_invoice:
                cm_ref, dm_ref = refs[pos], refs[pos + 1]
                documents = (
                    ("CM", cm_ref, "D", refund.refund_account),
                    ("DM", dm_ref, "C", refund.clearing_account),
                )
                pos += 2
            else:
                cm_ref, dm_ref = "", refs[pos]
                documents = (("DM", dm_ref, "C", refund.clearing_account),)
                pos += 1
            for doc_type, ref, drcr, detail in documents:
                work.ardoc.append(
                    self._ardoc(
                        cust_id=refund.cust_id,
                        doc_type=doc_type,
                        ref_nbr=ref,
                        bat_nbr=bat_nbr,
                        appl_bat_nbr=" ",
                        cpny=batch.cpny_id,
                        day=refund.doc_date,
                        amount=amount,
                        applied=0.0,
                        bank=ar,
                        per_post=per_post,
                        desc=desc,
                        ext_ref=ext,
                        line_cntr=1,
                        setup=setup,
                        now=now,
                    )
                )
                work.artran.append(
                    self._artran(
                        cust_id=refund.cust_id,
                        tran_type=doc_type,
                        ref_nbr=ref,
                        bat_nbr=bat_nbr,
                        cpny=batch.cpny_id,
                        line=0,
                        drcr=drcr,
                        acct=detail,
                        amount=amount,
                        day=refund.doc_date,
                        per_post=per_post,
                        desc=desc,
                        ext_ref=ext,
                        setup=setup,
                        now=now,
                        extra={"Qty": 1.0, "UnitPrice": amount, "CuryUnitPrice": amount},
                    )
                )
                work.refnbr.append({"RefNbr": ref, "DocType": doc_type, **self._audit(now)})
                work.total += Decimal(str(amount))
            message = f"CM {cm_ref} + DM {dm_ref}" if cm_ref else f"DM {dm_ref}"
            reviews: list[_Review] = []
            if refund.review_reason:
                reviews.append(
                    _Review(
                        refund.transaction_id,
                        refund.ledger_key,
                        "plan_review",
                        refund.review_reason,
                        {"bat_nbr": bat_nbr, "ref_nbr": dm_ref},
                    )
                )
            if not cm_ref:
                reviews.append(self._refund_application_review(conn, refund, dm_ref, bat_nbr))
            note = "; ".join([message, *(r.reason for r in reviews)])
            work.ledger.append(
                self._ledger_row(
                    refund,
                    kind="refund",
                    cpny=batch.cpny_id,
                    module="AR",
                    bat_nbr=bat_nbr,
                    doc_type="CM" if cm_ref else "DM",
                    ref_nbr=cm_ref or dm_ref,
                    cust_id=refund.cust_id,
                    amount=refund.amount,
                    setup=setup,
                    per_post=per_post,
                    note=note[:255],
                )
            )
            work.reviews.extend(reviews)
            result.posted += 1
            result.review_items += len(reviews)
            result.add(
                ItemOutcome(
                    refund.ledger_key,
                    "review" if reviews else "posted",
                    "CM" if cm_ref else "DM",
                    cm_ref or dm_ref,
                    message,
                )
            )

    @staticmethod
    def _refund_application_review(
        conn: sa.Connection, refund: PlannedRefund, dm_ref: str, bat_nbr: str
    ) -> _Review:
        """The review item of a refund of money on account: which payment should pay its DM.

        PayTrace does not link a refund to its sale, so the candidate is the customer's latest payment
        with enough unapplied money (and the same PayTrace invoice id, when the refund carries one).
        """
        pay = conn.execute(q.refund_candidate_payments_stmt(refund.cust_id, refund.ext_ref_nbr or "")).all()
        candidate = ""
        for row in pay:
            unapplied = (
                money_read(row.DocBal)
                if int(row.Rlsed) == 1
                else money_read(row.OrigDocAmt) - money_read(row.ApplAmt)
            )
            if unapplied >= refund.amount:
                candidate = str(row.RefNbr).strip()
                break
        what = f"PA {candidate}" if candidate else "the customer's unapplied payment"
        reason = (
            f"refund of money on account: DM {dm_ref} (AR batch {bat_nbr}) credits clearing for "
            f"{refund.amount}; apply {what} of customer {refund.cust_id} to DM {dm_ref} in 08.030 "
            "once both are released"
        )
        return _Review(
            refund.transaction_id,
            refund.ledger_key,
            "refund_apply_credit",
            reason,
            {"bat_nbr": bat_nbr, "dm": dm_ref, "payment": candidate, "cust_id": refund.cust_id},
        )

    @staticmethod
    def _customer_ar(customer: sa.Row[Any] | None, setup: SLSetup) -> Account:
        if customer is not None and str(customer.ArAcct).strip():
            return Account(str(customer.ArAcct).strip(), str(customer.ArSub).strip() or setup.ar_account.sub)
        return setup.ar_account

    # ---- settlements -------------------------------------------------------------------------------

    def _build_settlements(
        self,
        items: Sequence[PlannedSettlement],
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
        result: BatchResult,
    ) -> None:
        """Dr bank / Cr card clearing for the settled net (reversed when the net is negative)."""
        dec = setup.cury_dec_pl
        line = 0
        for item in items:
            if item.bank_account == item.clearing_account:
                raise WriterError(
                    f"settlement {item.ledger_key}: bank and clearing account are the same "
                    f"({item.bank_account.acct}/{item.bank_account.sub})"
                )
            ref = str(item.batch_number)
            if item.net_amount == 0:
                work.ledger.append(
                    self._ledger_row(
                        item,
                        kind="settlement",
                        cpny=batch.cpny_id,
                        module="GL",
                        bat_nbr="",
                        doc_type="GL",
                        ref_nbr=ref,
                        cust_id="",
                        amount=Decimal(0),
                        setup=setup,
                        per_post=per_post,
                        note="net 0: nothing to post",
                    )
                )
                result.posted += 1
                result.add(ItemOutcome(item.ledger_key, "nothing_to_do", "GL", ref, "net 0: nothing to post"))
                continue
            amount = money(abs(item.net_amount), dec)
            debit, credit = (
                (item.bank_account, item.clearing_account)
                if item.net_amount > 0
                else (item.clearing_account, item.bank_account)
            )
            desc = item.description or f"PayTrace settlement {item.batch_number}"
            for acct, dr, cr in ((debit, amount, 0.0), (credit, 0.0, amount)):
                work.gltran.append(
                    {
                        "Module": "GL",
                        "BatNbr": bat_nbr,
                        "LineNbr": FIRST_LINE_NBR + line,
                        "LineId": line + 1,
                        "CpnyID": batch.cpny_id,
                        "Acct": acct.acct,
                        "Sub": acct.sub,
                        "DrAmt": dr,
                        "CrAmt": cr,
                        "CuryDrAmt": dr,
                        "CuryCrAmt": cr,
                        "BalanceType": "A",
                        "BaseCuryID": setup.base_cury_id,
                        "LedgerID": setup.ledger_id,
                        "JrnlType": self.gl_journal_type,
                        "TranType": "GL",
                        "RefNbr": ref,
                        "ExtRefNbr": ref,
                        "TranDate": item.settled_date,
                        "TranDesc": fit_text(catalog.GLTran, "TranDesc", desc),
                        "PerEnt": per_post,
                        "PerPost": per_post,
                        "FiscYr": fiscal_year(per_post),
                        "Posted": "U",
                        "Rlsed": 0,
                        **self._cury(setup, item.settled_date),
                        **self._audit(now),
                    }
                )
                line += 1
            work.total += Decimal(str(amount))
            work.ledger.append(
                self._ledger_row(
                    item,
                    kind="settlement",
                    cpny=batch.cpny_id,
                    module="GL",
                    bat_nbr=bat_nbr,
                    doc_type="GL",
                    ref_nbr=ref,
                    cust_id="",
                    amount=item.net_amount,
                    setup=setup,
                    per_post=per_post,
                )
            )
            result.posted += 1
            result.add(ItemOutcome(item.ledger_key, "posted", "GL", ref))

    # ---- voids -------------------------------------------------------------------------------------

    def _write_voids(self, conn: sa.Connection, batch: PlannedBatch, result: BatchResult) -> None:
        """Remove voided sales' payments from batches SL has not released; otherwise raise a review item."""
        setup = self._setup_for(conn, batch.cpny_id)
        dec = setup.cury_dec_pl
        now = self._now()
        work = _Work()
        touched: set[str] = set()
        memo_batches: set[str] = set()  # 08010 batches (a voided refund's memos): no deposit amount
        if conn.dialect.name == "sqlite":  # take SQLite's write lock first (BEGIN IMMEDIATE semantics)
            conn.execute(numbering.sqlite_write_lock_stmt("AR"))
        voids = [i for i in batch.items if isinstance(i, PlannedVoid)]
        existing = self._existing(conn, [v.ledger_key for v in voids])
        for void in voids:
            if void.ledger_key in existing:
                result.already_posted += 1
                result.add(ItemOutcome(void.ledger_key, "already_posted"))
                continue
            pay_key = PlannedPayment(
                void.transaction_id, "", Decimal(0), void.doc_date, Account("", "")
            ).ledger_key
            pay = conn.execute(q.ledger_row_stmt(pay_key)).first()
            if pay is None or str(pay.kind).strip() == "refund":  # the voided transaction was a refund
                refund_key = PlannedRefund(
                    void.transaction_id, "", Decimal(0), void.doc_date, Account("", ""), Account("", "")
                ).ledger_key
                refund_row = pay if pay is not None else conn.execute(q.ledger_row_stmt(refund_key)).first()
                if refund_row is not None and refund_row.status == "posted":
                    self._void_refund(conn, void, refund_key, refund_row, batch, setup, work, result, touched)
                    memo_batches.add(str(refund_row.bat_nbr).strip())
                    continue
            if pay is None or pay.status != "posted":
                why = (
                    "the sale was never posted to SL"
                    if pay is None
                    else f"its payment is already {pay.status}"
                )
                work.ledger.append(self._void_ledger(void, batch, setup, "", "", "", "", note=why))
                result.add(ItemOutcome(void.ledger_key, "nothing_to_do", message=why))
                continue
            bat_nbr, cust, ref = str(pay.bat_nbr).strip(), str(pay.cust_id).strip(), str(pay.ref_nbr).strip()
            header = conn.execute(q.lock_batch_stmt("AR", bat_nbr)).first()
            self._step("void_locked")
            doc = conn.execute(q.payment_doc_stmt(cust, ref, bat_nbr)).first()
            unreleased = (
                header is not None
                and int(header.Rlsed) == 0
                and str(header.Status).strip() in q.UNRELEASED_STATUSES
                and doc is not None
                and int(doc.Rlsed) == 0
            )
            if not unreleased:
                status = "missing" if header is None else f"status {str(header.Status).strip()}"
                reason = (
                    f"void after release: PayTrace voided sale {void.transaction_id}, but its payment PA "
                    f"{ref} (customer {cust}) in AR batch {bat_nbr} ({status}) is already released or "
                    "out of our hands; enter an NS/RP reversal in SL (08.240)"
                )
                work.reviews.append(
                    _Review(
                        void.transaction_id,
                        void.ledger_key,
                        "void_after_release",
                        reason,
                        {"bat_nbr": bat_nbr, "ref_nbr": ref, "cust_id": cust},
                    )
                )
                work.ledger.append(
                    self._void_ledger(
                        void,
                        batch,
                        setup,
                        bat_nbr,
                        ref,
                        cust,
                        "PA",
                        note="void after release: review item raised",
                    )
                )
                result.review_items += 1
                result.add(ItemOutcome(void.ledger_key, "review", "PA", ref, reason))
                continue
            conn.execute(q.delete_payment_lines_stmt(cust, ref, bat_nbr))
            conn.execute(q.delete_payment_doc_stmt(cust, ref, bat_nbr))
            self._step("void_deleted")
            conn.execute(
                q.ledger_mark_removed_stmt(pay_key),
                {"updated_at": utcnow(), "note": f"voided in PayTrace; removed by {void.ledger_key}"},
            )
            work.ledger.append(
                self._void_ledger(
                    void,
                    batch,
                    setup,
                    bat_nbr,
                    ref,
                    cust,
                    "PA",
                    note=f"removed PA {ref} from AR batch {bat_nbr}",
                )
            )
            touched.add(bat_nbr)
            result.removed += 1
            result.add(ItemOutcome(void.ledger_key, "removed", "PA", ref, f"removed from AR batch {bat_nbr}"))
        for bat_nbr in sorted(touched):
            count, cury_sum, base_sum = conn.execute(q.batch_doc_sums_stmt(bat_nbr)).one()
            cury_total, base_total = money(Decimal(str(cury_sum)), dec), money(Decimal(str(base_sum)), dec)
            header = conn.execute(q.lock_batch_stmt("AR", bat_nbr)).one()
            # An emptied batch is voided (Status V): SL treats V as deleted, so users see no empty batch.
            status = str(header.Status).strip() if count else "V"
            conn.execute(
                q.update_batch_totals_stmt("AR", bat_nbr),
                {
                    "CrTot": base_total,
                    "CtrlTot": base_total,
                    "CuryCrTot": cury_total,
                    "CuryCtrlTot": cury_total,
                    "DepositAmt": 0.0 if bat_nbr in memo_batches else base_total,
                    "CuryDepositAmt": 0.0 if bat_nbr in memo_batches else cury_total,
                    "Status": status,
                    "LUpd_DateTime": now,
                    "LUpd_Prog": self.program,
                    "LUpd_User": self.user,
                },
            )
            self._step("void_totals_fixed")
        result.module = "AR" if touched else ""
        result.touched = sorted(touched)
        result.bat_nbr = result.touched[0] if len(result.touched) == 1 else ""
        self._insert_all(conn, work)
        if self.preflight:
            for bat_nbr in sorted(touched):
                findings = run_preflight(conn, module="AR", bat_nbr=bat_nbr)
                if findings:
                    raise PreflightFailed("AR", findings)

    def _void_refund(
        self,
        conn: sa.Connection,
        void: PlannedVoid,
        refund_key: str,
        row: sa.Row[Any],
        batch: PlannedBatch,
        setup: SLSetup,
        work: _Work,
        result: BatchResult,
        touched: set[str],
    ) -> None:
        """A refund voided in PayTrace (issue 11 §5): its CM/DM leave an unreleased batch, as a voided
        sale's payment does; once released, a review item (and reconciliation's unexplained difference)
        stays until someone reverses the memos in SL."""
        bat_nbr, cust = str(row.bat_nbr).strip(), str(row.cust_id).strip()
        message = str(row.note or "").split(";", 1)[0]
        memos = list(dict.fromkeys(re.findall(r"\b(CM|DM) (\S+)", message))) or [
            (str(row.doc_type).strip(), str(row.ref_nbr).strip())
        ]
        header = conn.execute(q.lock_batch_stmt("AR", bat_nbr)).first()
        self._step("void_locked")
        docs = [conn.execute(q.payment_doc_stmt(cust, ref, bat_nbr, dtype)).first() for dtype, ref in memos]
        names = " + ".join(f"{dtype} {ref}" for dtype, ref in memos)
        unreleased = (
            header is not None
            and int(header.Rlsed) == 0
            and str(header.Status).strip() in q.UNRELEASED_STATUSES
            and all(d is not None and int(d.Rlsed) == 0 for d in docs)
        )
        if not unreleased:
            status = "missing" if header is None else f"status {str(header.Status).strip()}"
            reason = (
                f"refund voided after release: PayTrace voided refund {void.transaction_id}, but its {names} "
                f"(customer {cust}) in AR batch {bat_nbr} ({status}) are already released; the money never "
                "left clearing: reverse the memos in SL (an opposite CM/DM pair) and resolve this item"
            )
            work.reviews.append(
                _Review(
                    void.transaction_id,
                    void.ledger_key,
                    "refund_void_after_release",
                    reason,
                    {"bat_nbr": bat_nbr, "documents": names, "cust_id": cust},
                )
            )
            work.ledger.append(
                self._void_ledger(
                    void, batch, setup, bat_nbr, memos[0][1], cust, memos[0][0], note=reason[:255]
                )
            )
            result.review_items += 1
            result.add(ItemOutcome(void.ledger_key, "review", memos[0][0], memos[0][1], reason))
            return
        for dtype, ref in memos:
            conn.execute(q.delete_payment_lines_stmt(cust, ref, bat_nbr, dtype))
            conn.execute(q.delete_payment_doc_stmt(cust, ref, bat_nbr, dtype))
        self._step("void_deleted")
        conn.execute(
            q.ledger_mark_removed_stmt(refund_key),
            {"updated_at": utcnow(), "note": f"voided in PayTrace; removed by {void.ledger_key}"},
        )
        done = f"removed {names} from AR batch {bat_nbr}"
        work.ledger.append(
            self._void_ledger(void, batch, setup, bat_nbr, memos[0][1], cust, memos[0][0], note=done)
        )
        touched.add(bat_nbr)
        result.removed += 1
        result.add(ItemOutcome(void.ledger_key, "removed", memos[0][0], memos[0][1], done))

    def _void_ledger(
        self,
        void: PlannedVoid,
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        ref: str,
        cust: str,
        doc_type: str,
        note: str,
    ) -> dict[str, object]:
        return self._ledger_row(
            void,
            kind="void",
            cpny=batch.cpny_id,
            module="AR",
            bat_nbr=bat_nbr,
            doc_type=doc_type,
            ref_nbr=ref,
            cust_id=cust,
            amount=Decimal(0),
            setup=setup,
            per_post="",
            note=note,
        )
