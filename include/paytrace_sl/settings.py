"""Where every setting comes from: the one module of the library that reads the environment.

Precedence, stated once and the same for every setting and every caller (CLI, DAG task, UI page):

1. an explicit value (a CLI flag, a function argument);
2. the environment: ``PAYTRACE_SL_*``, ``SL_DATABASE_URL``, ``PAYTRACE_*`` (a deployment's pin: it wins
   over anything edited in the Airflow UI, as Airflow's own ``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*`` do);
3. inside Airflow (the adapter registers the lookup, :func:`use_variables`): the Airflow Variable of the
   same name in lower case (``paytrace_sl_interval`` for ``PAYTRACE_SL_INTERVAL``; ``PAYTRACE_SL_*``
   settings and ``PAYTRACE_TIMEZONE`` only, never credentials), found the way Airflow finds Variables:
   secrets backend, ``AIRFLOW_VAR_*``, then the metadata DB, i.e. what the UI edits;
4. the Airflow connection (``paytrace_default``, ``dynamics_sl_default``): inside Airflow through the
   adapter's lookup (secrets backend, ``AIRFLOW_CONN_*`` or the metadata DB, i.e. the UI), outside it
   the ``AIRFLOW_CONN_<ID>`` variable, read without importing Airflow;
5. the packaged default: ``data_contracts/`` of the repository when the code runs from a checkout,
   else the copy shipped in the wheel (``paytrace_sl/data_contracts``, read with
   ``importlib.resources``); working folders under ``<checkout>/var`` or ``./var``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

from paytrace_sl.errors import PaytraceSlError

SL_URL_ENV = "SL_DATABASE_URL"
CONTRACTS_DIR_ENV = "PAYTRACE_SL_CONTRACTS_DIR"
MAPPING_ENV = "PAYTRACE_SL_MAPPING"
VAR_DIR_ENV = "PAYTRACE_SL_VAR_DIR"
LANDING_DIR_ENV = "PAYTRACE_SL_LANDING_DIR"
GX_DIR_ENV = "PAYTRACE_SL_GX_DIR"
SL_URL_FILE_ENV = "SL_DATABASE_URL_FILE"  # a file holding the URL: keeps it out of environments and argv
REPORTS_DIR_ENV = "PAYTRACE_SL_REPORTS_DIR"
LOOKBACK_HOURS_ENV = "PAYTRACE_SL_LOOKBACK_HOURS"
SL_CONN_ID = "dynamics_sl_default"
PAYTRACE_CONN_ID = "paytrace_default"

# conn id → the connection as a dict (shape of airflow_conn_from_env), or None when it is not defined
ConnectionLookup = Callable[[str], "dict[str, str] | None"]
# Variable key → its value, or None when it is not defined (the Airflow adapter's Variable.get)
VariableLookup = Callable[[str], "str | None"]
# settings an Airflow Variable may give (step 3); credentials never come from a Variable
VARIABLE_PREFIX = "PAYTRACE_SL_"
VARIABLE_NAMES = frozenset({"PAYTRACE_TIMEZONE"})
_variable_lookup: VariableLookup | None = None


class ConfigurationError(PaytraceSlError, ValueError):
    """A required setting is missing or malformed; the message says which and where to set it."""


def env(name: str) -> str | None:
    """Setting ``name``: the environment variable (step 2), else inside Airflow the Variable of the same
    name in lower case (step 3, :func:`variable`); None when neither is set or both are empty. Every
    library read of a setting goes here."""
    return os.environ.get(name) or variable(name)


def use_variables(lookup: VariableLookup | None) -> None:
    """Register (None: remove) the Airflow adapter's Variable lookup: step 3 of the precedence."""
    global _variable_lookup
    _variable_lookup = lookup


def variable_key(name: str) -> str | None:
    """The Airflow Variable that may give setting ``name`` (``paytrace_sl_interval``), or None."""
    if any(word in name for word in ("SECRET", "PASSWORD", "TOKEN")):
        return None
    if name.startswith(VARIABLE_PREFIX) or name in VARIABLE_NAMES:
        return name.lower()
    return None


def variable(name: str) -> str | None:
    """Step 3 alone: the Airflow Variable for setting ``name`` (None outside Airflow or when unset)."""
    key = variable_key(name)
    if key is None or _variable_lookup is None:
        return None
    return _variable_lookup(key) or None


def environ() -> Mapping[str, str]:
    """The whole environment, for settings read as a group (``NotifySettings.from_env``)."""
    return os.environ


def airflow_conn_from_env(conn_id: str) -> dict[str, str] | None:
    """Read an Airflow connection defined as ``AIRFLOW_CONN_<CONN_ID>`` (URI or JSON), or None.

    Returns a dict with keys conn_type, host, login, password, schema, port, extra (JSON string).
    """
    raw = env(f"AIRFLOW_CONN_{conn_id.upper()}")
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


def connection(conn_id: str, lookup: ConnectionLookup | None = None) -> dict[str, str] | None:
    """Step 4 of the precedence: the Airflow adapter's ``lookup``, else the ``AIRFLOW_CONN_*`` variable."""
    return (lookup or airflow_conn_from_env)(conn_id)


def sl_url_from_connection(conn: dict[str, str], conn_id: str = SL_CONN_ID) -> str:
    """The SQLAlchemy URL of a ``dynamics_sl`` connection: extra ``sqlalchemy_url`` (or a host holding a
    URL), with the connection's login/password filled in when the URL carries none."""
    from sqlalchemy.engine import make_url

    try:
        extra = json.loads(conn.get("extra") or "{}")
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"connection {conn_id!r}: extra is not valid JSON") from exc
    raw = str(
        extra.get("sqlalchemy_url")
        or extra.get("extra__dynamics_sl__sqlalchemy_url")
        or extra.get("url")
        or conn.get("host")
        or ""
    )
    if "://" not in raw:
        raise ConfigurationError(
            f"connection {conn_id!r} has no SQLAlchemy URL: put it in the extra field 'sqlalchemy_url'"
        )
    from paytrace_sl.secret_inputs import normalize_sl_url

    url = make_url(normalize_sl_url(raw))  # an unescaped '@' in the password is read whole
    if conn.get("login") and not url.username:
        url = url.set(username=conn["login"])
    if conn.get("password") and not url.password:
        url = url.set(password=conn["password"])
    return url.render_as_string(hide_password=False)


def resolve_sl_url(
    explicit: str | None = None,
    *,
    lookup: ConnectionLookup | None = None,
    conn_id: str = SL_CONN_ID,
) -> str:
    """``--sl-url`` → ``SL_DATABASE_URL`` → the file ``SL_DATABASE_URL_FILE`` names → connection
    ``dynamics_sl_default`` (no packaged default).

    The URL's password is registered for redaction and percent-encoded (an unescaped ``@`` in it would
    otherwise be read as the end of the password: ``secret_inputs.normalize_sl_url``).
    """
    from paytrace_sl.secret_inputs import normalize_sl_url, read_secret_file

    if explicit:
        return normalize_sl_url(explicit)
    from_env = env(SL_URL_ENV)
    if from_env:
        return normalize_sl_url(from_env)
    path = env(SL_URL_FILE_ENV)
    if path:
        return normalize_sl_url(read_secret_file(path, f"SL database URL ({SL_URL_FILE_ENV})"))
    conn = connection(conn_id, lookup)
    if conn is not None:
        return normalize_sl_url(sl_url_from_connection(conn, conn_id))  # registers the password
    raise ConfigurationError(
        f"no SL database given: pass --sl-url, set {SL_URL_ENV} or {SL_URL_FILE_ENV}, "
        f"or define the Airflow connection {conn_id!r}"
    )


# ------------------------------------------------------------------------------------------ folders


def checkout_root() -> Path | None:
    """The repository this code runs from (``include/paytrace_sl`` → root), or None when installed."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "data_contracts").is_dir() else None


def shipped_contracts_dir() -> Path:
    """The contracts and default mapping this code ships: the checkout's ``data_contracts/``, else the
    copy force-included in the wheel as package data."""
    root = checkout_root()
    if root is not None:
        return root / "data_contracts"
    packaged = resources.files("paytrace_sl") / "data_contracts"
    if not isinstance(packaged, Path) or not packaged.is_dir():
        raise ConfigurationError(
            f"no data contracts shipped with this installation: set {CONTRACTS_DIR_ENV} to a folder"
        )
    return packaged


def contracts_dir(explicit: str | Path | None = None) -> Path:
    """Folder of the data contracts (and the default ``mapping.yaml``): flag → env → shipped copy."""
    value = explicit or env(CONTRACTS_DIR_ENV)
    return Path(value) if value else shipped_contracts_dir()


def mapping_path(explicit: str | Path | None = None) -> Path:
    """``--mapping`` → ``PAYTRACE_SL_MAPPING`` → ``mapping.yaml`` in :func:`contracts_dir`."""
    value = explicit or env(MAPPING_ENV)
    return Path(value) if value else contracts_dir() / "mapping.yaml"


def var_dir(explicit: str | Path | None = None) -> Path:
    """Base of the working folders: flag → ``PAYTRACE_SL_VAR_DIR`` → ``<checkout>/var`` or ``./var``."""
    value = explicit or env(VAR_DIR_ENV)
    if value:
        return Path(value)
    root = checkout_root()
    return (root if root is not None else Path.cwd()) / "var"


def landing_dir(explicit: str | Path | None = None) -> Path:
    """Run files: ``--landing-dir`` → ``PAYTRACE_SL_LANDING_DIR`` → ``<var>/landing``."""
    value = explicit or env(LANDING_DIR_ENV)
    return Path(value) if value else var_dir() / "landing"


def gx_dir(explicit: str | Path | None = None) -> Path:
    """Great Expectations root: ``--gx-dir`` → ``PAYTRACE_SL_GX_DIR`` → ``<var>/gx``."""
    value = explicit or env(GX_DIR_ENV)
    return Path(value) if value else var_dir() / "gx"


def chargebacks_dir(explicit: str | Path | None = None) -> Path:
    """The processor's chargeback files arrive here (``<dir>/inbox``; imported ones move to ``done``,
    unreadable ones to ``failed``): ``--dir`` → ``PAYTRACE_SL_CHARGEBACKS_DIR`` → ``<var>/chargebacks``."""
    value = explicit or env("PAYTRACE_SL_CHARGEBACKS_DIR")
    return Path(value) if value else var_dir() / "chargebacks"


def reports_dir(explicit: str | Path | None = None) -> Path:
    """Where the auditor reports live: the settlements DAG writes there, the Airflow UI page lists it."""
    value = explicit or env(REPORTS_DIR_ENV)
    return Path(value) if value else var_dir() / "reports"


def lookback_hours(explicit: float | None = None) -> float | None:
    """``--lookback-hours`` → ``PAYTRACE_SL_LOOKBACK_HOURS`` → None (the mapping's look-back)."""
    if explicit is not None:
        return explicit
    value = env(LOOKBACK_HOURS_ENV)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{LOOKBACK_HOURS_ENV} must be a number of hours, got {value!r}") from None


SL_LOCK_TIMEOUT_ENV = "PAYTRACE_SL_SL_LOCK_TIMEOUT_S"
SL_STATEMENT_TIMEOUT_ENV = "PAYTRACE_SL_SL_STATEMENT_TIMEOUT_S"
DEFAULT_SL_LOCK_TIMEOUT_S = 60.0
DEFAULT_SL_STATEMENT_TIMEOUT_S = 3600.0


def _seconds(name: str, default: float) -> float:
    value = env(name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not a number of seconds") from None
    if seconds < 0:
        raise ConfigurationError(f"{name} must be 0 (no limit) or a positive number of seconds")
    return seconds


def sl_lock_timeout_s() -> float:
    """How long an SL statement waits for a lock (``PAYTRACE_SL_SL_LOCK_TIMEOUT_S``, 0 = forever)."""
    return _seconds(SL_LOCK_TIMEOUT_ENV, DEFAULT_SL_LOCK_TIMEOUT_S)


def sl_statement_timeout_s() -> float:
    """How long one SL statement may run (``PAYTRACE_SL_SL_STATEMENT_TIMEOUT_S``, 0 = no limit)."""
    return _seconds(SL_STATEMENT_TIMEOUT_ENV, DEFAULT_SL_STATEMENT_TIMEOUT_S)


def use_secret_files(*, password_file: Path | None = None, sl_url_file: Path | None = None) -> None:
    """``paytrace-sl --password-file/--sl-url-file``: a file given on the command line wins over the plain
    variables for this process (the resolvers read the files), an explicit ``--password``/``--sl-url``
    still wins over both."""
    if password_file is not None:
        os.environ.pop("PAYTRACE_PASSWORD", None)
        os.environ["PAYTRACE_PASSWORD_FILE"] = str(password_file)
    if sl_url_file is not None:
        os.environ.pop(SL_URL_ENV, None)
        os.environ[SL_URL_FILE_ENV] = str(sl_url_file)


def operator_name(explicit: str | None = None) -> str:
    """Who acts at the command line (review workbench): ``--by``, else ``PAYTRACE_SL_OPERATOR``, else the
    login name of the process (``getpass.getuser``), else ``"unknown"``."""
    import getpass

    if explicit and explicit.strip():
        return explicit.strip()
    named = env("PAYTRACE_SL_OPERATOR")
    if named and named.strip():
        return named.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
