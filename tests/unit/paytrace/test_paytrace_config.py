"""PayTraceSettings: precedence flags → PAYTRACE_* → Airflow connection → defaults; safe repr."""

from __future__ import annotations

import json

import pytest

from paytrace_sl.paytrace.config import DEFAULT_URL, PayTraceSettings
from paytrace_sl.settings import ConfigurationError

ENV = (
    "PAYTRACE_URL",
    "PAYTRACE_USERNAME",
    "PAYTRACE_PASSWORD",
    "PAYTRACE_INTEGRATOR_ID",
    "PAYTRACE_TIMEZONE",
    "AIRFLOW_CONN_PAYTRACE_DEFAULT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = PayTraceSettings.from_env()
    assert s.url == DEFAULT_URL and s.timezone == "America/Los_Angeles" and s.max_span_days == 1
    with pytest.raises(ConfigurationError, match="username"):
        s.require_credentials()


def test_repr_hides_secrets() -> None:
    s = PayTraceSettings(username="u", password="pw-hidden", integrator_id="INTEG42")
    assert "pw-hidden" not in repr(s) and "INTEG42" not in repr(s) and "'u'" in repr(s)
    assert "pw-hidden" not in str(s)


def test_env_then_connection_then_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAYTRACE_DEFAULT",
        json.dumps(
            {
                "conn_type": "paytrace",
                "host": "https://api.sandbox.paytrace.com",
                "login": "connuser",
                "password": "connpw",
                "extra": {"integrator_id": "CONNINT", "timezone": "America/Denver", "max_attempts": "7"},
            }
        ),
    )
    s = PayTraceSettings.from_env()
    assert (s.url, s.username, s.password, s.integrator_id) == (
        "https://api.sandbox.paytrace.com",
        "connuser",
        "connpw",
        "CONNINT",
    )
    assert s.timezone == "America/Denver" and s.max_attempts == 7
    monkeypatch.setenv("PAYTRACE_USERNAME", "envuser")
    monkeypatch.setenv("PAYTRACE_TIMEZONE", "America/Chicago")
    s = PayTraceSettings.from_env(password="flagpw", url=None)
    assert (s.username, s.password, s.timezone) == ("envuser", "flagpw", "America/Chicago")
    assert s.url == "https://api.sandbox.paytrace.com"


def test_uri_connection_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAYTRACE_DEFAULT", "paytrace://u%40x:p%2Fw@127.0.0.1:8099?integrator_id=IID1"
    )
    s = PayTraceSettings.from_env()
    assert (s.url, s.username, s.password, s.integrator_id) == ("http://127.0.0.1:8099", "u@x", "p/w", "IID1")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timezone": "Mars/Olympus"},
        {"max_attempts": 0},
        {"max_span_days": 0},
        {"read_timeout": 0},
        {"requests_per_second": -1},
    ],
)
def test_invalid_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        PayTraceSettings(**kwargs)  # type: ignore[arg-type]


def test_bad_number_in_connection_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PAYTRACE_DEFAULT", json.dumps({"extra": {"read_timeout": "soon"}}))
    with pytest.raises(ConfigurationError, match="read_timeout"):
        PayTraceSettings.from_env()
