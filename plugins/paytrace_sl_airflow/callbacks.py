"""Airflow task callbacks: turn a failed task into a notification (log, email, Slack, signed webhook).

Airflow 3 calls task-level callbacks with the task ``Context`` in the task's own process, after the
retries are exhausted. The message names the DAG, task, run and window and the exception *type* and
message: our exceptions are built to carry no card data or credentials, and the text is passed
through the redactor anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


def failure_notification(context: Mapping[str, Any]) -> Any:
    """Build the :class:`~paytrace_sl.pipeline.notify.Notification` for a failed task (pure; testable)."""
    from paytrace_sl.pipeline.notify import Notification
    from paytrace_sl.redaction import redact_text

    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", "") or ""
    task_id = getattr(ti, "task_id", "") or ""
    exc = context.get("exception")
    reason = redact_text(f"{type(exc).__name__}: {exc}") if exc is not None else "unknown error"
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    window = f"{start.isoformat()} → {end.isoformat()}" if start is not None and end is not None else ""
    return Notification(
        kind="failure",
        title=f"{dag_id}.{task_id} failed",
        run_id=str(context.get("run_id") or ""),
        window=window,
        reason=reason[:500],
        counts={"try_number": getattr(ti, "try_number", "")},
    )


def notify_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: notify on every configured channel; never raises."""
    try:
        from paytrace_sl.pipeline.notify import NotifySettings, notify

        notify(NotifySettings.from_env(), failure_notification(context))
    except Exception as exc:  # a callback that raises only adds noise to the real failure
        log.warning("failure notification could not be sent: %s", type(exc).__name__)
