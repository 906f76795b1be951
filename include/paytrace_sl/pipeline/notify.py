"""Tell people (and systems) when a run needs attention.

Channels: ``log`` (default, always safe), ``email`` (SMTP), ``slack`` (incoming-webhook URL) and
``webhook`` (JSON POST signed with HMAC-SHA256 so the receiver can prove it came from us). Declined
payments go separately to the *originating system* (the shop or billing system that asked for the
charge), off unless a URL is configured.

A notification never carries card data or credentials: only counts, ids, the window and a reason.
A channel that fails to deliver is logged and reported back, never raised: a broken Slack URL must
not hide the failure it was reporting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import requests

from paytrace_sl.settings import ConfigurationError

log = logging.getLogger(__name__)

CHANNELS = ("log", "email", "slack", "webhook")
SIGNATURE_HEADER = "X-PaytraceSL-Signature"
TIMESTAMP_HEADER = "X-PaytraceSL-Timestamp"
EVENT_HEADER = "X-PaytraceSL-Event"


@dataclass(frozen=True)
class NotifySettings:
    """Where notifications go. Secrets are kept out of ``repr``."""

    channels: tuple[str, ...] = ("log",)
    slack_webhook_url: str = field(default="", repr=False)  # the URL itself is the credential
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    email_to: tuple[str, ...] = ()
    email_from: str = "paytrace-sl@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    decline_webhook_url: str = ""  # originating system; empty = off
    decline_webhook_secret: str = field(default="", repr=False)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown:
            raise ConfigurationError(
                f"unknown notification channel(s) {unknown}; known: {', '.join(CHANNELS)}"
            )
        if "slack" in self.channels and not self.slack_webhook_url:
            raise ConfigurationError("notification channel 'slack' needs PAYTRACE_SL_SLACK_WEBHOOK_URL")
        if "webhook" in self.channels and not (self.webhook_url and self.webhook_secret):
            raise ConfigurationError(
                "notification channel 'webhook' needs PAYTRACE_SL_WEBHOOK_URL and _SECRET"
            )
        if "email" in self.channels and not self.email_to:
            raise ConfigurationError("notification channel 'email' needs PAYTRACE_SL_NOTIFY_EMAIL_TO")
        if self.decline_webhook_url and not self.decline_webhook_secret:
            raise ConfigurationError(
                "PAYTRACE_SL_DECLINE_WEBHOOK_URL needs PAYTRACE_SL_DECLINE_WEBHOOK_SECRET"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifySettings:
        """``PAYTRACE_SL_NOTIFY`` (comma list of channels) and the ``PAYTRACE_SL_*`` settings below."""
        from paytrace_sl.settings import environ

        e = environ() if env is None else env
        channels = tuple(
            c.strip().lower() for c in e.get("PAYTRACE_SL_NOTIFY", "log").split(",") if c.strip()
        )
        return cls(
            channels=channels or ("log",),
            slack_webhook_url=e.get("PAYTRACE_SL_SLACK_WEBHOOK_URL", ""),
            webhook_url=e.get("PAYTRACE_SL_WEBHOOK_URL", ""),
            webhook_secret=e.get("PAYTRACE_SL_WEBHOOK_SECRET", ""),
            email_to=tuple(
                a.strip() for a in e.get("PAYTRACE_SL_NOTIFY_EMAIL_TO", "").split(",") if a.strip()
            ),
            email_from=e.get("PAYTRACE_SL_NOTIFY_EMAIL_FROM", "paytrace-sl@localhost"),
            smtp_host=e.get("PAYTRACE_SL_SMTP_HOST", "localhost"),
            smtp_port=int(e.get("PAYTRACE_SL_SMTP_PORT", "25")),
            decline_webhook_url=e.get("PAYTRACE_SL_DECLINE_WEBHOOK_URL", ""),
            decline_webhook_secret=e.get("PAYTRACE_SL_DECLINE_WEBHOOK_SECRET", ""),
        )


@dataclass(frozen=True)
class Notification:
    """One message. ``kind``: ``failure`` (a task failed) or ``attention`` (review/dead-letter left)."""

    kind: str
    title: str
    run_id: str = ""
    window: str = ""
    reason: str = ""
    counts: Mapping[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "run_id": self.run_id,
            "window": self.window,
            "reason": self.reason,
            "counts": dict(self.counts),
        }

    def text(self) -> str:
        lines = [f"[paytrace-sl] {self.title}"]
        if self.window:
            lines.append(f"window: {self.window}")
        if self.run_id:
            lines.append(f"run: {self.run_id}")
        if self.reason:
            lines.append(f"reason: {self.reason}")
        lines.extend(f"{key}: {value}" for key, value in self.counts.items())
        return "\n".join(lines)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>.<body>"`` (timestamp binds against replay)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, max_age: dt.timedelta | None = None
) -> bool:
    """What a receiver runs: constant-time compare, optionally rejecting old timestamps."""
    if max_age is not None:
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            return False
        if age > max_age.total_seconds():
            return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def post_signed(url: str, secret: str, event: str, payload: Mapping[str, Any], timeout: float = 10.0) -> None:
    """POST ``payload`` as JSON with the timestamp and signature headers; raises on HTTP errors."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        EVENT_HEADER: event,
    }
    response = requests.post(url, data=body, headers=headers, timeout=timeout)
    response.raise_for_status()


def _send_email(settings: NotifySettings, note: Notification) -> None:
    message = EmailMessage()
    message["Subject"] = f"[paytrace-sl] {note.title}"
    message["From"] = settings.email_from
    message["To"] = ", ".join(settings.email_to)
    message.set_content(note.text())
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout) as smtp:
        smtp.send_message(message)


def notify(settings: NotifySettings, note: Notification) -> dict[str, str]:
    """Deliver ``note`` on every configured channel; returns ``{channel: "sent" | "failed: <type>"}``."""
    outcome: dict[str, str] = {}
    for channel in settings.channels:
        try:
            if channel == "log":
                level = logging.ERROR if note.kind == "failure" else logging.WARNING
                log.log(level, "%s", note.text())
            elif channel == "slack":
                response = requests.post(
                    settings.slack_webhook_url, json={"text": note.text()}, timeout=settings.timeout
                )
                response.raise_for_status()
            elif channel == "webhook":
                post_signed(
                    settings.webhook_url,
                    settings.webhook_secret,
                    note.kind,
                    note.to_json_dict(),
                    settings.timeout,
                )
            elif channel == "email":
                _send_email(settings, note)
            outcome[channel] = "sent"
        except Exception as exc:  # a notifier must never raise over the failure it reports
            # Only the exception type: messages of HTTP errors can contain the (secret) webhook URL.
            outcome[channel] = f"failed: {type(exc).__name__}"
            log.warning("notification channel %s failed: %s", channel, type(exc).__name__)
    return outcome


def attention_needed(summary: Mapping[str, Any]) -> bool:
    """A finished run that left work for a person: items in review or dead letters."""
    return int(summary.get("review", 0) or 0) > 0 or int(summary.get("dead_letter", 0) or 0) > 0


def notify_declines(settings: NotifySettings, run_id: str, declines: Sequence[Mapping[str, Any]]) -> int:
    """Tell the originating system about declined payments (signed webhook); returns how many were sent.

    Each item carries only ``transaction_id``, ``amount``, ``created_at``, ``customer_id``,
    ``invoice_id`` and PayTrace's decline message: enough to chase the payer, no card data.
    """
    if not settings.decline_webhook_url or not declines:
        return 0
    allowed = ("transaction_id", "amount", "created_at", "customer_id", "invoice_id", "status_message")
    items = [{k: d.get(k) for k in allowed} for d in declines]
    try:
        post_signed(
            settings.decline_webhook_url,
            settings.decline_webhook_secret,
            "declined",
            {"run_id": run_id, "declined": items},
            settings.timeout,
        )
    except Exception as exc:  # a down receiver must not fail the posting run
        log.warning("decline notification failed: %s", type(exc).__name__)
        return 0
    return len(items)
