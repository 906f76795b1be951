"""Airflow connection-form metadata for our two connection types, without importing Airflow.

Airflow 3.2+ reads connection forms declaratively from provider info (``conn-fields`` and
``ui-field-behaviour``); the older hook methods ``get_ui_field_behaviour``/``get_connection_form_widgets``
are only consulted when that metadata is absent and ``wtforms`` is installed. Both paths are fed from
the dicts here so they cannot drift.
"""

from __future__ import annotations

from typing import Any

from paytrace_sl.paytrace.config import DEFAULT_URL
from paytrace_sl.paytrace.timefmt import DEFAULT_TIMEZONE

PAYTRACE_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {"login": "API user", "password": "API password", "host": "Base URL"},
    "placeholders": {"host": DEFAULT_URL, "login": "PayTrace API user name"},
}

PAYTRACE_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "integrator_id": {
        "label": "Integrator ID",
        "description": "Issued by PayTrace with the sandbox account; sent on every v1 call. Kept secret.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "timezone": {
        "label": "Merchant time zone",
        "description": "IANA zone PayTrace's local timestamps and day boundaries are read in.",
        "schema": {"type": ["string", "null"], "default": DEFAULT_TIMEZONE},
    },
}

DYNAMICS_SL_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port", "host"],
    "relabeling": {"login": "Database user (optional)", "password": "Database password (optional)"},
    "placeholders": {"login": "filled into the URL when it has no user"},
}

DYNAMICS_SL_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "sqlalchemy_url": {
        "label": "SQLAlchemy URL",
        "description": (
            "e.g. mssql+pyodbc://host/SLAPP?driver=ODBC+Driver+18+for+SQL+Server, "
            "postgresql+psycopg://host/sl or sqlite:///path/sl.db. Put the password in the password field."
        ),
        "schema": {"type": ["string", "null"]},
    },
}


def provider_ui(behaviour: dict[str, Any], conn_fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``conn-fields``/``ui-field-behaviour`` entries of a provider-info connection type."""
    return {
        "ui-field-behaviour": {
            "hidden-fields": list(behaviour["hidden_fields"]),
            "relabeling": dict(behaviour["relabeling"]),
            "placeholders": dict(behaviour.get("placeholders", {})),
        },
        "conn-fields": {k: dict(v) for k, v in conn_fields.items()},
    }


def connection_types_ui() -> dict[str, dict[str, Any]]:
    """Connection type → extra provider-info keys, for ``paytrace_sl_airflow.provider``."""
    return {
        "paytrace": provider_ui(PAYTRACE_UI_FIELD_BEHAVIOUR, PAYTRACE_CONN_FIELDS),
        "dynamics_sl": provider_ui(DYNAMICS_SL_UI_FIELD_BEHAVIOUR, DYNAMICS_SL_CONN_FIELDS),
    }
