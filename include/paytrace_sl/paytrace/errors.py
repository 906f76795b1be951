"""Typed PayTrace client errors.

Every message is built by us from safe parts (endpoint path, HTTP status, PayTrace error codes and
their messages, attempt counts). Raw response bodies, credentials, tokens and card data never go into
an exception message, because exceptions end up in logs, Airflow task output and XComs.
"""

from __future__ import annotations

from paytrace_sl.errors import PaytraceSlError, Transient


class PayTraceError(PaytraceSlError):
    """Base class of everything the PayTrace client raises."""


class PayTraceAuthError(PayTraceError):
    """The OAuth password grant was refused (bad credentials) or a fresh token was refused again."""


class PayTraceValidationError(PayTraceError):
    """PayTrace answered ``success: false`` with an ``errors`` object; not retried.

    ``errors`` maps PayTrace's error code (a string, e.g. ``"35"``) to its list of messages.
    """

    def __init__(self, endpoint: str, errors: dict[str, list[str]], http_status: int | None = None) -> None:
        self.endpoint = endpoint
        self.errors = errors
        self.http_status = http_status
        detail = "; ".join(f"{code}: {' / '.join(msgs)}" for code, msgs in sorted(errors.items()))
        super().__init__(f"PayTrace rejected {endpoint} (HTTP {http_status}): {detail}")


class PayTraceTransientError(Transient, PayTraceError):
    """A failure that may go away on retry; raised once the retry budget is spent."""

    def __init__(self, message: str, attempts: int = 0) -> None:
        self.attempts = attempts
        super().__init__(message)


class PayTraceRateLimitedError(PayTraceTransientError):
    """HTTP 429 persisted through every allowed retry."""


class PayTraceServerError(PayTraceTransientError):
    """HTTP 5xx (or another unexpected status) persisted through every allowed retry."""


class PayTraceTimeoutError(PayTraceTransientError):
    """Connect or read timeout persisted through every allowed retry."""


class PayTraceConnectionError(PayTraceTransientError):
    """The connection could not be made (DNS, refused, reset) through every allowed retry."""


class PayTraceMalformedResponseError(PayTraceTransientError):
    """The body was not the JSON we expect: invalid or truncated JSON, missing keys, wrong types."""


class PayTraceHTTPError(PayTraceError):
    """An unexpected non-retryable HTTP status (e.g. 403, 404) without a PayTrace error body."""

    def __init__(self, endpoint: str, http_status: int) -> None:
        self.endpoint = endpoint
        self.http_status = http_status
        super().__init__(f"PayTrace {endpoint} answered HTTP {http_status}")


class RecordParseError(PayTraceError):
    """One exported record could not be normalized. Names the transaction and the field, never the value."""

    def __init__(self, transaction_id: object, field: str, reason: str) -> None:
        self.transaction_id = transaction_id
        self.field = field
        self.reason = reason
        super().__init__(f"transaction {transaction_id}: field {field!r}: {reason}")


class PayTraceResponseTooLargeError(PayTraceError):
    """The answer exceeded the size cap, or a compressed answer expanded too far; not retried."""
