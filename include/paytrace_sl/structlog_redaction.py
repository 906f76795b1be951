"""Our redaction inside structlog, the logging Airflow 3's task runner (and its supervisor) write through.

A handler filter (:class:`paytrace_sl.redaction.RedactingFilter`) is not enough there:
* structlog-native lines (the task runner's own "Task failed with exception") never meet a stdlib
  filter, and their traceback is rendered from the exception object at the very end;
* stdlib records reach Airflow's ``structlog.stdlib.ProcessorFormatter`` with their ``exc_info``,
  which the formatter renders again, ignoring the ``exc_text`` our filter scrubbed.
Airflow's own masker (``mask_secret``) scrubs registered values but knows no card numbers. So
:func:`redact_event` renders any exception to text first and runs every value of the event through
:func:`paytrace_sl.redaction.redact`, and :func:`install` puts it just before the final renderer of
structlog's processor chain and of every ``ProcessorFormatter`` on the root logger's handlers.
No Airflow import: this is plain structlog (Airflow's task SDK configures it).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from paytrace_sl.redaction import redact


def redact_event(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: the event with its exception rendered to text and every value redacted.

    Keys starting with ``_`` (structlog's record metadata) are passed through untouched.
    """
    if event_dict.get("exc_info"):
        import structlog

        event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
    return {key: value if key.startswith("_") else redact(value) for key, value in event_dict.items()}


def install() -> bool:
    """Insert :func:`redact_event` before the final renderer wherever structlog renders; idempotent.

    Returns whether structlog is available. Mutates structlog's configured processor list in place, so
    loggers already bound to it (the task runner's) are covered too.
    """
    try:
        import structlog
    except ImportError:  # plain CLI installs without structlog: the stdlib filter is all there is
        return False
    chain = structlog.get_config()["processors"]
    if isinstance(chain, list) and chain and redact_event not in chain:
        chain.insert(len(chain) - 1, redact_event)
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if isinstance(formatter, structlog.stdlib.ProcessorFormatter):
            steps = list(formatter.processors)
            if steps and redact_event not in steps:
                formatter.processors = [*steps[:-1], redact_event, steps[-1]]
    return True
