"""PayTrace client settings: one frozen object, built from flags, environment or an Airflow connection.

Precedence for each value (``paytrace_sl.settings``): explicit override (CLI flag, hook) → ``PAYTRACE_*``
environment variable → Airflow connection ``paytrace_default`` (given by the Airflow adapter, else as
``AIRFLOW_CONN_PAYTRACE_DEFAULT``) → default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paytrace_sl.paytrace.timefmt import DEFAULT_TIMEZONE
from paytrace_sl.redaction import register_secret
from paytrace_sl.settings import ConfigurationError, airflow_conn_from_env, env

DEFAULT_URL = "https://api.paytrace.com"
PAYTRACE_CONN_ID = "paytrace_default"
PASSWORD_FILE_ENV = "PAYTRACE_PASSWORD_FILE"  # noqa: S105 - the name of a variable naming a file

_ENV = {
    "url": "PAYTRACE_URL",
    "username": "PAYTRACE_USERNAME",
    "password": "PAYTRACE_PASSWORD",
    "integrator_id": "PAYTRACE_INTEGRATOR_ID",
    "timezone": "PAYTRACE_TIMEZONE",
    "request_deadline": "PAYTRACE_REQUEST_DEADLINE",
    "max_response_mb": "PAYTRACE_MAX_RESPONSE_MB",
}


@dataclass(frozen=True)
class PayTraceSettings:
    """Everything the client needs. Secrets are excluded from ``repr`` so the object is safe to log."""

    url: str = DEFAULT_URL
    username: str = ""
    password: str = field(default="", repr=False)
    integrator_id: str = field(default="", repr=False)
    timezone: str = DEFAULT_TIMEZONE
    connect_timeout: float = 10.0
    read_timeout: float = 120.0  # exports of a busy day can take a while to be generated
    # one attempt as a whole (connect, send, headers, whole body): the timeouts above are per socket
    # operation, so a server dripping one byte at a time would never trip them
    request_deadline: float = 600.0
    # decoded size cap per answer: a day of 1M records is ~1 GB of JSON (~1 KB a record), so 2 GiB
    max_response_mb: float = 2048.0
    max_decompression_ratio: float = 200.0  # JSON gzips ~20-30 times; a gzip bomb ~1000 times
    max_attempts: int = 5  # per request, first try included
    max_retry_seconds: float = 120.0  # total time budget for one request incl. retries and waits
    backoff_base: float = 1.0  # seconds; attempt n waits uniform(0, base * 2**n), capped by backoff_cap
    backoff_cap: float = 30.0
    requests_per_second: float = 5.0  # token bucket refill rate; 0 disables pacing
    rate_burst: int = 1  # token bucket size: requests allowed back to back before pacing applies
    max_span_days: int = 1  # longer date ranges are split into requests of this many days
    end_date_inclusive: bool = True  # [U] PayTrace's end_date semantics; the sandbox treats it as inclusive
    overlap_days: int = 0  # widen each export by this many days per side, then keep only [start, end)

    def __post_init__(self) -> None:
        # wherever credentials are read (flags, environment, files, connections), they are scrubbed
        register_secret(self.password)
        register_secret(self.integrator_id)
        if not self.url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"PayTrace url must start with https:// (got {self.url!r}; PAYTRACE_URL)"
            )
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if self.overlap_days < 0:
            raise ConfigurationError("overlap_days must be >= 0")
        if self.rate_burst < 1:
            raise ConfigurationError("rate_burst must be at least 1")
        if self.max_span_days < 1:
            raise ConfigurationError("max_span_days must be at least 1")
        if self.requests_per_second < 0 or self.max_retry_seconds < 0 or self.backoff_base < 0:
            raise ConfigurationError("requests_per_second, max_retry_seconds and backoff_base must be >= 0")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigurationError("connect_timeout and read_timeout must be > 0")
        if self.request_deadline <= 0 or self.max_response_mb <= 0 or self.max_decompression_ratio < 1:
            raise ConfigurationError(
                "request_deadline and max_response_mb must be > 0 (PAYTRACE_REQUEST_DEADLINE, "
                "PAYTRACE_MAX_RESPONSE_MB), max_decompression_ratio >= 1"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(f"unknown time zone {self.timezone!r} (PAYTRACE_TIMEZONE)") from exc

    @property
    def tz(self) -> ZoneInfo:
        """The merchant time zone PayTrace's local timestamps and day boundaries are read in."""
        return ZoneInfo(self.timezone)

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    def require_credentials(self) -> None:
        """Fail early, naming the setting, when the API user or password is missing."""
        missing = [name for name in ("username", "password") if not getattr(self, name)]
        if missing:
            hints = ", ".join(f"{m} (--{m} / {_ENV[m]})" for m in missing)
            raise ConfigurationError(f"PayTrace settings missing: {hints}")

    def with_overrides(self, **overrides: Any) -> PayTraceSettings:
        """Copy with the given non-None values replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_env(cls, connection: dict[str, str] | None = None, **overrides: Any) -> PayTraceSettings:
        """Overrides → ``PAYTRACE_*`` variables (the password also from the file ``PAYTRACE_PASSWORD_FILE``
        names) → ``connection`` (the Airflow adapter's), else ``AIRFLOW_CONN_PAYTRACE_DEFAULT`` → defaults."""
        values: dict[str, Any] = {}
        conn = connection if connection is not None else airflow_conn_from_env(PAYTRACE_CONN_ID)
        if conn is not None:
            values.update(_values_from_connection(conn))
        for name, variable in _ENV.items():
            value = env(variable)
            if value:
                values[name] = value
        password_file = env(PASSWORD_FILE_ENV)
        if not env(_ENV["password"]) and password_file:
            from paytrace_sl.secret_inputs import read_secret_file

            values["password"] = read_secret_file(password_file, f"PayTrace password ({PASSWORD_FILE_ENV})")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**_coerce(values))


def _values_from_connection(conn: dict[str, str]) -> dict[str, Any]:
    """Map connection fields: host = base URL, login/password = API user, extras for the rest."""
    values: dict[str, Any] = {}
    try:
        extra = json.loads(conn.get("extra") or "{}")
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"connection {PAYTRACE_CONN_ID!r}: extra is not valid JSON") from exc
    host = conn.get("host") or extra.get("url") or ""
    if host:
        if "://" not in host:
            # A URI-form connection loses the scheme of the host; PayTrace is HTTPS-only except locally.
            scheme = "http" if host in ("127.0.0.1", "localhost") else "https"
            port = conn.get("port")
            host = f"{scheme}://{host}" + (f":{port}" if port else "")
        values["url"] = host
    if conn.get("login"):
        values["username"] = conn["login"]
    if conn.get("password"):
        values["password"] = conn["password"]
    known = {f.name for f in fields(PayTraceSettings)}
    for key, value in extra.items():
        name = key.removeprefix("extra__paytrace__")
        if name in known and name not in ("username", "password") and value not in (None, ""):
            values[name] = value
    return values


def _parse_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"PayTrace setting {key!r} must be true or false")


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    """Convert strings (env vars, connection extras) to the field types."""
    types = {f.name: f.type for f in fields(PayTraceSettings)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in types:
            raise ConfigurationError(f"unknown PayTrace setting {key!r}")
        kind = types[key]
        try:
            if kind in ("bool", bool):
                out[key] = _parse_bool(value, key)
            elif kind in ("float", float):
                out[key] = float(value)
            elif kind in ("int", int):
                out[key] = int(value)
            else:
                out[key] = str(value)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"PayTrace setting {key!r} must be a {kind}") from exc
    return out
