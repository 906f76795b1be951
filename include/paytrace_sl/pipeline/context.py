"""One step's resources, opened once: :class:`RunContext` and the adapter that gives each typed step
``def extract(ctx: RunContext) -> ExtractSummary`` its public ``extract_step(cfg, window, run_id)`` face.

A context belongs to one task (one Airflow task, or one step of ``paytrace-sl sync``): it opens the SL
engine once (on first use) and disposes of it on exit, loads the mapping once, installs/checks our own
tables' schema version once, and owns the run's landing folder and the step summaries in it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from paytrace_sl.pipeline.config import PipelineConfig, PipelineError, lookback_of
from paytrace_sl.pipeline.files import summary_file
from paytrace_sl.pipeline.landing import Landing, LandingError
from paytrace_sl.pipeline.summaries import StepSummary
from paytrace_sl.pipeline.windows import Window

if TYPE_CHECKING:
    import datetime as dt

    from paytrace_sl.paytrace.client import PayTraceClient
    from paytrace_sl.pipeline.mapping import Mapping

log = logging.getLogger(__name__)

S = TypeVar("S", bound=StepSummary)

Step = Callable[[PipelineConfig, Window, str], dict[str, Any]]
"""A step's public face: ``(config, window, run id) → JSON summary`` (what an Airflow task returns)."""


def paytrace_client(cfg: PipelineConfig) -> PayTraceClient:
    """A PayTrace client on the configured account (tests replace this to feed recorded pages); its
    date-range exports are parsed as they arrive (every step consumes them record by record)."""
    from paytrace_sl.paytrace.client import PayTraceClient

    return PayTraceClient(cfg.paytrace, stream_exports=True)


class RunContext:
    """The configuration, window and run id of one step, and what it opens once.

    ``window`` is None only before a replay of dead letters knows its window (:attr:`window` raises).
    Use as a context manager: the engine is disposed on exit.
    """

    def __init__(self, cfg: PipelineConfig, window: Window | None, run_id: str) -> None:
        self.cfg = cfg
        self.run_id = run_id
        self._window = window
        self.landing = Landing(cfg.landing_dir, run_id)
        self._engine: sa.Engine | None = None
        self._schema_checked = False
        self._mapping: Mapping | None = None

    def __enter__(self) -> RunContext:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._schema_checked = False

    # --------------------------------------------------------------------------- what it holds

    @property
    def window(self) -> Window:
        if self._window is None:
            raise PipelineError(f"run {self.run_id}: this step needs a window and the context has none")
        return self._window

    @property
    def engine(self) -> sa.Engine:
        """The SL database engine, created on first use (no schema check: see :attr:`sl`)."""
        if self._engine is None:
            from paytrace_sl.sl.engine import create_sl_engine

            self._engine = create_sl_engine(self.cfg.sl_url)
        return self._engine

    @property
    def sl(self) -> sa.Engine:
        """The engine, with our own xPT* tables installed / migrated to this code's version (once)."""
        engine = self.engine
        if not self._schema_checked:
            from paytrace_sl.sl.own_tables import install

            install(engine)
            self._schema_checked = True
        return engine

    @property
    def mapping(self) -> Mapping:
        """``mapping.yaml``, loaded and checked on first use."""
        if self._mapping is None:
            from paytrace_sl.pipeline.mapping import load_mapping

            self._mapping = load_mapping(self.cfg.mapping_path)
        return self._mapping

    def lookback(self) -> dt.timedelta:
        """The configured look-back (the mapping is read only when the configuration does not say)."""
        return lookback_of(self.cfg, self.mapping if self.cfg.lookback is None else None)

    def client(self) -> PayTraceClient:
        return paytrace_client(self.cfg)

    # ------------------------------------------------------------------------------- summaries

    def write_summary(self, summary: S) -> S:
        """Land ``summary`` as ``<step>.json`` and log it; returns it."""
        data = summary.to_json()
        self.landing.write_json(summary_file(summary.STEP), data)
        log.info("%s: %s", summary.STEP, json.dumps(data, sort_keys=True))
        return summary

    def read_summary(self, cls: type[S]) -> S:
        """The landed summary of ``cls``'s step; LandingError when the step has not run for this run."""
        name = summary_file(cls.STEP)
        if not self.landing.exists(name):
            raise LandingError(
                f"{self.landing.path(name)} not found: run step {cls.STEP!r} for run {self.run_id!r} first"
            )
        return cls.from_json(self.landing.read_json(name))

    def read_summary_if_any(self, cls: type[S]) -> S | None:
        return self.read_summary(cls) if self.landing.exists(summary_file(cls.STEP)) else None


def as_step(fn: Callable[[RunContext], StepSummary]) -> Step:
    """``fn(ctx)`` as a public step ``(cfg, window, run_id) → JSON summary`` with its own context."""

    @functools.wraps(fn)
    def run(cfg: PipelineConfig, window: Window, run_id: str) -> dict[str, Any]:
        with RunContext(cfg, window, run_id) as ctx:
            return fn(ctx).to_json()

    run.__name__ = run.__qualname__ = f"{fn.__name__}_step"
    return run


@contextmanager
def engine_for(cfg: PipelineConfig) -> Iterator[sa.Engine]:
    """An engine on the configured SL database, disposed on exit (no schema check)."""
    with RunContext(cfg, None, "engine") as ctx:
        yield ctx.engine
