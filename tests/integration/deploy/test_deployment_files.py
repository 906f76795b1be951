"""docker-compose.yml, the Dockerfile and the Helm values refer to things that exist, and share one set of
executor settings with the test harness.

Docker engines cannot run here, so what can be checked without one is: ``docker compose config`` (when
docker and its compose plugin are installed); every service's command is a real CLI command of the
image (``airflow …``, ``paytrace-sl …``); every ``AIRFLOW__SECTION__KEY`` is an Airflow option; every
connection variable is JSON of a connection type our provider registers; every bind mount and every
``COPY`` source exists in the repository; the image paths the settings name are made by the Dockerfile
or mounted; every required variable is in ``.env.example`` and ``.env`` is never committed; the executor
settings of compose, Helm values and the harness are deploy/airflow-executor.env's.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_cluster import CELERY, EXECUTOR_ENV_FILE, AirflowCluster, executor_settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
ENV_EXAMPLE = REPO / ".env.example"
VENV_BIN = Path(sys.executable).parent
OFFICIAL_SERVICES = {
    "postgres",
    "redis",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # resolves the x-airflow-common merge keys


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def airflow_services() -> dict[str, dict[str, Any]]:
    """Services running the project image with Airflow's CLI as entrypoint (the image's default)."""
    return {n: s for n, s in services().items() if s.get("build") and "entrypoint" not in s}


def example_env() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}`` with ``env``; ``$$`` → ``$``."""

    def one(m: re.Match[str]) -> str:
        name, rest = m.group(1), m.group(2) or ""
        if name in env:
            return env[name]
        if rest.startswith((":-", "-")):
            return rest.split("-", 1)[1]
        raise AssertionError(f"{name} is required but not in .env.example")

    return _VAR.sub(one, text).replace("$$", "$")


def dockerfile_env() -> dict[str, str]:
    """``ENV`` values of the Dockerfile's final stage (``KEY=VALUE`` forms)."""
    stages = DOCKERFILE.read_text().split("\nFROM ")
    text = stages[-1].replace("\\\n", " ")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for key, value in re.findall(r'([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)', line[4:]):
                out[key] = value.strip('"')
    return out


# ------------------------------------------------------------------------------------- shape


def test_services_are_the_official_shape_with_healthchecks() -> None:
    svc = services()
    assert set(svc) >= OFFICIAL_SERVICES
    for name in OFFICIAL_SERVICES - {"airflow-init"}:
        assert "healthcheck" in svc[name], f"{name} has no healthcheck"
        assert svc[name].get("restart") == "always", name
    assert svc["airflow-init"]["command"] == ["db", "migrate"]
    for name in OFFICIAL_SERVICES - {"postgres", "redis", "airflow-init"}:
        assert svc[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
    # the worker scales: no fixed container name or host port
    assert "container_name" not in svc["airflow-worker"] and "ports" not in svc["airflow-worker"]
    # optional parts are behind profiles
    assert svc["paytrace-sandbox"]["profiles"] == ["sandbox"]
    assert svc["sqlserver"]["profiles"] == ["sqlserver"] == svc["sqlserver-init"]["profiles"]
    assert svc["sqlserver"]["image"] == "mcr.microsoft.com/mssql/server:2022-latest"
    # the project image, built from this repository's Dockerfile (from its wheel)
    for name, s in airflow_services().items():
        assert s["build"] == ".", name
    assert "uv build --wheel" in DOCKERFILE.read_text()
    assert "pip install --no-cache-dir --no-deps /tmp/dist/paytrace_sl-*.whl" in DOCKERFILE.read_text()


def test_api_server_healthcheck_warms_the_task_execution_api() -> None:
    """The worker waits for the api-server's healthcheck; asking the execution API's health route makes
    the api-server build that API (its slow first request) before any task starts."""
    from urllib.parse import urlparse

    from airflow.api_fastapi import app as api_app
    from airflow.api_fastapi.execution_api.routes import health

    svc = services()
    test = svc["airflow-apiserver"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "curl", "--fail"]
    path = urlparse(test[3]).path
    prefix, route = "/execution", path.removeprefix("/execution")
    assert path.startswith(prefix + "/") and prefix in api_app.RESERVED_URL_PREFIXES
    assert route in {r.path for r in health.router.routes}
    assert svc["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}


def test_docker_compose_config_validates() -> None:
    docker = shutil.which("docker")
    probe = (
        subprocess.run([docker, "compose", "version"], capture_output=True, text=True, check=False)
        if docker
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip("docker with the compose plugin is not installed here")
    for profiles in ([], ["--profile", "sandbox", "--profile", "sqlserver"]):
        done = subprocess.run(
            [
                docker,
                "compose",
                "--env-file",
                str(ENV_EXAMPLE),
                *profiles,
                "-f",
                str(COMPOSE),
                "config",
                "-q",
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
        assert done.returncode == 0, done.stderr


# -------------------------------------------------------------------- one source of settings


def test_executor_settings_are_one_source_for_compose_helm_and_the_harness(tmp_path: Path) -> None:
    settings = executor_settings()
    assert settings["AIRFLOW__CORE__EXECUTOR"] == CELERY
    # compose: every Airflow service reads the file, and none overrides one of its keys
    for name, s in airflow_services().items():
        assert [f["path"] for f in s["env_file"]] == [str(EXECUTOR_ENV_FILE.relative_to(REPO))], name
        assert not set(s.get("environment", {})) & set(settings), name
    # Helm values: executor and each option in its config section, same value
    values = yaml.safe_load(HELM_VALUES.read_text())
    for key, value in settings.items():
        _, section, option = key.split("__", 2)
        if key == "AIRFLOW__CORE__EXECUTOR":
            assert values["executor"] == value
            continue
        helm = values["config"][section.lower()][option.lower()]
        assert str(helm).lower() == value.lower(), (key, helm, value)
    # the harness (Celery integration test, bench/bench_airflow.py): its environment carries them all
    env = AirflowCluster(tmp_path, executor=CELERY).env
    assert {k: env[k] for k in settings} == settings


# ------------------------------------------------------------------ everything named exists


def _airflow_config_check(options: list[tuple[str, str]], dotted: list[str]) -> dict[str, list[str]]:
    """In a fresh process (Airflow configures itself at import): unknown options, unimportable paths."""
    script = """
import importlib, json, sys
from airflow.configuration import conf
conf.load_providers_configuration()
options, dotted = json.loads(sys.argv[1])
known = conf.configuration_description  # every documented option, core and providers
unknown = [f"{s}.{o}" for s, o in options if o not in known.get(s, {}).get("options", {})]
bad = []
for path in dotted:
    module, _, attr = path.rpartition(".")
    try:
        getattr(importlib.import_module(module), attr)
    except Exception as exc:
        bad.append(f"{path}: {exc}")
print(json.dumps({"unknown": unknown, "unimportable": bad}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps([options, dotted])],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_environment_names_real_airflow_options_and_our_connection_types() -> None:
    from paytrace_sl_airflow.provider import get_provider_info

    conn_types = {c["connection-type"] for c in get_provider_info()["connection-types"]}
    env = example_env()
    options: set[tuple[str, str]] = set()
    dotted: set[str] = set()
    for key in executor_settings():
        options.add(tuple(key.lower().split("__")[1:3]))  # type: ignore[arg-type]
    for name, s in services().items():
        for key, raw in (s.get("environment") or {}).items():
            value = interpolate(str(raw), env)
            if key.startswith("AIRFLOW__"):
                _, section, option = key.lower().split("__", 2)
                options.add((section, option))
                if re.fullmatch(r"airflow(\.\w+)+\.[A-Z]\w+", value):
                    dotted.add(value)
            elif key.startswith("AIRFLOW_CONN_"):
                conn = json.loads(value)
                assert conn["conn_type"] in conn_types, (name, key)
    helm = yaml.safe_load(HELM_VALUES.read_text())
    for section, opts in helm["config"].items():
        options.update((section, o) for o in opts)
    dotted.add("airflow.providers.celery.executors.celery_executor.app")  # the worker healthcheck's app
    found = _airflow_config_check(sorted(options), sorted(dotted))
    assert found == {"unknown": [], "unimportable": []}


def test_every_service_command_is_a_real_cli_command(tmp_path: Path) -> None:
    commands: set[tuple[str, ...]] = set()
    for _name, s in services().items():
        if not s.get("build"):
            continue
        entry = s.get("entrypoint", ["airflow"])
        commands.add((*entry, *s["command"]))
        health = s.get("healthcheck", {}).get("test", [])
        if health and health[0] == "CMD-SHELL" and health[1].startswith("airflow "):
            commands.add(tuple(health[1].split(" --hostname")[0].split()))
    # the image's default command, and what docs/deployment.md tells operators to run
    commands |= {("airflow", "version"), ("paytrace-sl", "sl", "install")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PAYTRACE_SL_START"))}
    env["AIRFLOW_HOME"] = str(tmp_path)
    procs = {}
    for cmd in sorted(commands):
        words = list(itertools.takewhile(lambda a: not a.startswith("-"), cmd))
        # every command must accept --help: its parser exists and loads; nothing runs
        procs[cmd] = subprocess.Popen(
            [str(VENV_BIN / words[0]), *words[1:], "--help"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    failed = {}
    for cmd, proc in procs.items():
        _, err = proc.communicate(timeout=180)
        if proc.returncode != 0:
            failed[" ".join(cmd)] = err[-500:]
    assert not failed, failed
    assert ("airflow", "celery", "worker") in commands and ("airflow", "triggerer") in commands


def test_mounts_copies_and_image_paths_exist() -> None:
    data = compose()
    declared = set(data.get("volumes") or {})
    image_env = dockerfile_env()
    mounted: set[str] = set()
    for name, s in data["services"].items():
        for vol in s.get("volumes", []):
            source, target = vol.split(":")[:2]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: bind mount {source} is not in the repository"
            else:
                assert source in declared, f"{name}: volume {source} not declared"
            mounted.add(target)
        for f in s.get("env_file", []):
            assert (REPO / f["path"]).is_file()
    # COPY sources exist (the build context is the repository)
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, _ = line.split()[1:]
            for src in sources:
                assert (REPO / src).exists(), f"Dockerfile COPY {src}: not in the repository"
    text = DOCKERFILE.read_text()
    # the paths the image's settings name: made in the Dockerfile, and where compose mounts its volumes
    assert image_env["AIRFLOW_HOME"] == "/opt/airflow" and "/opt/airflow/logs" in mounted
    assert (
        image_env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
        and "COPY dags /opt/airflow/dags" in text
    )
    assert image_env["PAYTRACE_SL_MAPPING"] == "/opt/paytrace-sl/data_contracts/mapping.yaml"
    assert "COPY data_contracts /opt/paytrace-sl/data_contracts" in text
    assert (REPO / "data_contracts" / "mapping.yaml").is_file()
    for key in ("PAYTRACE_SL_LANDING_DIR", "PAYTRACE_SL_GX_DIR", "PAYTRACE_SL_REPORTS_DIR"):
        assert image_env[key].startswith("/var/lib/paytrace-sl/") and image_env[key] in text.split("mkdir")[1]
    assert "/var/lib/paytrace-sl" in mounted
    # the DAG files the image bakes in are the repository's
    assert sorted(p.name for p in (REPO / "dags").glob("*.py")) == [
        "paytrace_chargebacks_to_sl.py",
        "paytrace_customers_to_sl.py",
        "paytrace_payments_to_sl.py",
        "paytrace_recurring_to_sl.py",
        "paytrace_settlements_to_sl.py",
        "paytrace_sl_replay.py",
    ]


def test_secrets_come_from_an_uncommitted_env_file() -> None:
    text = COMPOSE.read_text()
    required = {m.group(1) for m in _VAR.finditer(text) if (m.group(2) or "").startswith(":?")}
    assert required <= set(example_env()), required - set(example_env())
    for secret in ("POSTGRES_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "PAYTRACE_PASSWORD"):
        assert secret in required
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()
    tracked = subprocess.run(
        ["git", "ls-files", ".env"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout
    assert tracked.strip() == ""
