"""The root of every error paytrace-sl raises on purpose, and the marker for the retryable ones."""

from __future__ import annotations


class PaytraceSlError(Exception):
    """An expected failure with a message fit for an operator (names the problem, never a secret)."""


class Transient:
    """Marker: retrying later may succeed (network trouble, a lock held by someone else)."""
