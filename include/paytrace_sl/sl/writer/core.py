"""The SL writer's state and shared helpers (settings, step hooks, clock, ledger look-up, SL setup)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from paytrace_sl.plan import PlannedBatch
from paytrace_sl.sl import catalog
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.pending import PendingApplications
from paytrace_sl.sl.periods import LATE_ITEMS
from paytrace_sl.sl.setup import SLSetup, load_sl_setup
from paytrace_sl.sl.writer.model import StepHook, WriterError

# What the writer is about to do after each step hook, in an operator's words (lock timeout messages).
_STEP_WORDS = {
    "begin": "locking SL's setup row (ARSetup/GLSetup) to number the batch",
    "locked": "numbering the batch",
    "numbered": "inserting the Batch row",
    "void_locked": "removing voided documents",
}


class WriterCore:
    """The writer's settings and the small helpers every document kind uses (steps, clock, ledger look-up,
    SL setup). :class:`~paytrace_sl.sl.writer.ledger.SLWriter` is the class callers use."""

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
        pending_cache: bool = True,
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
        # sl.pending_cache: carry the pending applications from batch to batch within write_batches
        self.pending_cache = pending_cache
        self._pending: PendingApplications | None = None  # set only for the life of write_batches

    def _step(self, name: str) -> None:
        self._last_step = _STEP_WORDS.get(name, name)
        if self.step_hook is not None:
            self.step_hook(name)

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

    def _setup_for(self, conn: sa.Connection, cpny_id: str) -> SLSetup:
        if cpny_id not in self._setup:
            self._setup[cpny_id] = load_sl_setup(conn, cpny_id)
        return self._setup[cpny_id]

    def _identity(self, conn: sa.Connection) -> bool:
        if self._identity_by_db is None:
            self._identity_by_db = catalog.identity_supplied_by_db(conn, catalog.ARTran)
        return self._identity_by_db
