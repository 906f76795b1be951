"""Fault-test support: a runner config for a PayTrace sandbox + a seeded PostgreSQL SL sandbox, and the
SQL checks that prove the SL database is whole (no partial batch, each transaction posted once).

A plain module (not the conftest) so the child processes of the SIGKILL and concurrency tests can
import it too.

Setup follows ``tests/integration/security/test_security_full_run.py``: the real sandbox HTTP server,
``init_sandbox`` on an SL replica built from SL's DDL, the shipped ``mapping.yaml``, ``PipelineConfig``.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline import runner
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.runner import PipelineConfig
from paytrace_sl.pipeline.windows import Window, day_window
from paytrace_sl.sl import writer as writer_module
from paytrace_sl.sl.preflight import run_preflight
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer

LA = "America/Los_Angeles"
FIRST_DAY = dt.date(2025, 4, 1)
DAY = dt.date(2025, 4, 2)
MERCHANT = MerchantConfig(seed=11, start=FIRST_DAY, days=8, tx_per_day=20)
PROGRAM = "PTSL"


def paytrace_settings(url: str, **overrides: Any) -> PayTraceSettings:
    """Client settings with short backoffs (tests must be fast); ``overrides`` tune the retry bounds."""
    values: dict[str, Any] = {
        "url": url,
        "username": "sandbox",
        "password": "sandbox-password",
        "timezone": LA,
        "requests_per_second": 0,
        "backoff_base": 0.01,
        "backoff_cap": 0.02,
        "max_attempts": 4,
        "max_retry_seconds": 20.0,
    }
    values.update(overrides)
    return PayTraceSettings(**values)


@dataclass
class FaultWorld:
    """One PayTrace sandbox, one seeded PostgreSQL SL sandbox, and a config factory for both."""

    server: SandboxServer
    sl_url: str
    root: Path
    mapping: Path

    def config(self, **paytrace_overrides: Any) -> PipelineConfig:
        return PipelineConfig(
            sl_url=self.sl_url,
            paytrace=paytrace_settings(self.server.url, **paytrace_overrides),
            mapping_path=self.mapping,
            landing_dir=self.root / "landing",
            gx_dir=self.root / "gx",
            lookback=dt.timedelta(0),
        )

    def window(self, day: dt.date = DAY, days: int = 1) -> Window:
        return days_window(day, days)

    @contextmanager
    def engine(self) -> Iterator[sa.Engine]:
        engine = sa.create_engine(self.sl_url)
        try:
            yield engine
        finally:
            engine.dispose()


def days_window(day: dt.date, days: int = 1) -> Window:
    """Merchant days ``[day, day + days)`` as one pipeline window."""
    last = day_window(day + dt.timedelta(days=days - 1), LA)
    return Window(day_window(day, LA).start, last.end, LA)


# ------------------------------------------------------------------------------ writer fault hooks


@contextmanager
def writer_step_hook(hook: Callable[[str], None]) -> Iterator[None]:
    """Every SLWriter the pipeline creates while active gets ``hook`` as its ``step_hook``.

    ``load_step`` imports ``SLWriter`` when it runs, so swapping the module attribute for a subclass that
    only adds the hook reaches the real writer inside a real ``run_window``.
    """
    original = writer_module.SLWriter

    class HookedWriter(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["step_hook"] = hook
            super().__init__(*args, **kwargs)

    writer_module.SLWriter = HookedWriter  # type: ignore[misc]
    try:
        yield
    finally:
        writer_module.SLWriter = original  # type: ignore[misc]


class AtStep:
    """A step hook that fires ``action`` once, on the ``occurrence``-th time the writer reaches ``step``."""

    def __init__(self, step: str, occurrence: int, action: Callable[[], None]) -> None:
        self.step, self.occurrence, self.action = step, occurrence, action
        self.seen: list[str] = []
        self.fired = False

    def __call__(self, name: str) -> None:
        self.seen.append(name)
        if not self.fired and name == self.step and self.seen.count(name) == self.occurrence:
            self.fired = True
            self.action()


def sigkill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def load_and_die(cfg: PipelineConfig, window: Window, run_id: str, step: str, occurrence: int) -> None:
    """Child process: the pipeline's load step, SIGKILLed at ``step`` inside a batch transaction."""
    with writer_step_hook(AtStep(step, occurrence, sigkill_self)):
        runner.load_step(cfg, window, run_id)
    raise SystemExit(f"the writer never reached {step} #{occurrence}: nothing was killed")


def run_window_in_child(cfg: PipelineConfig, window: Window, run_id: str, barrier: Any, out: Any) -> None:
    """Child process: a whole ``run_window``; both children meet at ``barrier`` inside their first batch
    transaction (after the cheap ledger filter, before the setup-row lock), so the two loads overlap."""
    met = False

    def meet(name: str) -> None:
        nonlocal met
        if name == "begin" and not met:
            met = True
            barrier.wait()

    try:
        with writer_step_hook(meet):
            summary = runner.run_window(cfg, window, run_id)
        out.put((run_id, "ok", summary))
    except BaseException as exc:  # report to the parent, which asserts
        out.put((run_id, "error", f"{type(exc).__name__}: {exc}"))
        raise


# ------------------------------------------------------------------------------ SL database checks


def _rows(conn: sa.Connection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sa.text(sql), params)]


# What must never be found in SL after any run, crash or overlap: (problem, query listing offenders).
# ``:p`` is the writing program (our Crtd_Prog); a query without it ignores the parameter.
_SL_INVARIANTS: tuple[tuple[str, str], ...] = (
    (
        "batch numbers used twice",
        "SELECT module, batnbr FROM batch GROUP BY module, batnbr HAVING count(*) > 1",
    ),
    (
        "AR batches without documents (half-written)",
        "SELECT b.batnbr FROM batch b WHERE b.crtd_prog = :p AND b.module = 'AR' AND b.status <> 'V'"
        " AND NOT EXISTS (SELECT 1 FROM ardoc d WHERE d.batnbr = b.batnbr)",
    ),
    (
        "GL batches without lines (half-written)",
        "SELECT b.batnbr FROM batch b WHERE b.crtd_prog = :p AND b.module = 'GL'"
        " AND NOT EXISTS (SELECT 1 FROM gltran t WHERE t.module = 'GL' AND t.batnbr = b.batnbr)",
    ),
    (
        "ARDoc rows without their batch",
        "SELECT d.doctype, d.refnbr, d.batnbr FROM ardoc d WHERE d.crtd_prog = :p AND NOT EXISTS"
        " (SELECT 1 FROM batch b WHERE b.module = 'AR' AND b.batnbr = d.batnbr)",
    ),
    (
        "ARTran rows without their document",
        "SELECT t.trantype, t.refnbr, t.batnbr FROM artran t WHERE t.crtd_prog = :p AND NOT EXISTS"
        " (SELECT 1 FROM ardoc d WHERE d.batnbr = t.batnbr AND d.refnbr = t.refnbr"
        " AND d.custid = t.custid)",
    ),
    (
        "AR batch totals differ from their documents",
        "SELECT b.batnbr, b.crtot, coalesce(sum(d.origdocamt), 0) FROM batch b"
        " LEFT JOIN ardoc d ON d.batnbr = b.batnbr"
        " WHERE b.crtd_prog = :p AND b.module = 'AR' AND b.status <> 'V'"
        " GROUP BY b.batnbr, b.crtot HAVING abs(b.crtot - coalesce(sum(d.origdocamt), 0)) > 0.005",
    ),
    (
        "RefNbr used twice",
        "SELECT doctype, refnbr, count(*) FROM ardoc WHERE crtd_prog = :p"
        " GROUP BY doctype, refnbr HAVING count(*) > 1",
    ),
    (
        "a transaction posted twice",
        "SELECT kind, transaction_id, count(*) FROM xptledger WHERE transaction_id IS NOT NULL"
        " GROUP BY kind, transaction_id HAVING count(*) > 1",
    ),
    (
        "ledger rows whose ARDoc is missing",
        "SELECT l.ledger_key, l.bat_nbr, l.doc_type, l.ref_nbr FROM xptledger l"
        " WHERE l.status = 'posted' AND l.module = 'AR' AND NOT EXISTS (SELECT 1 FROM ardoc d"
        " WHERE d.custid = l.cust_id AND d.doctype = l.doc_type AND d.refnbr = l.ref_nbr"
        " AND d.batnbr = l.bat_nbr)",
    ),
    (
        "ledger rows whose GLTran is missing",
        "SELECT l.ledger_key FROM xptledger l WHERE l.status = 'posted' AND l.module = 'GL'"
        " AND l.bat_nbr <> '' AND NOT EXISTS (SELECT 1 FROM gltran t WHERE t.module = 'GL'"
        " AND t.batnbr = l.bat_nbr AND t.refnbr = l.ref_nbr)",
    ),
    (
        "documents of ours without a posted ledger row",
        "SELECT d.doctype, d.refnbr, d.batnbr FROM ardoc d WHERE d.crtd_prog = :p"
        " AND d.doctype IN ('PA', 'CM') AND NOT EXISTS (SELECT 1 FROM xptledger l"
        " WHERE l.cust_id = d.custid AND l.doc_type = d.doctype AND l.ref_nbr = d.refnbr"
        " AND l.bat_nbr = d.batnbr AND l.status = 'posted')",
    ),
)


def assert_sl_whole(engine: sa.Engine, program: str = PROGRAM) -> dict[str, int]:
    """The SL database holds only whole batches and agrees with our ledger; returns counts.

    SQL on SL's own tables: every batch of ours has its documents and correct totals (plus SL's release
    preflight finds nothing), no document or line is orphaned, no RefNbr or ledger key repeats, and every
    posted ledger row points at its document and every document of ours has its ledger row.
    """
    prog = {"p": program}
    with engine.connect() as conn:
        problems = {what: rows for what, sql in _SL_INVARIANTS if (rows := _rows(conn, sql, **prog))}
        assert problems == {}, "\n".join(f"{what}: {rows}" for what, rows in problems.items())
        batches = _rows(
            conn, "SELECT module, batnbr FROM batch WHERE crtd_prog = :p AND status <> 'V'", **prog
        )
        findings = [f for module, nbr in batches for f in run_preflight(conn, module=module, bat_nbr=nbr)]
        assert findings == [], f"SL's release preflight finds problems: {findings[:5]}"
        counts = dict(
            _rows(
                conn,
                "SELECT kind, count(*) FROM xptledger WHERE status = 'posted' GROUP BY kind",
            )
        )
        docs = dict(
            _rows(conn, "SELECT doctype, count(*) FROM ardoc WHERE crtd_prog = :p GROUP BY doctype", **prog)
        )
    assert docs.get("PA", 0) == counts.get("payment", 0), (docs, counts)
    assert docs.get("CM", 0) == counts.get("refund", 0) == docs.get("DM", 0), (docs, counts)
    return {
        "payments": int(counts.get("payment", 0)),
        "refunds": int(counts.get("refund", 0)),
        "batches": len(batches),
    }


def ledger_transaction_ids(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return {
            int(t)
            for (t,) in _rows(
                conn,
                "SELECT transaction_id FROM xptledger WHERE status = 'posted'"
                " AND kind IN ('payment', 'refund') AND transaction_id IS NOT NULL",
            )
        }


def planned_ids(cfg: PipelineConfig, run_id: str) -> set[int]:
    """What the run's transform says belongs in SL: posted now plus found already posted."""
    outcome = Landing(cfg.landing_dir, run_id).read_json(runner.OUTCOME_FILE)
    return {int(t) for t in outcome["posted_ids"]} | {int(t) for t in outcome["already_posted"]}


def run_status(engine: sa.Engine, run_id: str) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT status, coalesce(error, '') FROM xptrun WHERE run_id = :r "
                "ORDER BY try_number DESC LIMIT 1"  # the latest attempt
            ),
            {"r": run_id},
        ).one()
    return str(row[0]), str(row[1])
