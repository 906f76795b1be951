"""Airflow hooks: turn an Airflow connection into the library's PayTrace client or SL engine.

Thin on purpose: all behaviour lives in ``paytrace_sl``; these classes only read connections.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.connection_ui import (
    DYNAMICS_SL_CONN_FIELDS,
    DYNAMICS_SL_UI_FIELD_BEHAVIOUR,
    PAYTRACE_CONN_FIELDS,
    PAYTRACE_UI_FIELD_BEHAVIOUR,
)
from paytrace_sl.redaction import register_secret
from paytrace_sl.secret_inputs import url_password
from paytrace_sl.settings import ConfigurationError, sl_url_from_connection

if TYPE_CHECKING:
    import sqlalchemy as sa

    from paytrace_sl.paytrace.client import PayTraceClient


def _conn_dict(conn: Any) -> dict[str, str]:
    """An Airflow Connection in the shape ``paytrace_sl.settings.airflow_conn_from_env`` returns."""
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    return {
        "conn_type": str(conn.conn_type or ""),
        "host": str(conn.host or ""),
        "login": str(conn.login or ""),
        "password": str(conn.password or ""),
        "schema": str(conn.schema or ""),
        "port": str(conn.port or ""),
        "extra": json.dumps(extra),
    }


def airflow_connection(conn_id: str) -> dict[str, str] | None:
    """The Airflow connection ``conn_id`` (UI, secrets backend or ``AIRFLOW_CONN_*``), or None when it is
    not defined: the lookup step 3 of ``paytrace_sl.settings`` uses inside Airflow."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return _conn_dict(BaseHook.get_connection(conn_id))
    except AirflowNotFoundException:
        return None


VARIABLE_MEMO_SECONDS = 5.0  # outside a task (UI pages, DAG parses): an edit shows within 5 s


@dataclass
class _VariableMemo:
    """Remembered Variable values of one scope: a task run (its ti id) or, outside a task, ``None`` with
    each value kept :data:`VARIABLE_MEMO_SECONDS`. ``pid`` makes a forked child start afresh."""

    pid: int = 0
    scope: str | None = None
    values: dict[str, tuple[float, str | None]] = field(default_factory=dict)


_variable_memo = _VariableMemo()


def clear_variable_memo() -> None:
    """Forget remembered Variable values (tests that edit a Variable and read it back at once)."""
    _variable_memo.values.clear()


def _task_run_scope() -> str | None:
    """The id of the task instance (one try) this process is running, or None outside a task.

    In the task: the context's ``ti``; while the task process parses its DAG file (before the context
    exists) the ti id the Task SDK's runner binds to its log context, with the try number (the API
    server binds a ti id alone to its request logs: not a task run of this process). A new try has a
    new id."""
    import structlog.contextvars
    from airflow.sdk import get_current_context

    try:
        return str(get_current_context()["ti"].id)
    except RuntimeError:  # no task running here (UI page, DAG processor, CLI, the DAG parse in a task)
        pass

    bound = structlog.contextvars.get_contextvars()
    return str(bound["ti_id"]) if bound.get("ti_id") and "try_number" in bound else None


def _memo() -> _VariableMemo:
    """The memo of the current scope; a new scope (another task run, a forked process) starts empty."""
    global _variable_memo
    pid, scope = os.getpid(), _task_run_scope()
    if _variable_memo.pid != pid or _variable_memo.scope != scope:
        _variable_memo = _VariableMemo(pid=pid, scope=scope)
    return _variable_memo


def airflow_variable(key: str) -> str | None:
    """The Airflow Variable ``key`` (secrets backend, ``AIRFLOW_VAR_<KEY>``, metadata DB: what the UI
    edits), or None when it is not defined: the lookup step 3 of ``paytrace_sl.settings`` uses inside
    Airflow. ``key`` is lower case (``paytrace_sl_interval``); a Variable created in the UI under the
    upper-case name is found too.

    Each lookup is an execution-API call from a task (two for a setting that is not set), and one task
    reads a setting many times (every SL engine reads its timeouts): inside a task each key is read
    once per task run (the parse of the DAG file in the task process included), so a task sees one
    value throughout and the next task, or the next try, reads the Variable again. Outside a task a
    value is kept 5 s (:data:`VARIABLE_MEMO_SECONDS`)."""
    memo = _memo()
    now = time.monotonic()
    cached = memo.values.get(key)
    if cached is not None and (memo.scope is not None or now - cached[0] < VARIABLE_MEMO_SECONDS):
        return cached[1]
    from airflow.sdk import Variable

    found: str | None = None
    for name in dict.fromkeys((key, key.upper())):
        value = Variable.get(name, default=None)
        if value not in (None, ""):
            found = str(value)
            break
    memo.values[key] = (now, found)
    return found


def _mask(*secrets: str) -> None:
    """Register secrets with Airflow's masker too: it scrubs the supervisor's copy of the task log."""
    from airflow.sdk.log import mask_secret

    for secret in secrets:
        if secret:
            mask_secret(secret)


def _widgets(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """wtforms widgets for the legacy form path (only when flask-appbuilder/wtforms are installed)."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in fields.items():
        secret = spec.get("schema", {}).get("format") == "password"
        cls, widget = (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
        widgets[name] = cls(
            lazy_gettext(spec["label"]),
            widget=widget(),
            description=spec.get("description"),
            default=spec.get("schema", {}).get("default"),
        )
    return widgets


class PayTraceHook(BaseHook):
    """PayTrace API connection: host = base URL, login/password = API user, extras integrator id and zone."""

    conn_name_attr = "paytrace_conn_id"
    default_conn_name = "paytrace_default"
    conn_type = "paytrace"
    hook_name = "PayTrace"

    def __init__(self, paytrace_conn_id: str = default_conn_name, **settings_overrides: Any) -> None:
        super().__init__()
        self.paytrace_conn_id = paytrace_conn_id
        self.settings_overrides = settings_overrides

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in PAYTRACE_UI_FIELD_BEHAVIOUR.items()
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return _widgets(PAYTRACE_CONN_FIELDS)

    def get_settings(self) -> PayTraceSettings:
        """Overrides → ``PAYTRACE_*`` → this connection → defaults (``paytrace_sl.settings`` precedence);
        the password and integrator id are registered with our redaction (``PayTraceSettings``) and with
        Airflow's masker (task log, supervisor, rendered fields)."""
        conn = self.get_connection(self.paytrace_conn_id)
        settings = PayTraceSettings.from_env(connection=_conn_dict(conn), **self.settings_overrides)
        _mask(settings.password, settings.integrator_id)
        return settings

    def get_client(self) -> PayTraceClient:
        """A ready client; the caller closes it (it is a context manager)."""
        from paytrace_sl.paytrace.client import PayTraceClient

        return PayTraceClient(self.get_settings())

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: can we obtain a token with these credentials?"""
        from paytrace_sl.paytrace.errors import PayTraceError

        try:
            with self.get_client() as client:
                client.authenticate()
        except (PayTraceError, ConfigurationError) as exc:
            return False, str(exc)
        return True, "PayTrace accepted the API credentials"


class DynamicsSLHook(BaseHook):
    """Dynamics SL database: the SQLAlchemy URL lives in extra ``sqlalchemy_url``; credentials may not."""

    conn_name_attr = "dynamics_sl_conn_id"
    default_conn_name = "dynamics_sl_default"
    conn_type = "dynamics_sl"
    hook_name = "Dynamics SL"

    def __init__(self, dynamics_sl_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.dynamics_sl_conn_id = dynamics_sl_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            k: (dict(v) if isinstance(v, dict) else list(v))
            for k, v in DYNAMICS_SL_UI_FIELD_BEHAVIOUR.items()
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return _widgets(DYNAMICS_SL_CONN_FIELDS)

    def get_sqlalchemy_url(self) -> str:
        """The URL from extra ``sqlalchemy_url`` (or a host holding a URL), with login/password filled in
        from the connection when the URL carries none."""
        conn = self.get_connection(self.dynamics_sl_conn_id)
        url = sl_url_from_connection(_conn_dict(conn), self.dynamics_sl_conn_id)  # password normalized
        password = url_password(url)
        if password:
            register_secret(password)
            _mask(password)
        return url

    def get_engine(self, **engine_kwargs: Any) -> sa.Engine:
        import sqlalchemy as sa

        engine_kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(self.get_sqlalchemy_url(), **engine_kwargs)
