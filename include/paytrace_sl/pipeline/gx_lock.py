"""A lock on a Great Expectations directory shared by processes (parallel windows, several workers).

GX's file context has no lock of its own: two processes that create the context, or the suite, on the
same directory at the same time collide ("Store already has the following key", a half-written
``great_expectations.yml``). Parallel runs (``max_active_runs`` > 1, Celery workers on one shared
volume) do exactly that on their first run and after a contract change. ``flock`` on a file in the
directory serialises those writes; the validation itself runs outside it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".paytrace-sl-gx.lock"


@contextmanager
def gx_dir_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``root/.paytrace-sl-gx.lock`` (created if needed)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
