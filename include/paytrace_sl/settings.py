"""Where settings come from when no scheduler is involved (CLI, tests, benchmarks).

Precedence for every value: explicit argument (CLI flag) → environment variable → Airflow connection
given in the environment (``AIRFLOW_CONN_<ID>``, URI or JSON form, read without importing Airflow)
→ built-in default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

SL_URL_ENV = "SL_DATABASE_URL"
SL_URL_FILE_ENV = "SL_DATABASE_URL_FILE"  # a file holding the URL: keeps it out of environments and argv
REPORTS_DIR_ENV = "PAYTRACE_SL_REPORTS_DIR"
DEFAULT_REPORTS_DIR = Path(__file__).resolve().parents[2] / "var" / "reports"
SL_CONN_ID = "dynamics_sl_default"


class ConfigurationError(ValueError):
    """A required setting is missing or malformed; the message says which and where to set it."""


def airflow_conn_from_env(conn_id: str) -> dict[str, str] | None:
    """Read an Airflow connection defined as ``AIRFLOW_CONN_<CONN_ID>`` (URI or JSON), or None.

    Returns a dict with keys conn_type, host, login, password, schema, port, extra (JSON string).
    """
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        return None
    raw = raw.strip()
    if raw.startswith("{"):
        data = json.loads(raw)
        extra = data.get("extra", {})
        return {
            "conn_type": str(data.get("conn_type", "")),
            "host": str(data.get("host") or ""),
            "login": str(data.get("login") or ""),
            "password": str(data.get("password") or ""),
            "schema": str(data.get("schema") or ""),
            "port": str(data.get("port") or ""),
            "extra": extra if isinstance(extra, str) else json.dumps(extra),
        }
    parts = urlsplit(raw)
    from urllib.parse import parse_qsl

    return {
        "conn_type": parts.scheme.replace("-", "_"),
        "host": unquote(parts.hostname or ""),
        "login": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "schema": unquote(parts.path.lstrip("/")),
        "port": str(parts.port or ""),
        "extra": json.dumps(dict(parse_qsl(parts.query))),
    }


def sl_url_from_connection(conn: dict[str, str]) -> str:
    """The SQLAlchemy URL stored in a ``dynamics_sl`` connection: extra ``sqlalchemy_url`` or host."""
    extra = json.loads(conn.get("extra") or "{}")
    url = extra.get("sqlalchemy_url") or extra.get("url") or conn.get("host", "")
    if "://" not in url:
        raise ConfigurationError(
            f"connection {SL_CONN_ID!r} has no SQLAlchemy URL: put it in the extra field 'sqlalchemy_url'"
        )
    return str(url)


def resolve_sl_url(explicit: str | None = None) -> str:
    """``--sl-url`` → ``SL_DATABASE_URL`` → the file named by ``SL_DATABASE_URL_FILE`` → connection
    ``dynamics_sl_default`` (from the environment).

    The URL's password is registered for redaction and percent-encoded (an unescaped ``@`` in it would
    otherwise be read as the end of the password: ``secret_inputs.normalize_sl_url``).
    """
    from paytrace_sl.secret_inputs import normalize_sl_url, read_secret_file

    if explicit:
        return normalize_sl_url(explicit)
    env = os.environ.get(SL_URL_ENV)
    if env:
        return normalize_sl_url(env)
    path = os.environ.get(SL_URL_FILE_ENV)
    if path:
        return normalize_sl_url(read_secret_file(path, f"SL database URL ({SL_URL_FILE_ENV})"))
    conn = airflow_conn_from_env(SL_CONN_ID)
    if conn is not None:
        return normalize_sl_url(sl_url_from_connection(conn))
    raise ConfigurationError(
        f"no SL database given: pass --sl-url, set {SL_URL_ENV} or {SL_URL_FILE_ENV}, "
        f"or define the Airflow connection {SL_CONN_ID!r}"
    )


def reports_dir() -> Path:
    """Where the auditor reports live: the settlements DAG writes there, the Airflow UI page lists it."""
    return Path(os.environ.get(REPORTS_DIR_ENV) or DEFAULT_REPORTS_DIR)
