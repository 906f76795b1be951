"""One configuration path: flag → environment → Airflow connection → packaged default, for every setting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import paytrace_sl
from paytrace_sl import settings
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.settings import ConfigurationError

LIBRARY = Path(paytrace_sl.__file__).resolve().parent
ENV_VARS = (
    "SL_DATABASE_URL",
    "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT",
    "AIRFLOW_CONN_PAYTRACE_DEFAULT",
    "PAYTRACE_SL_CONTRACTS_DIR",
    "PAYTRACE_SL_MAPPING",
    "PAYTRACE_SL_VAR_DIR",
    "PAYTRACE_SL_LANDING_DIR",
    "PAYTRACE_SL_GX_DIR",
    "PAYTRACE_SL_REPORTS_DIR",
    "PAYTRACE_SL_LOOKBACK_HOURS",
    "PAYTRACE_URL",
    "PAYTRACE_USERNAME",
    "PAYTRACE_PASSWORD",
    "PAYTRACE_TIMEZONE",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def _sl_conn(url: str, **more: str) -> str:
    return json.dumps({"conn_type": "dynamics_sl", "extra": {"sqlalchemy_url": url}, **more})


def test_sl_url_flag_then_env_then_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="--sl-url"):
        settings.resolve_sl_url()
    monkeypatch.setenv("AIRFLOW_CONN_DYNAMICS_SL_DEFAULT", _sl_conn("sqlite:///conn.db"))
    assert settings.resolve_sl_url() == "sqlite:///conn.db"
    monkeypatch.setenv("SL_DATABASE_URL", "sqlite:///env.db")
    assert settings.resolve_sl_url() == "sqlite:///env.db"
    assert settings.resolve_sl_url("sqlite:///flag.db") == "sqlite:///flag.db"


def test_sl_url_connection_step_uses_the_airflow_lookup_when_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DYNAMICS_SL_DEFAULT", _sl_conn("sqlite:///env-conn.db"))
    seen: list[str] = []

    def lookup(conn_id: str) -> dict[str, str] | None:
        seen.append(conn_id)
        return {"conn_type": "dynamics_sl", "extra": json.dumps({"sqlalchemy_url": "sqlite:///ui.db"})}

    assert settings.resolve_sl_url(lookup=lookup) == "sqlite:///ui.db" and seen == ["dynamics_sl_default"]
    monkeypatch.setenv("SL_DATABASE_URL", "sqlite:///env.db")
    assert settings.resolve_sl_url(lookup=lookup) == "sqlite:///env.db"


def test_one_rule_for_a_connection_url_fills_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI used to ignore the connection's login/password that the Airflow hook filled in."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_DYNAMICS_SL_DEFAULT",
        _sl_conn("postgresql+psycopg://db.example/slapp", login="sluser", password="p@ss/word"),
    )
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolve_sl_url())
    assert (url.username, url.password, url.host, url.database) == (
        "sluser",
        "p@ss/word",
        "db.example",
        "slapp",
    )


def test_contracts_and_mapping_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shipped = settings.shipped_contracts_dir()
    assert (shipped / "mapping.yaml").is_file() and (shipped / "contract.schema.json").is_file()
    assert settings.mapping_path() == shipped / "mapping.yaml"
    monkeypatch.setenv("PAYTRACE_SL_CONTRACTS_DIR", str(tmp_path / "contracts"))
    assert settings.contracts_dir() == tmp_path / "contracts"
    assert settings.mapping_path() == tmp_path / "contracts" / "mapping.yaml"
    monkeypatch.setenv("PAYTRACE_SL_MAPPING", str(tmp_path / "m.yaml"))
    assert settings.mapping_path() == tmp_path / "m.yaml"
    assert settings.mapping_path(tmp_path / "flag.yaml") == tmp_path / "flag.yaml"
    from paytrace_sl.pipeline.contracts import contracts_dir
    from paytrace_sl.pipeline.mapping import default_mapping_path

    assert contracts_dir() == tmp_path / "contracts" and default_mapping_path() == tmp_path / "m.yaml"


@pytest.mark.parametrize(
    ("resolver", "variable", "leaf"),
    [
        (settings.landing_dir, "PAYTRACE_SL_LANDING_DIR", "landing"),
        (settings.gx_dir, "PAYTRACE_SL_GX_DIR", "gx"),
        (settings.reports_dir, "PAYTRACE_SL_REPORTS_DIR", "reports"),
    ],
)
def test_working_folders_precedence(
    resolver: object, variable: str, leaf: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert callable(resolver)
    root = settings.checkout_root()
    assert root is not None and resolver() == root / "var" / leaf  # running from this checkout
    monkeypatch.setenv("PAYTRACE_SL_VAR_DIR", str(tmp_path / "var"))
    assert resolver() == tmp_path / "var" / leaf
    monkeypatch.setenv(variable, str(tmp_path / "own"))
    assert resolver() == tmp_path / "own"
    assert resolver(tmp_path / "flag") == tmp_path / "flag"


def test_lookback_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.lookback_hours() is None
    monkeypatch.setenv("PAYTRACE_SL_LOOKBACK_HOURS", "30")
    assert settings.lookback_hours() == 30.0 and settings.lookback_hours(2) == 2
    monkeypatch.setenv("PAYTRACE_SL_LOOKBACK_HOURS", "a day")
    with pytest.raises(ConfigurationError, match="PAYTRACE_SL_LOOKBACK_HOURS"):
        settings.lookback_hours()


def test_paytrace_settings_env_beats_the_given_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "paytrace", "host": "http://conn.example", "login": "conn-user", "password": "x"}
    from_conn = PayTraceSettings.from_env(connection=conn)
    assert (from_conn.url, from_conn.username) == ("http://conn.example", "conn-user")
    monkeypatch.setenv("PAYTRACE_USERNAME", "env-user")
    assert PayTraceSettings.from_env(connection=conn).username == "env-user"
    assert PayTraceSettings.from_env(connection=conn, username="flag-user").username == "flag-user"
    assert PayTraceSettings.from_env().url == "https://api.paytrace.com"  # packaged default


_READS = re.compile(r"os\.getenv|os\.environ(?!\[[^\]]*\]\s*=[^=])")


def test_only_settings_reads_the_environment() -> None:
    """Other modules ask ``paytrace_sl.settings`` (writes for a third-party library are allowed)."""
    offenders = []
    for path in sorted(LIBRARY.rglob("*.py")):
        rel = path.relative_to(LIBRARY).as_posix()
        if rel == "settings.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _READS.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []
