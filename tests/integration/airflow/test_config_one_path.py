"""The DAG tasks and the UI page resolve settings with the CLI's resolvers and precedence."""

from __future__ import annotations

import json

import pytest

from paytrace_sl.settings import ConfigurationError

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SL_DATABASE_URL", "PAYTRACE_USERNAME", "PAYTRACE_URL", "PAYTRACE_SL_MAPPING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT",
        json.dumps({"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": "sqlite:///conn.db"}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAYTRACE_DEFAULT",
        json.dumps({"conn_type": "paytrace", "host": "http://conn.example", "login": "conn-user"}),
    )


def test_dag_task_config_env_first_then_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from paytrace_sl_airflow.dag_support import pipeline_config

    cfg = pipeline_config("paytrace_payments_to_sl")
    assert cfg.sl_url == "sqlite:///conn.db"
    assert (cfg.paytrace.url, cfg.paytrace.username) == ("http://conn.example", "conn-user")
    monkeypatch.setenv("SL_DATABASE_URL", "sqlite:///env.db")
    monkeypatch.setenv("PAYTRACE_USERNAME", "env-user")
    monkeypatch.setenv("PAYTRACE_SL_MAPPING", "/somewhere/mapping.yaml")
    cfg = pipeline_config("paytrace_payments_to_sl")
    assert (cfg.sl_url, cfg.paytrace.username) == ("sqlite:///env.db", "env-user")
    assert str(cfg.mapping_path) == "/somewhere/mapping.yaml"


def test_ui_page_uses_the_same_sl_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    from paytrace_sl_airflow.hooks import airflow_connection
    from paytrace_sl_airflow.ui_plugin import default_sl_url

    assert default_sl_url() == "sqlite:///conn.db"
    monkeypatch.setenv("SL_DATABASE_URL", "sqlite:///env.db")
    assert default_sl_url() == "sqlite:///env.db"
    monkeypatch.delenv("SL_DATABASE_URL")
    monkeypatch.delenv("AIRFLOW_CONN_DYNAMICS_SL_DEFAULT")
    assert airflow_connection("dynamics_sl_default") is None
    with pytest.raises(ConfigurationError, match="SL_DATABASE_URL"):
        default_sl_url()
