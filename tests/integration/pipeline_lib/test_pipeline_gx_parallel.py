"""Parallel runs validating on one new GX directory at the same instant (max_active_runs > 1, Celery).

Without a lock across processes, the second process to create the context or the suite fails
("Store already has the following key", or a half-written ``great_expectations.yml``): seen on every
try before ``gx_lock`` existed. Each child imports GX first, then both meet at a barrier and validate.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_pipeline_gx_checks import records
from test_pipeline_gx_suite_reuse import CONTRACT, WINDOW

from paytrace_sl.pipeline import checks
from paytrace_sl.pipeline.checks import validate_window

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _validate_in_child(root: Path, run_id: str, barrier: Any, results: Any) -> None:
    checks._gx()  # the import (seconds) before the barrier, so both really validate at once
    frame = pd.DataFrame(records(6))
    barrier.wait()
    try:
        result = validate_window(frame, contract=CONTRACT, run_id=run_id, gx_root=root, window=WINDOW)
        results.put((run_id, "ok", len(result.valid)))
    except Exception as exc:
        results.put((run_id, "failed", repr(exc)[:300]))


def test_two_processes_validating_on_a_new_gx_directory_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for trial in range(2):
        root = tmp_path / f"gx-{trial}"
        barrier = ctx.Barrier(2, timeout=240)
        results: Any = ctx.Queue()
        children = [
            ctx.Process(target=_validate_in_child, args=(root, f"run-{trial}-{i}", barrier, results))
            for i in range(2)
        ]
        for child in children:
            child.start()
        outcomes = sorted(results.get(timeout=300) for _ in children)
        for child in children:
            child.join(timeout=60)
        assert [o[1:] for o in outcomes] == [("ok", 6), ("ok", 6)], outcomes
