"""The chargeback DAG's callables: a sensor on the inbox folder and the import task.

The processor's files arrive in ``PAYTRACE_SL_CHARGEBACKS_DIR/inbox`` (default ``<var>/chargebacks``).
:class:`InboxFileSensor` is the standard provider's :class:`FileSensor` on that folder (no filesystem
connection needed: the path comes from ``paytrace_sl.settings``); :func:`run_chargeback_import` imports
every waiting file through :func:`paytrace_sl.chargebacks.flow.import_inbox`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.providers.standard.sensors.filesystem import FileSensor

from paytrace_sl_airflow.dag_support import pipeline_config, pipeline_run_id

INBOX_GLOB = "inbox/*.csv"


class InboxFileSensor(FileSensor):  # type: ignore[misc]
    """Waits (reschedule mode: no worker slot held) until a file lands in the chargeback inbox."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(filepath=INBOX_GLOB, **kwargs)

    @cached_property
    def path(self) -> str:
        from paytrace_sl import settings

        return str(settings.chargebacks_dir() / self.filepath)


def run_chargeback_import(dag_id: str) -> dict[str, Any]:
    """Import every file waiting in the inbox; PCI-safe per-file summaries (XCom)."""
    from airflow.sdk import get_current_context

    from paytrace_sl import settings
    from paytrace_sl.chargebacks.flow import import_inbox
    from paytrace_sl.logging_setup import install_redaction
    from paytrace_sl.pipeline.context import engine_for
    from paytrace_sl.pipeline.mapping import load_mapping

    install_redaction()
    context = get_current_context()
    cfg = pipeline_config(dag_id)
    with engine_for(cfg) as engine:
        return import_inbox(
            engine,
            settings.chargebacks_dir(),
            load_mapping(cfg.mapping_path),
            run_id=pipeline_run_id(dag_id, str(context["run_id"])),
        )
