"""A tiny raw HTTP client for the sandbox's own tests (no production client in the loop, on purpose)."""

from __future__ import annotations

from typing import Any

import requests

from paytrace_sl_sandbox.server import SandboxServer


class Api:
    """A tiny raw client: the tests talk plain HTTP on purpose (no production client in the loop)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.url
        self.session = requests.Session()
        self.token = ""

    def login(self) -> str:
        resp = self.session.post(
            f"{self.url}/oauth/token",
            data={
                "grant_type": "password",
                "username": self.server.config.username,
                "password": self.server.config.password,
            },
            timeout=10,
        )
        resp.raise_for_status()
        self.token = resp.json()["access_token"]
        return self.token

    def post(self, path: str, body: dict[str, Any] | None = None, **kw: Any) -> requests.Response:
        if not self.token:
            self.login()
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return self.session.post(f"{self.url}{path}", json=body or {}, headers=headers, timeout=30, **kw)
