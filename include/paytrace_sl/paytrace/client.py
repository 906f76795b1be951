"""PayTrace JSON API v1 client for the export endpoints (reference §1.2, §2.1, §7.1).

What it guarantees, because PayTrace documents none of it:
* one OAuth token per process and (url, username), renewed shortly before ``expires_in`` and, once,
  when a call answers ``invalid_token``;
* every request has connect + read timeouts and a total deadline per attempt (connect, headers and the
  whole body), its body is capped in decoded size and decompressed within limits (``transport``), it is
  paced by a token bucket, and transient failures (429, 5xx, timeouts, connection errors,
  invalid/truncated JSON on a 200) are retried with exponential backoff and full jitter, honouring
  ``Retry-After``, bounded by attempts AND total elapsed time; an oversized answer is not retried;
* authentication failures and validation errors (``success: false`` + ``errors``) are never retried;
* ``success`` is checked before ``response_code`` (exports and generic errors both use code 1);
* date ranges ``[start, end)`` in merchant days are split into requests of at most ``max_span_days``
  (the server's ``end_date`` is inclusive); an exact repeat of a record (what overlapping requests
  return) is dropped, while copies of one ``transaction_id`` (batch ``number``) with different content
  are all passed on: :mod:`paytrace_sl.pipeline.copies` is the one place that resolves them (dead
  letter), and the parsed convenience methods refuse them (:class:`ConflictingDuplicateError`).
Nothing secret is logged or put into an exception message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import threading
import time
from array import array
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import requests
import urllib3.exceptions as urllib3_exc

from paytrace_sl import __version__
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.errors import (
    PayTraceAuthError,
    PayTraceConnectionError,
    PayTraceError,
    PayTraceHTTPError,
    PayTraceMalformedResponseError,
    PayTraceRateLimitedError,
    PayTraceResponseTooLargeError,
    PayTraceServerError,
    PayTraceTimeoutError,
    PayTraceTransientError,
    PayTraceValidationError,
)
from paytrace_sl.paytrace.parse import (
    BATCH_FIELDS,
    parse_batch,
    parse_customer,
    parse_transaction,
)
from paytrace_sl.paytrace.records import SettlementBatch, Transaction, VaultCustomer
from paytrace_sl.paytrace.recurring import (
    APPROVED_KEY,
    RECURRENCE_EXPORT,
    RECURRENCE_EXPORT_APPROVED,
    RECURRENCES_KEY,
    RecurringPayment,
    RecurringSchedule,
    parse_recurrence,
    parse_recurring_payment,
)
from paytrace_sl.paytrace.stream import EnvelopeStream, StreamFormatError
from paytrace_sl.paytrace.timefmt import format_request_date, parse_paytrace_datetime
from paytrace_sl.paytrace.transport import Deadline, bounded_session, iter_body, read_body
from paytrace_sl.redaction import redact, register_secret

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
EXPORT_BY_DATE = "/v1/transactions/export/by_date_range"
EXPORT_BY_ID = "/v1/transactions/export/by_id"
BATCHES_EXPORT = "/v1/batches/export"
BATCH_EXPORT_ONE = "/v1/batches/export_one"
BATCH_TRANSACTIONS = "/v1/batches/transaction_list"
CUSTOMER_EXPORT = "/v1/customer/export"

TOKEN_RENEW_MARGIN_S = 60.0  # renew this long before expires_in runs out (reference §7.1)
DEFAULT_EXPIRES_IN_S = 7200.0  # documented lifetime, used if the token answer omits expires_in


@dataclass
class _Token:
    value: str
    renew_at: float  # monotonic clock


_token_cache: dict[tuple[str, str, str], _Token] = {}
_token_lock = threading.Lock()


def clear_token_cache() -> None:
    """Forget every cached token (tests; credential rotation)."""
    with _token_lock:
        _token_cache.clear()


class TokenBucket:
    """Request pacing: ``rate`` tokens per second, at most ``burst`` saved up. ``rate <= 0`` disables it."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.burst = float(max(1, burst))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the time slept."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self._sleep(wait)
        return wait


@dataclass
class _Answer:
    status: int
    body: Any  # parsed JSON (dict for every valid PayTrace answer) or None


def _retry_after_seconds(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is ignored: backoff applies instead)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def day_windows(start: dt.date, end: dt.date, span_days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """Split ``[start, end)`` into ``[a, b)`` windows of at most ``span_days`` days."""
    current = start
    while current < end:
        stop = min(end, current + dt.timedelta(days=span_days))
        yield current, stop
        current = stop


class PayTraceClient:
    """Export-side PayTrace v1 client. One instance per task/command; cheap to create."""

    def __init__(
        self,
        settings: PayTraceSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        stream_exports: bool = False,
    ) -> None:
        """``stream_exports``: parse date-range exports as their answers arrive (:meth:`call_records`),
        for callers that handle records one by one (the extract steps) — a day is never held whole."""
        settings.require_credentials()
        self.settings = settings
        self.stream_exports = stream_exports
        self._session = bounded_session(session)
        self._session.headers.update(
            {"User-Agent": f"paytrace-sl/{__version__}", "Accept": "application/json"}
        )
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._bucket = TokenBucket(settings.requests_per_second, settings.rate_burst, clock, sleep)
        # the credentials are part of the key: a password changed in a connection (a UI edit) is used by
        # the next client in this process, not hidden behind the old password's cached token
        secret = hashlib.sha256(f"{settings.password}\0{settings.integrator_id}".encode()).hexdigest()
        self._cache_key = (settings.base_url, settings.username, secret)
        register_secret(settings.password)
        register_secret(settings.integrator_id)
        self.request_count = 0  # HTTP requests sent (including retries and token calls)

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PayTraceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PayTraceClient({self.settings!r})"

    # -- transport with retries --------------------------------------------------------------------

    def _send(
        self,
        path: str,
        *,
        form: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> _Answer:
        """POST with pacing, timeouts and bounded retries of transient failures.

        Returns 2xx answers with parsed JSON and 4xx answers (parsed if possible) for the caller to
        judge; raises the matching ``PayTrace*Error`` once transient failures exhaust the budget.
        """
        s = self.settings
        url = s.base_url + path
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = self._clock()
        deadline = started + s.max_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            timeout, watch = self._next_attempt(path, attempt, deadline)
            retry_after: float | None = None
            error: PayTraceTransientError
            try:
                with watch:
                    status, content, retry_after = self._exchange(path, url, form, body, headers, timeout)
                if watch.expired:  # whatever the cut-off reads returned, the answer is incomplete
                    raise requests.Timeout()
                if status == 200 or status == 201:
                    try:
                        parsed = json.loads(content, parse_float=Decimal)
                    except (ValueError, UnicodeDecodeError):
                        raise PayTraceMalformedResponseError(
                            f"PayTrace {path}: response is not valid JSON (invalid or truncated)"
                        ) from None
                    if not isinstance(parsed, dict):
                        raise PayTraceMalformedResponseError(
                            f"PayTrace {path}: response is not a JSON object"
                        )
                    return _Answer(status, parsed)
                if status == 429:
                    raise PayTraceRateLimitedError(f"PayTrace {path}: HTTP 429 Too Many Requests")
                if status >= 500:
                    raise PayTraceServerError(f"PayTrace {path}: HTTP {status}")
                try:
                    parsed_error: Any = json.loads(content)
                except (ValueError, UnicodeDecodeError):
                    parsed_error = None
                return _Answer(status, parsed_error)
            except PayTraceTransientError as exc:
                error = exc
            except PayTraceResponseTooLargeError:
                raise  # the same answer would be as large again: not retried
            except Exception as exc:
                error = self._attempt_error(path, exc, watch, timeout)
            self._wait_to_retry(error, attempt, started, deadline, retry_after)

    def _next_attempt(
        self, path: str, attempt: int, deadline: float, how: str = ""
    ) -> tuple[tuple[float, float], Deadline]:
        """Pace, count and time one attempt: its (connect, read) timeouts within the retry budget and
        its total deadline. Shared by :meth:`_send` and the streamed attempt loop."""
        s = self.settings
        self._bucket.acquire()
        remaining = max(0.05, deadline - self._clock())
        self.request_count += 1
        log.debug("POST %s (attempt %d/%d%s)", path, attempt, s.max_attempts, how)
        return (min(s.connect_timeout, remaining), min(s.read_timeout, remaining)), Deadline(
            s.request_deadline
        )

    def _attempt_error(
        self, path: str, exc: Exception, watch: Deadline, timeout: tuple[float, float]
    ) -> PayTraceTransientError:
        """The retryable error for an attempt that raised ``exc``; re-raises what is not retryable."""
        if not watch.expired and not isinstance(exc, requests.Timeout | urllib3_exc.TimeoutError):
            failed = _transport_error(path, exc)
            if failed is None:
                raise exc
            return failed
        return PayTraceTimeoutError(
            f"PayTrace {path}: timed out (connect {timeout[0]:g}s, read {timeout[1]:g}s, "
            f"whole answer {self.settings.request_deadline:g}s)"
        )

    def _wait_to_retry(
        self,
        error: PayTraceTransientError,
        attempt: int,
        started: float,
        deadline: float,
        retry_after: float | None,
    ) -> None:
        """Sleep the backoff before the next attempt, or raise ``error`` once the budget is spent."""
        s = self.settings
        elapsed = self._clock() - started
        if attempt >= s.max_attempts:
            raise self._give_up(error, attempt, elapsed, "attempts exhausted")
        cap = min(s.backoff_cap, s.backoff_base * (2 ** (attempt - 1)))
        wait = self._rng.uniform(0, cap)
        if retry_after is not None:
            wait = max(wait, retry_after)
        if self._clock() + wait >= deadline:
            raise self._give_up(error, attempt, elapsed, "retry time budget exhausted")
        log.warning("%s; retrying in %.2fs (attempt %d/%d)", str(error), wait, attempt + 1, s.max_attempts)
        self._sleep(wait)

    def _exchange(
        self,
        path: str,
        url: str,
        form: dict[str, str] | None,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> tuple[int, bytes, float | None]:
        """One POST: status, the bounded body (none for 429/5xx) and ``Retry-After``."""
        s = self.settings
        response = self._session.post(
            url, data=form, json=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        )
        status = response.status_code
        if status == 429 or status >= 500:
            response.close()
            return status, b"", _retry_after_seconds(response)
        limit = int(s.max_response_mb * 2**20)
        return status, read_body(response, path, limit, s.max_decompression_ratio), None

    def _give_up(
        self, error: PayTraceTransientError, attempts: int, elapsed: float, why: str
    ) -> PayTraceError:
        error.attempts = attempts
        error.args = (f"{error.args[0]}; gave up after {attempts} attempt(s) in {elapsed:.1f}s ({why})",)
        log.warning("%s", error.args[0])  # the caller reports the raised error; don't log it twice as ERROR
        return error

    # -- authentication ------------------------------------------------------------------------------

    def _token(self, *, renew: bool = False, stale: str | None = None) -> str:
        """The cached bearer token, fetched when missing, near expiry, or when ``stale`` was refused."""
        with _token_lock:
            cached = _token_cache.get(self._cache_key)
            if cached and not renew and self._clock() < cached.renew_at:
                return cached.value
            if cached and renew and stale is not None and cached.value != stale:
                return cached.value  # another caller already renewed it
        token = self._authenticate()
        with _token_lock:
            _token_cache[self._cache_key] = token
        return token.value

    def authenticate(self) -> None:
        """Obtain a fresh bearer token now (connection tests); PayTraceAuthError on bad credentials."""
        self._token(renew=True)

    def _authenticate(self) -> _Token:
        s = self.settings
        answer = self._send(
            TOKEN_PATH, form={"grant_type": "password", "username": s.username, "password": s.password}
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status not in (200, 201):
            code = body.get("error") if isinstance(body.get("error"), str) else "unknown"
            raise PayTraceAuthError(
                f"PayTrace refused the API credentials (HTTP {answer.status}, {redact(code)}); "
                "check the API user and password"
            )
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise PayTraceMalformedResponseError(f"PayTrace {TOKEN_PATH}: no access_token in the answer")
        register_secret(value)
        expires_raw = body.get("expires_in", DEFAULT_EXPIRES_IN_S)
        if isinstance(expires_raw, bool) or not isinstance(expires_raw, (int, float, Decimal, str)):
            raise PayTraceMalformedResponseError(f"PayTrace {TOKEN_PATH}: expires_in is not a number")
        try:
            expires_in = float(expires_raw)
        except ValueError:
            raise PayTraceMalformedResponseError(
                f"PayTrace {TOKEN_PATH}: expires_in is not a number"
            ) from None
        margin = min(TOKEN_RENEW_MARGIN_S, expires_in / 2)
        log.info("PayTrace token obtained (expires in %ds)", int(expires_in))
        return _Token(value, self._clock() + expires_in - margin)

    # -- API calls -----------------------------------------------------------------------------------

    def call(self, path: str, fields: dict[str, Any]) -> dict[str, Any]:
        """POST a v1 API call with bearer auth and ``integrator_id``; returns the checked JSON envelope.

        Renews the token once on ``invalid_token``. Raises PayTraceValidationError for ``success: false``.
        """
        body = dict(fields)
        if self.settings.integrator_id:
            body["integrator_id"] = self.settings.integrator_id
        token = self._token()
        answer = self._send(path, body=body, token=token)
        if _is_invalid_token(answer):
            log.info("PayTrace token refused on %s; renewing once", path)
            token = self._token(renew=True, stale=token)
            answer = self._send(path, body=body, token=token)
            if _is_invalid_token(answer):
                raise PayTraceAuthError(
                    f"PayTrace {path}: a freshly issued token was refused (invalid_token)"
                )
        return _check_envelope(path, answer)

    def call_records(self, path: str, fields: dict[str, Any], key: str) -> Iterator[tuple[Any, bytes]]:
        """:meth:`call` for an answer whose array ``key`` may be huge: its records as the body arrives.

        Yields ``(record, digest)`` (:func:`_record_digest`) one by one, never holding the answer in
        memory; the envelope (``success``, ``response_code``, ``errors``…) is judged like :meth:`call`'s,
        whether it comes before or after the array. Records are provisional until the generator ends:
        when ``success`` comes *after* the array and says the call failed, the records were already
        handed on and the error is raised at the end — the caller must discard what it made of them
        (the extract writes to a temporary file that only a complete run renames into place). When
        ``success`` comes before the array and is not true, no record is handed on.

        Every limit of :meth:`_send` holds per attempt (size cap, decompression ratio, total deadline —
        which here also covers the time the caller spends between records). A transient failure
        part-way (truncated or invalid body, connection reset, timeout) is retried within the same
        budget: the records handed on by an earlier attempt are compared, in order, with the retry's
        (8 bytes of digest per record are kept for that) and skipped; an answer that differs from
        what was already handed on raises :class:`PayTraceAnswerChangedError` (not retried here).
        """
        body = dict(fields)
        if self.settings.integrator_id:
            body["integrator_id"] = self.settings.integrator_id
        token = self._token()
        handed: array[int] = array("Q")
        answer = yield from self._stream_attempts(path, body, token, key, handed)
        if _is_invalid_token(answer):
            log.info("PayTrace token refused on %s; renewing once", path)
            token = self._token(renew=True, stale=token)
            answer = yield from self._stream_attempts(path, body, token, key, handed)
            if _is_invalid_token(answer):
                raise PayTraceAuthError(
                    f"PayTrace {path}: a freshly issued token was refused (invalid_token)"
                )
        _collection(path, _check_envelope(path, answer), key)  # a non-array ``key`` is malformed

    def _stream_attempts(
        self, path: str, body: dict[str, Any], token: str, key: str, handed: array[int]
    ) -> Generator[tuple[Any, bytes], None, _Answer]:
        """:meth:`_send`'s attempt loop for a streamed answer; returns the answer without its records."""
        s = self.settings
        url = s.base_url + path
        headers = {"Authorization": f"Bearer {token}"}
        limit = int(s.max_response_mb * 2**20)
        started = self._clock()
        deadline = started + s.max_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            timeout, watch = self._next_attempt(path, attempt, deadline, ", streamed")
            retry_after: float | None = None
            error: PayTraceTransientError
            chunks: Iterator[bytes] | None = None
            try:
                with watch:
                    response = self._session.post(
                        url, json=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
                    )
                    status = response.status_code
                    if status == 429 or status >= 500:
                        response.close()
                        retry_after = _retry_after_seconds(response)
                        if status == 429:
                            raise PayTraceRateLimitedError(f"PayTrace {path}: HTTP 429 Too Many Requests")
                        raise PayTraceServerError(f"PayTrace {path}: HTTP {status}")
                    chunks = iter_body(response, path, limit, s.max_decompression_ratio, watch)
                    if status not in (200, 201):
                        content = b"".join(chunks)
                        if watch.expired:
                            raise requests.Timeout()
                        try:
                            parsed_error: Any = json.loads(content)
                        except (ValueError, UnicodeDecodeError):
                            parsed_error = None
                        return _Answer(status, parsed_error)
                    watch.leave_thread()  # the caller's work between records opens no socket of ours
                    stream = EnvelopeStream(chunks, key)
                    position = 0
                    refused: bool | None = None  # decided at the first record, by the members before it
                    for record in stream.records():
                        if watch.expired:
                            raise requests.Timeout()
                        if refused is None:
                            members = stream.envelope
                            refused = "success" in members and members["success"] is not True
                        if refused:
                            continue  # a failed answer's records are read past, never handed on
                        digest = _record_digest(record)
                        short = int.from_bytes(digest[:8], "big")
                        if position < len(handed):
                            if handed[position] != short:
                                raise _answer_changed(path, len(handed))
                            position += 1
                            continue  # handed on by an earlier attempt
                        handed.append(short)
                        position += 1
                        yield record, digest
                    if watch.expired:
                        raise requests.Timeout()
                    if position < len(handed) and not refused:
                        raise _answer_changed(path, len(handed))
                    return _Answer(status, stream.envelope)
            except PayTraceTransientError as exc:
                error = exc
            except StreamFormatError:
                error = (
                    self._attempt_error(path, requests.Timeout(), watch, timeout)
                    if watch.expired
                    else PayTraceMalformedResponseError(
                        f"PayTrace {path}: response is not valid JSON (invalid or truncated)"
                    )
                )
            except (PayTraceResponseTooLargeError, PayTraceAnswerChangedError):
                raise  # the same answer would be as large again / what was handed on cannot be taken back
            except Exception as exc:
                error = self._attempt_error(path, exc, watch, timeout)
            finally:
                if chunks is not None and hasattr(chunks, "close"):
                    chunks.close()  # closes the response too
            self._wait_to_retry(error, attempt, started, deadline, retry_after)

    def _date_range_records(
        self,
        path: str,
        key: str,
        start: dt.date,
        end: dt.date,
        extra: dict[str, Any],
        id_key: str,
        stamp_path: str,
    ) -> Iterator[dict[str, Any]]:
        """Records of a date-range export over merchant days ``[start, end)``, chunked, exact repeats dropped.

        With ``stream_exports`` each answer is parsed as it arrives (:meth:`call_records`): the same
        records in the same order, never a whole day in memory, but provisional until the iteration
        ends (a failure after some records raises; the caller discards what it made of them).

        A record whose id was already yielded with the *same* content (overlapping requests, a repeated
        row) is dropped silently; one with *different* content is yielded too, for the caller to
        resolve (:func:`paytrace_sl.pipeline.copies.resolve_copies` turns it into a dead letter).

        Without ``overlap_days`` every record PayTrace lists for the days ``[start, end)`` is yielded,
        whatever its timestamp says (the pipeline counts one created outside its range and processes
        it). With ``overlap_days`` = N > 0 (PayTrace's end-date inclusiveness and day-boundary zone are
        undocumented, reference §2.1) the N neighbouring days on each side are requested too, and a
        record is attributed to the run whose days hold its timestamp: one stamped in ``[start, end)``
        is yielded; one stamped within N days of the range is left to that neighbouring run (which
        requests these days too, and keeps it); one listed for ``[start, end)`` but stamped further away
        — no run would keep it — is yielded all the same. Unreadable timestamps are yielded so the
        parser rejects them by name. Nothing PayTrace lists is dropped by every run.
        """
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        s = self.settings
        overlap = dt.timedelta(days=s.overlap_days)
        tz = s.tz
        seen: dict[Any, bytes | set[bytes]] = {}  # id -> digest(s) of the distinct copies yielded
        segments = [(start, end, False)]
        if s.overlap_days and end > start:
            segments = [(start - overlap, start, True), (start, end, False), (end, end + overlap, True)]
        requests_ = (
            (window_start, window_stop, widened)
            for seg_start, seg_end, widened in segments
            for window_start, window_stop in day_windows(seg_start, seg_end, s.max_span_days)
        )
        for window_start, window_stop, widened in requests_:
            last_day = window_stop - dt.timedelta(days=1) if s.end_date_inclusive else window_stop
            fields = {
                "start_date": format_request_date(window_start),
                "end_date": format_request_date(last_day),
                **extra,
            }
            pairs: Iterator[tuple[Any, bytes | None]]
            if self.stream_exports:
                pairs = self.call_records(path, fields, key)
            else:
                envelope = self.call(path, fields)
                pairs = _handed_out(_collection(path, envelope, key))
                del envelope
            duplicates = conflicting = outside = total = 0
            for record, known_digest in pairs:
                total += 1
                if (
                    s.overlap_days
                    and not _stamp_in_range(record, stamp_path, tz, start, end)
                    and (widened or _stamp_in_range(record, stamp_path, tz, start - overlap, end + overlap))
                ):
                    outside += 1  # a neighbouring run's record: it requests these days and keeps it
                    continue
                rid = record.get(id_key) if isinstance(record, dict) else None
                if isinstance(rid, (int, str)) and not isinstance(rid, bool):
                    digest = known_digest or _record_digest(record)
                    copies = seen.get(rid)
                    if copies is None:
                        seen[rid] = digest  # one copy (nearly every id): no set
                    elif digest == copies or (isinstance(copies, set) and digest in copies):
                        duplicates += 1
                        continue
                    else:
                        seen[rid] = {copies, digest} if isinstance(copies, bytes) else copies | {digest}
                        conflicting += 1
                yield record
            log.info(
                "PayTrace %s %s..%s: %d record(s) kept, %d exact repeat(s) dropped, "
                "%d differing cop(y/ies) of a seen id passed on, %d of a neighbouring day's export",
                path,
                window_start,
                window_stop,
                total - duplicates - outside,
                duplicates,
                conflicting,
                outside,
            )

    def export_transactions_raw(
        self, start: dt.date, end: dt.date, *, transaction_type: str | None = None, include_bin: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Raw ``transactions[]`` dicts of merchant days ``[start, end)``; no exact repeats, but an id may
        come more than once with different content (see :meth:`_date_range_records`)."""
        extra: dict[str, Any] = {}
        if transaction_type:
            extra["transaction_type"] = transaction_type.upper()
        if include_bin:
            extra["include_bin"] = True
        return self._date_range_records(
            EXPORT_BY_DATE, "transactions", start, end, extra, "transaction_id", "created.at"
        )

    def export_transactions(
        self, start: dt.date, end: dt.date, *, transaction_type: str | None = None
    ) -> Iterator[Transaction]:
        """Parsed transactions in ``[start, end)``, unique by id; a record that fails to parse raises
        RecordParseError, an id returned with different content raises ConflictingDuplicateError."""
        tz = self.settings.tz
        seen: dict[int, Transaction] = {}
        for raw in self.export_transactions_raw(start, end, transaction_type=transaction_type):
            tx = parse_transaction(raw, tz, export_filter=transaction_type)
            if _first_copy(seen, tx.transaction_id, tx, "transaction"):
                yield tx

    def parse_transaction(self, raw: Any, *, export_filter: str | None = None) -> Transaction:
        return parse_transaction(raw, self.settings.tz, export_filter=export_filter)

    def export_transaction(self, transaction_id: int) -> Transaction | None:
        """One transaction by id (``export/by_id``), or None when PayTrace returns none."""
        envelope = self.call(EXPORT_BY_ID, {"transaction_id": int(transaction_id)})
        records = _collection(EXPORT_BY_ID, envelope, "transactions")
        return parse_transaction(records[0], self.settings.tz) if records else None

    def export_batches_raw(self, start: dt.date, end: dt.date) -> Iterator[dict[str, Any]]:
        """Raw settled-batch summaries of merchant days ``[start, end)``; no exact repeats, but a number
        may come more than once with different content (see :meth:`_date_range_records`)."""
        return self._date_range_records(
            BATCHES_EXPORT, "batches", start, end, {}, "number", BATCH_FIELDS["created_at"]
        )

    def export_batches(self, start: dt.date, end: dt.date) -> list[SettlementBatch]:
        """Parsed batch summaries, unique by number (different content: ConflictingDuplicateError)."""
        tz = self.settings.tz
        seen: dict[int, SettlementBatch] = {}
        batches = (parse_batch(raw, tz) for raw in self.export_batches_raw(start, end))
        return [b for b in batches if _first_copy(seen, b.number, b, "settlement batch")]

    def export_batch_raw(self, batch_number: int | None = None) -> dict[str, Any]:
        fields = {} if batch_number is None else {"batch_number": int(batch_number)}
        envelope = self.call(BATCH_EXPORT_ONE, fields)
        batch = envelope.get("batch")
        if not isinstance(batch, dict):
            raise PayTraceMalformedResponseError(
                f"PayTrace {BATCH_EXPORT_ONE}: 'batch' missing or not an object"
            )
        return batch

    def export_batch(self, batch_number: int | None = None) -> SettlementBatch:
        """One batch with per-brand totals (``export_one``); the latest batch when no number is given."""
        return parse_batch(self.export_batch_raw(batch_number), self.settings.tz)

    def batch_transactions_raw(self, batch_number: int) -> list[dict[str, Any]]:
        envelope = self.call(BATCH_TRANSACTIONS, {"batch_number": int(batch_number)})
        return _collection(BATCH_TRANSACTIONS, envelope, "transactions")

    def batch_transactions(self, batch_number: int) -> list[Transaction]:
        """Settled transactions of one batch (``batches/transaction_list``)."""
        tz = self.settings.tz
        return [parse_transaction(raw, tz) for raw in self.batch_transactions_raw(batch_number)]

    def export_customers_raw(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        envelope = self.call(CUSTOMER_EXPORT, {"customer_id": customer_id} if customer_id else {})
        return _collection(CUSTOMER_EXPORT, envelope, "customers")

    def export_customers(self, customer_id: str | None = None) -> list[VaultCustomer]:
        """Vault customer profiles (masked card data only)."""
        tz = self.settings.tz
        return [parse_customer(raw, tz) for raw in self.export_customers_raw(customer_id)]

    # -- recurring billing (paytrace_sl.paytrace.recurring) ----------------------------------------

    def export_recurrences_raw(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        """Raw recurring schedules (``recurrence/export``), optionally of one vault customer."""
        envelope = self.call(RECURRENCE_EXPORT, {"customer_id": customer_id} if customer_id else {})
        return _collection(RECURRENCE_EXPORT, envelope, RECURRENCES_KEY)

    def export_recurrences(self, customer_id: str | None = None) -> list[RecurringSchedule]:
        """Parsed schedules; a record that fails raises RecordParseError (record + field named)."""
        tz = self.settings.tz
        return [parse_recurrence(raw, tz) for raw in self.export_recurrences_raw(customer_id)]

    def export_recurring_approved_raw(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        """Raw approved recurring payments (``recurrence/export_approved``)."""
        envelope = self.call(RECURRENCE_EXPORT_APPROVED, {"customer_id": customer_id} if customer_id else {})
        return _collection(RECURRENCE_EXPORT_APPROVED, envelope, APPROVED_KEY)

    def export_recurring_approved(self, customer_id: str | None = None) -> list[RecurringPayment]:
        tz = self.settings.tz
        return [parse_recurring_payment(raw, tz) for raw in self.export_recurring_approved_raw(customer_id)]


class PayTraceAnswerChangedError(PayTraceError):
    """A streamed answer differed on retry from the records already handed on; not retried (the caller
    discards what it made of them and runs again)."""


def _answer_changed(path: str, handed: int) -> PayTraceAnswerChangedError:
    return PayTraceAnswerChangedError(
        f"PayTrace {path}: the answer changed between attempts after {handed} record(s) were handed on; "
        "not retried (run the extract again)"
    )


class ConflictingDuplicateError(PayTraceError):
    """PayTrace returned one id twice with different content (names the fields, no values; not retried)."""


def _record_digest(record: Any) -> bytes:
    """Digest of a raw record's content: tells an exact repeat from a differing copy of the same id."""
    text = json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _handed_out(records: list[Any]) -> Iterator[tuple[Any, None]]:
    """``records`` front to back, dropping the list's reference to each as it goes: the caller turns them
    into compact records, so the raw dicts of a big export are freed one by one."""
    records.reverse()
    while records:
        yield records.pop(), None


def _first_copy(seen: dict[int, Any], key: int, record: Any, what: str) -> bool:
    """True for the first copy of ``key``; False for an identical copy; raises for a different one."""
    first = seen.setdefault(key, record)
    if first is record:
        return True
    from paytrace_sl.pipeline.copies import differing_fields  # the one duplicate-id policy's field diff

    fields = differing_fields(first, record)
    if fields:
        raise ConflictingDuplicateError(
            f"PayTrace returned {what} {key} twice with different content (fields: {', '.join(fields)})"
        )
    return False


def _transport_error(path: str, exc: Exception) -> PayTraceTransientError | None:
    """The retryable error for a failed exchange (by exception type only: no body text), or None."""
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | urllib3_exc.ProtocolError):
        return PayTraceMalformedResponseError(f"PayTrace {path}: response cut off (truncated body)")
    if isinstance(exc, requests.ConnectionError | ConnectionError):
        return PayTraceConnectionError(f"PayTrace {path}: connection failed ({type(exc).__name__})")
    if isinstance(exc, requests.RequestException | urllib3_exc.HTTPError | OSError):
        # e.g. ContentDecodingError / DecodeError: treat as transient too
        return PayTraceConnectionError(f"PayTrace {path}: request failed ({type(exc).__name__})")
    return None


def _is_invalid_token(answer: _Answer) -> bool:
    return (
        answer.status in (400, 401, 403)
        and isinstance(answer.body, dict)
        and answer.body.get("error") == "invalid_token"
    )


def _check_envelope(path: str, answer: _Answer) -> dict[str, Any]:
    """Judge a v1 answer: ``success`` first, then ``errors``, then ``response_code``."""
    body = answer.body
    if not isinstance(body, dict):
        if answer.status == 401:
            raise PayTraceAuthError(f"PayTrace {path}: HTTP 401 (not authorized)")
        raise PayTraceHTTPError(path, answer.status)
    success = body.get("success")
    if success is True:
        if answer.status not in (200, 201):
            raise PayTraceMalformedResponseError(f"PayTrace {path}: success with HTTP {answer.status}")
        code = body.get("response_code")
        if isinstance(code, bool) or not isinstance(code, int):
            raise PayTraceMalformedResponseError(f"PayTrace {path}: response_code missing or not an integer")
        return body
    if success is False or "errors" in body:
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            clean = {
                str(k): [str(redact(m)) for m in (v if isinstance(v, list) else [v])]
                for k, v in errors.items()
            }
            raise PayTraceValidationError(path, clean, answer.status)
        message = body.get("status_message")
        text = str(redact(message)) if isinstance(message, str) else "no errors given"
        raise PayTraceValidationError(path, {"": [text]}, answer.status)
    if "error" in body:
        code = body.get("error")
        if answer.status == 401 or code in ("invalid_grant", "unauthorized", "access_denied"):
            raise PayTraceAuthError(f"PayTrace {path}: not authorized ({redact(str(code))})")
        raise PayTraceHTTPError(path, answer.status)
    if answer.status not in (200, 201):
        raise PayTraceHTTPError(path, answer.status)
    raise PayTraceMalformedResponseError(f"PayTrace {path}: 'success' missing or not a boolean")


def _stamp_in_range(record: Any, stamp_path: str, tz: ZoneInfo, start: dt.date, end: dt.date) -> bool:
    """Whether the record's local timestamp falls in merchant days ``[start, end)``; True if unreadable."""
    node = record
    for part in stamp_path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, str):
        return True
    try:
        day = parse_paytrace_datetime(node, tz).date()
    except ValueError:
        return True
    return start <= day < end


def _collection(path: str, envelope: dict[str, Any], key: str) -> list[Any]:
    value = envelope.get(key)
    if value is None:
        return []  # an empty export may omit the array [I]
    if not isinstance(value, list):
        raise PayTraceMalformedResponseError(f"PayTrace {path}: {key!r} is not a list")
    return value
