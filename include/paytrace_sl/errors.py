"""The root of every error the library raises on purpose, and the marker for retryable ones.

Why a root: callers (the CLI, Airflow's retry policy, notifications) need to tell "a failure we
foresaw and described" from "a bug". Everything raised on purpose derives from
:class:`PaytraceSlError`, so its message is already one clear line built from safe parts (no card
data, credentials or tokens). Anything else that escapes is unexpected and keeps its traceback.

Why a marker rather than a list: what Airflow retries used to be a list of dotted class names that
had to be kept in step with the classes. A class that may succeed on a later attempt (a network
hiccup, a 429, a lock timeout) now says so itself by also deriving from :class:`Transient`, and the
retry policy retries on the marker (pattern from dlt's ``TransientException``).

Existing classes keep their historic builtin base (``ValueError``, ``RuntimeError``) next to the root
so that ``except ValueError`` in callers still works.
"""

from __future__ import annotations


class PaytraceSlError(Exception):
    """Root of every error the library raises on purpose; its message is safe to show and log."""


class Transient(PaytraceSlError):
    """Marker: the same call may succeed later (outage, rate limit, timeout); schedulers retry it.

    Mix it in front of the concrete base: ``class FooTimeout(Transient, FooError)``.
    """


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` carries the :class:`Transient` marker."""
    return isinstance(exc, Transient)
