"""Reconciliation of PayTrace against SL per settlement batch and over a date range; the auditor report.

Per settled batch: :mod:`.settled_batch` (reconcile, store in ``xPTRecon``); over a date range:
:mod:`.engine` (imported lazily, so importing the model stays light). Imports run one way: this package
uses :mod:`paytrace_sl.pipeline.settlement` (pure planning, ``classify``) and never the pipeline's
orchestration (``pipeline.runner``, ``pipeline.flows``); those are the only pipeline modules that import
this package.
"""

from __future__ import annotations

from typing import Any

from paytrace_sl.reconcile.model import ReconException, ReconItem, ReconRecord, ReconReport, Totals

__all__ = ["ReconException", "ReconItem", "ReconRecord", "ReconReport", "Totals", "reconcile"]


def reconcile(*args: Any, **kwargs: Any) -> ReconReport:
    """See :func:`paytrace_sl.reconcile.engine.reconcile`."""
    from paytrace_sl.reconcile.engine import reconcile as run

    return run(*args, **kwargs)
