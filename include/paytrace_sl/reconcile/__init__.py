"""Reconciliation of PayTrace against SL per settlement batch and over a date range; the auditor report.

The engine is imported lazily: :mod:`paytrace_sl.pipeline.settlement` uses this package's model, and
the engine uses settlement's functions.
"""

from __future__ import annotations

from typing import Any

from paytrace_sl.reconcile.model import ReconException, ReconItem, ReconRecord, ReconReport, Totals

__all__ = ["ReconException", "ReconItem", "ReconRecord", "ReconReport", "Totals", "reconcile"]


def reconcile(*args: Any, **kwargs: Any) -> ReconReport:
    """See :func:`paytrace_sl.reconcile.engine.reconcile`."""
    from paytrace_sl.reconcile.engine import reconcile as run

    return run(*args, **kwargs)
