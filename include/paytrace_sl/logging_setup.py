"""Logging for the CLI: one stderr handler whose records all pass the redacting filter."""

from __future__ import annotations

import logging
import sys
from typing import Any

from paytrace_sl import structlog_redaction
from paytrace_sl.redaction import RedactingFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (test runners and daemons swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add a RedactingFilter to every handler of ``logger`` (root by default) that lacks one.

    Handler filters (unlike logger filters) also see records propagated from child loggers such as
    ``urllib3`` and ``requests``, so this covers library output too. Where structlog renders (Airflow's
    task runner), :func:`paytrace_sl.structlog_redaction.install` adds the same redaction there.
    """
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    # Airflow's task runner renders through structlog, past any handler filter: redact there too
    structlog_redaction.install()


def configure_logging(level: int | str = logging.INFO) -> None:
    """Log to stderr at ``level`` with redaction; idempotent (safe to call from every command)."""
    root = logging.getLogger()
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            level = logging.INFO
    root.setLevel(level)
    if not any(getattr(h, "_paytrace_sl", False) for h in root.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._paytrace_sl = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    install_redaction(root)
    # urllib3 logs connection churn at DEBUG; keep it unless DEBUG was asked for.
    logging.getLogger("urllib3").setLevel(max(level, logging.WARNING) if level > logging.DEBUG else level)
