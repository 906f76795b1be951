"""Bounded HTTP for the PayTrace client: a total deadline per request, a size cap, bounded decompression.

``requests``' timeouts are per socket operation: a server that sends one byte every few seconds (in
the status line, the headers or the body) never trips them, and ``response.content`` decompresses a
gzip body without any limit. Here:

* :class:`Deadline` arms a timer for one request attempt (connect, send, headers and the whole body).
  The connections of a :func:`bounded_session` register their sockets with the attempt in progress
  on their thread; when the timer fires, those sockets are shut down, which unblocks whatever read is
  waiting, and the attempt is reported as expired whatever the read then returned.
* :func:`read_body` (whole) and :func:`iter_body` (chunk by chunk, for a streamed parse) read the body
  with ``raw.read(n, decode_content=True)`` (urllib3 ≥ 2 bounds the decompressed size of each read),
  count decompressed bytes against the cap, and refuse a compressed body that expands more than
  ``max_ratio`` times once it is past 1 MiB. A streamed attempt's deadline covers the whole body,
  including the time its consumer spends on the records between chunks.
Errors name the endpoint and the limit, never the body.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from paytrace_sl.paytrace.errors import PayTraceResponseTooLargeError

CHUNK_BYTES = 64 * 1024  # raw bytes per read: the ratio check sees the wire advance in small steps
RATIO_FLOOR_BYTES = 1024 * 1024  # small compressed bodies may expand a lot (runs of spaces): ignore them

_local = threading.local()


class Deadline:
    """Context manager for one request attempt: shuts its sockets down ``seconds`` after entry."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._granted = 0.0  # seconds of the caller's own work, added to the limit (see grant)
        self._closed = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shutdown(sock)
            elif sock not in self._sockets:
                self._sockets.append(sock)

    def grant(self, seconds: float) -> None:
        """Add ``seconds`` to the limit: time the caller spent on its own work, not waiting for PayTrace.

        A streamed answer is parsed and landed between reads; at a million records that work is minutes
        on a busy worker, and it must not count against a limit meant for a slow or stalled server.
        """
        if seconds > 0:
            with self._lock:
                if not self.expired:
                    self._granted += seconds

    def _expire(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._granted > 0:  # the caller's own work moved the limit: wait that much longer
                wait, self._granted = self._granted, 0.0
                self._timer = threading.Timer(wait, self._expire)
                self._timer.daemon = True
                self._timer.start()
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def __enter__(self) -> Deadline:
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._closed = True
            self._timer.cancel()
        if getattr(_local, "deadline", None) is self:
            _local.deadline = None

    def leave_thread(self) -> None:
        """Stop registering new sockets of this thread; the timer keeps running until ``__exit__``.

        A streamed body is read between the consumer's own work on the same thread: connections that
        work opens must not be cut off by this attempt's deadline.
        """
        if getattr(_local, "deadline", None) is self:
            _local.deadline = None


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _watch(sock: socket.socket | None) -> None:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    """Registers its socket with the thread's current :class:`Deadline`: when made and when reused."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # before TLS: a drip-fed handshake is cut off too
        return sock

    def getresponse(self) -> Any:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def getresponse(self) -> Any:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter with connections that a :class:`Deadline` can cut off (proxies included)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def bounded_session(session: requests.Session | None = None) -> requests.Session:
    """``session`` (or a new one) whose HTTP(S) connections honour :class:`Deadline`."""
    session = session or requests.Session()
    session.mount("https://", _DeadlineAdapter())
    session.mount("http://", _DeadlineAdapter())
    return session


def read_body(response: requests.Response, path: str, max_bytes: int, max_ratio: float) -> bytes:
    """The decoded body, at most ``max_bytes``; raises :class:`PayTraceResponseTooLargeError` beyond.

    The response must come from a ``stream=True`` request; it is closed here in every case.
    """
    return b"".join(iter_body(response, path, max_bytes, max_ratio))


def iter_body(
    response: requests.Response,
    path: str,
    max_bytes: int,
    max_ratio: float,
    deadline: Deadline | None = None,
) -> Iterator[bytes]:
    """The decoded body in chunks as they arrive, with :func:`read_body`'s limits checked before each
    chunk is handed on (a streamed parse never sees a byte beyond the cap or past a decompression bomb).

    With ``deadline``, the time the consumer holds each chunk (its parse and landing, between our
    reads) is granted to it (:meth:`Deadline.grant`): the limit measures PayTrace, not our own work.

    The response must come from a ``stream=True`` request; it is closed when the generator ends, fails
    or is closed.
    """
    try:
        declared = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity")
        if declared.isdigit() and not encoded and int(declared) > max_bytes:
            raise _too_large(path, max_bytes, "announced")
        raw = response.raw
        total = 0
        while True:
            chunk = raw.read(CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(path, max_bytes, "decoded")
            if encoded and total > RATIO_FLOOR_BYTES and total > max_ratio * max(1, raw.tell()):
                raise PayTraceResponseTooLargeError(
                    f"PayTrace {path}: compressed response expands more than {max_ratio:g} times "
                    "(refused as a decompression bomb; PayTrace setting max_decompression_ratio)"
                )
            if deadline is None:
                yield chunk
                continue
            handed = time.monotonic()
            yield chunk
            deadline.grant(time.monotonic() - handed)
    finally:
        response.close()


def _too_large(path: str, max_bytes: int, how: str) -> PayTraceResponseTooLargeError:
    return PayTraceResponseTooLargeError(
        f"PayTrace {path}: response larger than {max_bytes / 2**20:g} MiB ({how}); "
        "raise the PayTrace setting max_response_mb (PAYTRACE_MAX_RESPONSE_MB) or shorten max_span_days"
    )
