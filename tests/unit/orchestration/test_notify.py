"""Notifications: signed webhooks a receiver can verify, Slack payloads, channel failures contained."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from paytrace_sl.pipeline.notify import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Notification,
    NotifySettings,
    attention_needed,
    notify,
    notify_declines,
    sign,
    verify_signature,
)

SECRET = "whsec-test-123"


class _Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200


@pytest.fixture
def receiver() -> Iterator[tuple[str, _Receiver]]:
    state = _Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append((self.path, dict(self.headers), body))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


NOTE = Notification(
    kind="attention",
    title="run left items for review",
    run_id="scheduled__2025-03-09",
    window="w",
    counts={"review": 2, "dead_letter": 1},
)


def test_signed_webhook_verifies_and_tampering_fails(receiver: tuple[str, _Receiver]) -> None:
    url, state = receiver
    settings = NotifySettings(channels=("webhook",), webhook_url=url + "/hook", webhook_secret=SECRET)
    assert notify(settings, NOTE) == {"webhook": "sent"}
    path, headers, body = state.requests[0]
    assert path == "/hook"
    assert json.loads(body)["counts"] == {"review": 2, "dead_letter": 1}
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert verify_signature(SECRET, ts, body, sig, max_age=dt.timedelta(minutes=5))
    assert not verify_signature(SECRET, ts, body + b" ", sig)
    assert not verify_signature("other-secret", ts, body, sig)
    assert not verify_signature(
        SECRET,
        str(int(ts) - 3600),
        body,
        sign(SECRET, str(int(ts) - 3600), body),
        max_age=dt.timedelta(minutes=5),
    )


def test_slack_and_failed_channel_is_reported_not_raised(
    receiver: tuple[str, _Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    url, state = receiver
    state.status = 500
    settings = NotifySettings(channels=("log", "slack"), slack_webhook_url=url + "/T000/B000/secretpart")
    with caplog.at_level(logging.WARNING):
        outcome = notify(settings, NOTE)
    assert outcome == {"log": "sent", "slack": "failed: HTTPError"}
    assert json.loads(state.requests[0][2])["text"].startswith("[paytrace-sl] run left items")
    assert "secretpart" not in caplog.text  # the Slack URL is a credential


def test_decline_webhook_sends_only_allowed_fields(receiver: tuple[str, _Receiver]) -> None:
    url, state = receiver
    settings = NotifySettings(decline_webhook_url=url + "/declines", decline_webhook_secret=SECRET)
    declines = [
        {"transaction_id": 7, "amount": "10.00", "card_masked": "************1111", "customer_id": "C1"}
    ]
    assert notify_declines(settings, "run-1", declines) == 1
    payload = json.loads(state.requests[0][2])
    assert payload["declined"][0]["transaction_id"] == 7
    assert "card_masked" not in payload["declined"][0]
    assert notify_declines(NotifySettings(), "run-1", declines) == 0  # off by default


def test_settings_from_env_validate_channels() -> None:
    env = {
        "PAYTRACE_SL_NOTIFY": "log,webhook",
        "PAYTRACE_SL_WEBHOOK_URL": "http://x",
        "PAYTRACE_SL_WEBHOOK_SECRET": "s",
    }
    settings = NotifySettings.from_env(env)
    assert settings.channels == ("log", "webhook")
    assert "s'" not in repr(settings) and "webhook_secret" not in repr(settings)
    with pytest.raises(ValueError, match="needs PAYTRACE_SL_WEBHOOK_URL"):
        NotifySettings.from_env({"PAYTRACE_SL_NOTIFY": "webhook"})
    with pytest.raises(ValueError, match="unknown notification channel"):
        NotifySettings.from_env({"PAYTRACE_SL_NOTIFY": "pager"})
    assert NotifySettings.from_env({}).channels == ("log",)


def test_attention_needed() -> None:
    assert attention_needed({"review": 1})
    assert attention_needed({"dead_letter": 2, "review": 0})
    assert not attention_needed({"posted": 5})
