"""A PayTrace stand-in that serves whatever records a test gives it, over real HTTP.

The full sandbox (``paytrace_sl_sandbox``) generates a consistent merchant and cannot serve arbitrary or
hostile records; this server answers PayTrace's token endpoint and the v1 export endpoints with records
chosen by the test, so the real ``PayTraceClient`` and the whole pipeline see them exactly as they would
from a misbehaving PayTrace. Records can be changed between runs (``records``, ``records_for``), and a
``responder`` can take over any request to produce raw bytes (slow bodies, gzip bombs, broken JSON).

What is served:
* ``/oauth/token``: a bearer token;
* ``/v1/transactions/export/by_date_range``: ``records`` (or ``records_for(body)``), empty for the
  DECLINED filter unless ``declined`` is set;
* ``/v1/batches/export``: ``batches``; ``/v1/batches/transaction_list``: ``batch_transactions[number]``;
* anything else: a PayTrace-shaped error answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HostilePayTrace", "RawAnswer"]

TOKEN = "0123abcd0123abcd:0123abcd0123abcd:" + "ab" * 32

# (status, headers, body) that a responder returns to take over a request entirely
RawAnswer = tuple[int, dict[str, str], bytes]


class HostilePayTrace:
    """Context manager: a threaded HTTP server on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.records_for: Callable[[dict[str, Any]], list[Any]] | None = None
        self.declined: list[Any] = []
        self.batches: list[Any] = []
        self.batch_transactions: dict[int, list[Any]] = {}
        self.responder: Callable[[str, dict[str, Any]], RawAnswer | None] | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                text = self.rfile.read(length).decode("utf-8", "replace")
                try:
                    body = json.loads(text) if text.lstrip().startswith("{") else {}
                except ValueError:
                    body = {}
                path = self.path.split("?", 1)[0]
                with outer._lock:
                    outer.requests.append((path, body))
                raw = outer.responder(path, body) if outer.responder else None
                if raw is None:
                    raw = outer._answer(path, body)
                status, headers, data = raw
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                    headers["Content-Length"] = str(len(data))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _answer(self, path: str, body: dict[str, Any]) -> RawAnswer:
        answer: dict[str, Any]
        if path == "/oauth/token":
            answer = {"access_token": TOKEN, "token_type": "bearer", "expires_in": 7200}
        elif path == "/v1/transactions/export/by_date_range":
            if "DECLINED" in json.dumps(body):
                records = self.declined
            else:
                records = self.records_for(body) if self.records_for else self.records
            answer = _ok(transactions=records)
        elif path == "/v1/batches/export":
            answer = _ok(batches=self.batches)
        elif path == "/v1/batches/transaction_list":
            number = body.get("batch_number")
            answer = _ok(transactions=self.batch_transactions.get(int(number or 0), []))
        else:
            answer = {"success": False, "response_code": 1, "status_message": "unknown path", "errors": {}}
        # NaN/Infinity go as JS literals, like a sloppy server; the client must cope
        return 200, {}, json.dumps(answer).encode()

    def __enter__(self) -> HostilePayTrace:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _ok(**collections: Any) -> dict[str, Any]:
    return {
        "success": True,
        "response_code": 1,
        "status_message": "Your request has been successfully completed.",
        **collections,
    }
