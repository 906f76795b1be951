"""What the plugin's UI pages share: the SL URL, one engine per URL, and the one-line error they show.

The URL is resolved per request (so the API server starts even when SL is not configured yet); each
distinct URL gets one engine for the life of the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from paytrace_sl.sl.engine import create_sl_engine

T = TypeVar("T")


def default_sl_url() -> str:
    """``SL_DATABASE_URL``, else the ``dynamics_sl_default`` connection read through Airflow: the same
    resolver (``paytrace_sl.settings.resolve_sl_url``) the DAG tasks and the CLI use."""
    from paytrace_sl.settings import resolve_sl_url
    from paytrace_sl_airflow.hooks import airflow_connection

    return resolve_sl_url(None, lookup=airflow_connection)


def sl_engines(
    sl_url: Callable[[], str] | str | None, prepare: Callable[[sa.Engine], object] | None = None
) -> Callable[[], sa.Engine]:
    """A function returning the engine of the current SL URL (``sl_url``, else :func:`default_sl_url`),
    made once per URL; ``prepare`` runs once on each new engine (e.g. installing our tables)."""
    engines: dict[str, sa.Engine] = {}

    def engine() -> sa.Engine:
        url = sl_url() if callable(sl_url) else (sl_url or default_sl_url())
        if url not in engines:
            new = create_sl_engine(url)
            if prepare is not None:
                prepare(new)
            engines[url] = new
        return engines[url]

    return engine


def error_line(exc: BaseException) -> str:
    """What a page shows instead of a bare 500: the error's type and the first line of its message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"


def read_or_error(read: Callable[[], T]) -> tuple[T | None, str]:
    """``(read(), "")``, or ``(None, error_line(exc))`` when reading fails."""
    try:
        return read(), ""
    except Exception as exc:  # show the operator what is wrong instead of a bare 500
        return None, error_line(exc)
