"""SL URL passwords read whole (unescaped '@', '/', '%'), secrets from files, redaction in structlog."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import structlog
from sqlalchemy.engine import make_url

from paytrace_sl.redaction import forget_secret, redact_text
from paytrace_sl.secret_inputs import normalize_sl_url, read_secret_file, url_password
from paytrace_sl.settings import ConfigurationError
from paytrace_sl.structlog_redaction import redact_event


@pytest.mark.parametrize(
    ("url", "password", "host"),
    [
        ("mssql+pyodbc://sa:p@ss@sl-db:1433/SL?driver=ODBC+Driver+18", "p@ss", "sl-db"),
        ("postgresql+psycopg://u:a@b@c@127.0.0.1/db", "a@b@c", "127.0.0.1"),
        ("postgresql+psycopg://u:sl%40word@127.0.0.1/db", "sl@word", "127.0.0.1"),
        ("postgresql+psycopg://u:50%off/x@h/db", "50%off/x", "h"),
    ],
)
def test_password_is_read_up_to_the_last_at(url: str, password: str, host: str) -> None:
    assert url_password(url) == password
    parsed = make_url(normalize_sl_url(url))
    assert (parsed.password, parsed.host) == (password, host)
    assert password not in parsed.render_as_string(hide_password=True)
    assert password not in redact_text(f"connecting to {url} failed")
    forget_secret(password)


def test_urls_without_password_are_unchanged() -> None:
    for url in ("sqlite:///var/sl.db", "mssql+pyodbc://user@dsn", "postgresql+psycopg://h/db"):
        assert normalize_sl_url(url) == url and url_password(url) is None


def test_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("  s3cret-from-file \nignored\n")
    assert read_secret_file(path, "PayTrace password") == "s3cret-from-file"
    assert "s3cret-from-file" not in redact_text("password was s3cret-from-file")
    forget_secret("s3cret-from-file")
    path.write_text("\n")
    with pytest.raises(ConfigurationError, match="empty"):
        read_secret_file(path, "PayTrace password")
    with pytest.raises(ConfigurationError, match="cannot read PayTrace password"):
        read_secret_file(tmp_path / "missing", "PayTrace password")


def test_structlog_processor_redacts_message_fields_and_traceback() -> None:
    pan = "4111111111111111"
    try:
        raise ValueError(f"bad id {pan}")
    except ValueError as exc:
        event = {"event": f"id {pan}", "detail": {"id": pan}, "exc_info": exc, "_record": object()}
        out = redact_event(None, "error", event)
    text = str({k: v for k, v in out.items() if not k.startswith("_")})
    assert pan not in text and "1111" in text and "ValueError" in out["exception"]
    assert "exc_info" not in out and out["_record"] is event["_record"]
    rendered = structlog.dev.ConsoleRenderer(colors=False)(None, "error", out)
    assert pan not in rendered


def test_stdlib_record_through_processor_formatter_is_redacted() -> None:
    """What Airflow's root handler does: a ProcessorFormatter renders exc_info itself."""
    from paytrace_sl import structlog_redaction

    pan = "4111111111111111"
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(colors=False),
        ]
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        structlog_redaction.install()
        try:
            raise KeyError(pan)
        except KeyError:
            record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", (pan,), None)
            import sys

            record.exc_info = sys.exc_info()
        text = handler.format(record)
    finally:
        root.removeHandler(handler)
    assert "KeyError" in text and pan not in text
