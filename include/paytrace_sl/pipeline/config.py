"""What a pipeline run is configured with: :class:`PipelineConfig`, the DAG ids and the look-back rule.

Built by the CLI from flags/environment and by a DAG task from connections (both through
:mod:`paytrace_sl.settings`, the only module that reads the environment).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from paytrace_sl import settings
from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.notify import NotifySettings
from paytrace_sl.settings import resolve_sl_url

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MAPPING = settings.shipped_contracts_dir() / "mapping.yaml"
DEFAULT_VAR = settings.var_dir()
PAYMENTS_DAG_ID = "paytrace_payments_to_sl"
SETTLEMENTS_DAG_ID = "paytrace_settlements_to_sl"
REPLAY_DAG_ID = "paytrace_sl_replay"
DEFAULT_LOOKBACK = dt.timedelta(days=1)


class PipelineError(PaytraceSlError, RuntimeError):
    """A step cannot complete; the message says what to look at. Not retried (not transient)."""


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs. Built by the CLI from flags/environment, by a DAG task from connections."""

    sl_url: str = field(repr=False)  # may carry a password
    paytrace: PayTraceSettings
    mapping_path: Path = DEFAULT_MAPPING
    landing_dir: Path = DEFAULT_VAR / "landing"
    gx_dir: Path = DEFAULT_VAR / "gx"
    lookback: dt.timedelta | None = None  # None → the mapping's look-back days (else 1 day)
    notify: NotifySettings = field(default_factory=NotifySettings)
    sl_user: str = "PAYTRACE"
    program: str = "PTSL"
    dag_id: str = PAYMENTS_DAG_ID
    try_number: int | None = None  # Airflow's try of the running task; None (CLI) → next free attempt

    @property
    def timezone(self) -> str:
        return self.paytrace.timezone

    @classmethod
    def from_env(
        cls,
        *,
        sl_url: str | None = None,
        paytrace: PayTraceSettings | None = None,
        mapping_path: str | Path | None = None,
        landing_dir: str | Path | None = None,
        gx_dir: str | Path | None = None,
        lookback_hours: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> PipelineConfig:
        """Flags → ``PAYTRACE_SL_*`` / ``SL_DATABASE_URL`` / ``PAYTRACE_*`` → connections → defaults,
        one resolver per setting in :mod:`paytrace_sl.settings` (``env`` only feeds the notifications)."""
        hours = settings.lookback_hours(lookback_hours)
        return cls(
            sl_url=resolve_sl_url(sl_url),
            paytrace=paytrace or PayTraceSettings.from_env(),
            mapping_path=settings.mapping_path(mapping_path),
            landing_dir=settings.landing_dir(landing_dir),
            gx_dir=settings.gx_dir(gx_dir),
            lookback=None if hours is None else dt.timedelta(hours=hours),
            notify=NotifySettings.from_env(env),
        )


def with_dag(cfg: PipelineConfig, dag_id: str) -> PipelineConfig:
    return replace(cfg, dag_id=dag_id)


def lookback_of(cfg: PipelineConfig, mapping: Any | None = None) -> dt.timedelta:
    """The configured look-back: explicit setting, else the mapping's ``lookback_days``, else 1 day."""
    if cfg.lookback is not None:
        return cfg.lookback
    if mapping is None:
        return DEFAULT_LOOKBACK
    days = int(getattr(mapping, "lookback_days", 0) or 0)
    hours = int(getattr(mapping, "lookback_hours", 0) or 0)
    return dt.timedelta(days=days, hours=hours)
