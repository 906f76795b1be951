"""Start-up of a local Airflow (``make airflow``): seed the UI-managed settings, print where each comes from.

``python -m paytrace_sl_airflow.startup seed NAME=VALUE ...`` creates the Airflow Variable of each setting
(``paytrace_sl_interval`` for ``PAYTRACE_SL_INTERVAL``) in the metadata DB when it is missing, so the
value is edited in Admin → Variables from then on; an existing Variable (a UI edit) is never overwritten.

``python -m paytrace_sl_airflow.startup banner`` prints the effective connections and schedule settings
and where each comes from, resolved exactly as the DAG tasks resolve them (``paytrace_sl.settings``
precedence): an environment variable pins a setting and the banner says that UI edits of it are ignored.

Both run as Airflow's server processes do (``_AIRFLOW_PROCESS_CONTEXT=server``: metadata DB lookups).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from paytrace_sl.settings import (
    PAYTRACE_CONN_ID,
    SL_CONN_ID,
    SL_URL_ENV,
    SL_URL_FILE_ENV,
    ConfigurationError,
    environ,
    variable,
    variable_key,
)

SCHEDULE_SETTINGS = (
    "PAYTRACE_SL_INTERVAL",
    "PAYTRACE_SL_START_DATE",
    "PAYTRACE_SL_END_DATE",
    "PAYTRACE_TIMEZONE",
)
PAYTRACE_PINS = ("PAYTRACE_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD", "PAYTRACE_PASSWORD_FILE")
SL_PINS = (SL_URL_ENV, SL_URL_FILE_ENV)


def seed_variables(values: dict[str, str]) -> list[str]:
    """Create the Variable of each setting in ``values`` when neither its key nor the upper-case name
    exists; returns the keys created."""
    from airflow.models import Variable
    from airflow.utils.session import create_session

    created: list[str] = []
    with create_session() as session:
        for name, value in values.items():
            key = variable_key(name)
            if key is None:
                raise ConfigurationError(f"{name} is not a setting an Airflow Variable may give")
            exists = session.query(Variable).filter(Variable.key.in_([key, key.upper()])).first()
            if exists is None:
                session.add(Variable(key=key, val=value))
                created.append(key)
    return created


def _conn_origin(conn_id: str) -> str:
    if environ().get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return f"environment AIRFLOW_CONN_{conn_id.upper()} (UI edits of it are ignored)"
    return "metadata DB (edit in Admin -> Connections)"


def _pins(names: Sequence[str]) -> list[str]:
    return [n for n in names if environ().get(n)]


def banner_lines() -> list[str]:
    """What the next task will use, and from where (never a password)."""
    from sqlalchemy.engine import make_url

    from paytrace_sl.paytrace.config import PayTraceSettings
    from paytrace_sl.settings import resolve_sl_url
    from paytrace_sl_airflow.hooks import airflow_connection

    lines: list[str] = []
    paytrace_conn = airflow_connection(PAYTRACE_CONN_ID)
    paytrace = PayTraceSettings.from_env(connection=paytrace_conn)
    pins = _pins(PAYTRACE_PINS)
    origin = (
        f"environment {', '.join(pins)} over connection {PAYTRACE_CONN_ID} (UI edits of those fields ignored)"
        if pins
        else f"connection {PAYTRACE_CONN_ID}, {_conn_origin(PAYTRACE_CONN_ID)}"
        if paytrace_conn is not None
        else f"no connection {PAYTRACE_CONN_ID}: defaults"
    )
    lines.append(f"PayTrace:    {paytrace.base_url} as {paytrace.username or '?'} <- {origin}")
    try:
        sl_url = make_url(resolve_sl_url(None, lookup=airflow_connection)).render_as_string(
            hide_password=True
        )
    except ConfigurationError as exc:
        sl_url = f"not configured ({exc})"
    pins = _pins(SL_PINS)
    origin = (
        f"environment {', '.join(pins)} (wins over connection {SL_CONN_ID}: UI edits ignored)"
        if pins
        else f"connection {SL_CONN_ID}, {_conn_origin(SL_CONN_ID)}"
    )
    lines.append(f"SL database: {sl_url} <- {origin}")
    for name in SCHEDULE_SETTINGS:
        key = variable_key(name) or name.lower()
        if environ().get(name):
            value, origin = environ()[name], f"environment {name} (pins it: Variable {key} is ignored)"
        elif (found := variable(name)) is not None:
            value, origin = found, f"Variable {key} (edit in Admin -> Variables)"
        else:
            value, origin = "(default)", f"default (set Variable {key} in Admin -> Variables)"
        lines.append(f"{key + ':':<24} {value} <- {origin}")
    return lines


def main(argv: Sequence[str]) -> int:
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")  # metadata DB lookups, as the scheduler
    import paytrace_sl_airflow  # noqa: F401  (registers the Variable lookup)

    if argv[:1] == ["seed"]:
        values = dict(arg.split("=", 1) for arg in argv[1:])
        for key in seed_variables(values):
            print(f"created Variable {key}")
        return 0
    if argv[:1] == ["banner"]:
        print("\n".join(banner_lines()))
        return 0
    print("usage: python -m paytrace_sl_airflow.startup seed NAME=VALUE ... | banner", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
