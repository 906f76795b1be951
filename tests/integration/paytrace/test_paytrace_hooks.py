"""Airflow adapters: provider registration, and hooks built from connections given as AIRFLOW_CONN_* vars."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.paytrace.connection_ui import connection_types_ui
from paytrace_sl.settings import ConfigurationError
from paytrace_sl_airflow.hooks import DynamicsSLHook, PayTraceHook
from paytrace_sl_sandbox.server import SandboxServer

pytestmark = pytest.mark.integration


def test_provider_registers_both_connection_types() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    provider = ProvidersManager().providers["paytrace-sl"]  # what the API server / UI reads
    types = {c["connection-type"]: c["hook-class-name"] for c in provider.data["connection-types"]}
    assert types == {
        "paytrace": "paytrace_sl_airflow.hooks.PayTraceHook",
        "dynamics_sl": "paytrace_sl_airflow.hooks.DynamicsSLHook",
    }
    hooks = ProvidersManagerTaskRuntime().hooks  # what workers use to build hooks by connection type
    paytrace, sl = hooks["paytrace"], hooks["dynamics_sl"]
    assert paytrace is not None and sl is not None
    assert paytrace.hook_class_name == "paytrace_sl_airflow.hooks.PayTraceHook"
    assert (paytrace.hook_name, paytrace.connection_id_attribute_name) == ("PayTrace", "paytrace_conn_id")
    assert sl.hook_class_name == "paytrace_sl_airflow.hooks.DynamicsSLHook" and sl.hook_name == "Dynamics SL"
    assert paytrace.connection_testable


def test_ui_field_behaviour_is_valid_for_airflow() -> None:
    from airflow.providers_manager import _create_customized_form_field_behaviours_schema_validator

    validator = _create_customized_form_field_behaviours_schema_validator()
    behaviour = PayTraceHook.get_ui_field_behaviour()
    validator.validate(behaviour)
    validator.validate(DynamicsSLHook.get_ui_field_behaviour())
    assert behaviour["hidden_fields"] == ["schema", "port"]
    assert behaviour["relabeling"] == {"login": "API user", "password": "API password", "host": "Base URL"}
    ui = connection_types_ui()
    assert ui["paytrace"]["conn-fields"]["integrator_id"]["schema"]["format"] == "password"  # sensitive
    assert set(ui["paytrace"]["conn-fields"]) == {"integrator_id", "timezone"}
    assert set(ui["dynamics_sl"]["conn-fields"]) == {"sqlalchemy_url"}


def test_paytrace_hook_from_env_connection(
    paytrace_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {
        "conn_type": "paytrace",
        "host": paytrace_sandbox.url,
        "login": "sandbox",
        "password": "sandbox-password",
        "extra": {"integrator_id": "SANDBOXINT01", "timezone": "America/Los_Angeles"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_PAYTRACE_HOOKTEST", json.dumps(conn))
    hook = PayTraceHook("paytrace_hooktest", requests_per_second=0)
    settings = hook.get_settings()
    assert (settings.url, settings.username, settings.integrator_id) == (
        paytrace_sandbox.url,
        "sandbox",
        "SANDBOXINT01",
    )
    with hook.get_client() as client:
        txs = list(client.export_transactions(dt.date(2025, 4, 1), dt.date(2025, 4, 2)))
    assert len(txs) > 50
    assert hook.test_connection() == (True, "PayTrace accepted the API credentials")
    monkeypatch.setenv("AIRFLOW_CONN_PAYTRACE_HOOKTEST", json.dumps({**conn, "password": "nope-nope"}))
    ok, message = PayTraceHook("paytrace_hooktest").test_connection()
    assert not ok and "refused" in message and "nope-nope" not in message


def test_paytrace_hook_uri_form(paytrace_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    host_port = paytrace_sandbox.url.removeprefix("http://")
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAYTRACE_DEFAULT",
        f"paytrace://sandbox:sandbox-password@{host_port}?integrator_id=SANDBOXINT01",
    )
    hook = PayTraceHook()
    assert hook.paytrace_conn_id == "paytrace_default"
    assert hook.get_settings().url == paytrace_sandbox.url
    assert hook.test_connection()[0]


def test_dynamics_sl_hook_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "sl.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT",
        json.dumps({"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": f"sqlite:///{db}"}}),
    )
    hook = DynamicsSLHook()
    assert hook.get_sqlalchemy_url() == f"sqlite:///{db}"
    engine = hook.get_engine()
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SL_WITH_CREDS",
        json.dumps(
            {
                "conn_type": "dynamics_sl",
                "login": "sluser",
                "password": "p@ss/word",
                "extra": {"sqlalchemy_url": "postgresql+psycopg://db.example:5432/slapp"},
            }
        ),
    )
    url = sa.engine.make_url(DynamicsSLHook("sl_with_creds").get_sqlalchemy_url())
    assert (url.username, url.password, url.host, url.database) == (
        "sluser",
        "p@ss/word",
        "db.example",
        "slapp",
    )
    monkeypatch.setenv("AIRFLOW_CONN_SL_NO_URL", json.dumps({"conn_type": "dynamics_sl"}))
    with pytest.raises(ConfigurationError, match="sqlalchemy_url"):
        DynamicsSLHook("sl_no_url").get_sqlalchemy_url()
