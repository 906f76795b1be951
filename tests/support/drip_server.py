"""A slow-loris HTTP server: answers every connection one byte at a time, over a real socket.

``requests``' timeouts are per socket read, so a server that keeps sending (slowly) never trips them;
this one does exactly that, for a bounded time (:data:`DRIP_SECONDS`) so a test without the fix ends.
"""

from __future__ import annotations

import socket
import threading
import time

__all__ = ["DRIP_SECONDS", "DripServer"]

DRIP_SECONDS = 8.0  # how long a connection keeps dripping: the bound a client without a deadline sees


class DripServer:
    """Reads the request, sends ``head`` at once, then ``drip`` one byte per ``gap`` seconds."""

    def __init__(
        self, drip: bytes, head: bytes = b"", gap: float = 0.2, seconds: float = DRIP_SECONDS
    ) -> None:
        self.seconds = seconds
        self.head = head
        self.drip = drip
        self.gap = gap
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._threads: list[threading.Thread] = []

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            thread = threading.Thread(target=self._drip, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            try:
                conn.recv(65536)  # the request (small: headers and a form body)
                conn.sendall(self.head)
                stop_at = time.monotonic() + self.seconds
                for byte in self.drip:
                    if self._stop.is_set() or time.monotonic() > stop_at:
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(self.gap)
            except OSError:
                return  # the client cut us off

    def __enter__(self) -> DripServer:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._sock.close()
