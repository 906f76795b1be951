"""The wheels work without the repository: built, installed into a fresh venv elsewhere, ``sync`` runs.

Guards the packaged defaults of ``paytrace_sl.settings``: the contracts and the default mapping are
read from the wheel's package data (``importlib.resources``), the working folders land under the
current directory, and nothing computes a path from the repository layout. And the split: the
production wheel (paytrace-sl) holds the bridge only; the sandbox, the SL sandbox seed and the demo are
the paytrace-sl-sandbox wheel, whose commands join the CLI when it is installed beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import paytrace_sl
from paytrace_sl_sandbox.server import SandboxServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
SANDBOX_SOURCES = REPO / "include" / "paytrace_sl_sandbox"


def _uv() -> str:
    found = REPO / ".tools" / "bin" / "uv"
    if found.exists():
        return str(found)
    on_path = shutil.which("uv")
    assert on_path, "uv is needed to build and install the wheel (make env installs it into .tools/)"
    return on_path


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _uv_env() -> dict[str, str]:
    return {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Both distributions of the workspace, built as `make env`'s uv builds them: (production, sandbox)."""
    dist = tmp_path_factory.mktemp("dist")
    _run([_uv(), "build", "--wheel", "--all-packages", "--out-dir", str(dist)], REPO, _uv_env())
    (production,) = dist.glob("paytrace_sl-*.whl")
    (sandbox,) = dist.glob("paytrace_sl_sandbox-*.whl")
    return production, sandbox


def _members(wheel: Path) -> dict[str, str]:
    """File name → text for the wheel's entry points and metadata, ``""`` for every other file."""
    with zipfile.ZipFile(wheel) as zf:
        return {
            n: zf.read(n).decode() if n.endswith(("entry_points.txt", "METADATA")) else ""
            for n in zf.namelist()
        }


def test_production_wheel_ships_the_bridge_and_the_sandbox_wheel_the_workbench(
    wheels: tuple[Path, Path],
) -> None:
    production, sandbox = (_members(w) for w in wheels)
    top = {n.split("/")[0] for n in production if ".dist-info/" not in n}
    assert top == {"paytrace_sl", "paytrace_sl_airflow"}
    assert "paytrace_sl/data_contracts/mapping.yaml" in production
    assert "paytrace_sl/cli/__init__.py" in production and "paytrace_sl_airflow/dag_support.py" in production
    # nothing of the workbench, under its old names or new ones
    assert [n for n in production if "sandbox" in n or n.endswith("/demo.py")] == []
    (prod_eps,) = (text for n, text in production.items() if n.endswith(".dist-info/entry_points.txt"))
    assert "[paytrace_sl.cli]" not in prod_eps and "paytrace-sl = paytrace_sl.cli:main" in prod_eps

    modules = {n for n in sandbox if ".dist-info/" not in n}
    sources = {
        f"paytrace_sl_sandbox/{p.relative_to(SANDBOX_SOURCES).as_posix()}"
        for p in SANDBOX_SOURCES.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert modules == sources  # exactly the package's sources
    moved = ("server", "merchant", "faults", "shapes", "sl_seed", "demo", "cli")
    assert {f"paytrace_sl_sandbox/{m}.py" for m in moved} < modules
    (eps,) = (text for n, text in sandbox.items() if n.endswith(".dist-info/entry_points.txt"))
    assert "[paytrace_sl.cli]\nsandbox = paytrace_sl_sandbox.cli:register" in eps
    (metadata,) = (text for n, text in sandbox.items() if n.endswith(".dist-info/METADATA"))
    assert f"Requires-Dist: paytrace-sl=={paytrace_sl.__version__}" in metadata.splitlines()


def test_wheel_installed_outside_the_repo_syncs_with_packaged_contracts(
    paytrace_sandbox: SandboxServer, tmp_path: Path, wheels: tuple[Path, Path]
) -> None:
    uv = _uv()
    uv_env = _uv_env()
    wheel, sandbox_wheel = wheels
    requirements = tmp_path / "requirements.txt"
    _run(
        [
            uv,
            "export",
            "--frozen",
            "--no-hashes",
            "--no-emit-project",
            "--no-header",
            "-o",
            str(requirements),
        ],
        REPO,
        uv_env,
    )
    venv = tmp_path / "venv"
    _run([uv, "venv", "--quiet", str(venv), "--python", sys.executable], tmp_path, uv_env)
    python = venv / "bin" / "python"
    # the locked versions, linked from uv's cache: no network beyond PyPI, and only for a cold cache
    _run(
        [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements), str(wheel)],
        tmp_path,
        uv_env,
    )

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "PAYTRACE_URL": paytrace_sandbox.url,
        "PAYTRACE_USERNAME": "sandbox",
        "PAYTRACE_PASSWORD": "sandbox-password",
        "SL_DATABASE_URL": f"sqlite:///{work / 'sl.db'}",
        "GX_ANALYTICS_ENABLED": "false",
    }
    where = _run(
        [
            str(python),
            "-c",
            "import json, paytrace_sl; from paytrace_sl import settings; print(json.dumps("
            "[paytrace_sl.__file__, str(settings.mapping_path()), str(settings.contracts_dir()),"
            " str(settings.checkout_root()), str(settings.var_dir())]))",
        ],
        work,
        env,
    )
    module, mapping, contracts, checkout, var = json.loads(where.stdout)
    site = str(venv)
    assert module.startswith(site) and mapping.startswith(site) and contracts.startswith(site)
    assert mapping.endswith("paytrace_sl/data_contracts/mapping.yaml") and checkout == "None"
    assert var == str(work / "var")

    cli = str(venv / "bin" / "paytrace-sl")
    # the production install has no workbench: no sandbox package, no sandbox commands
    no_pkg = subprocess.run(
        [str(python), "-c", "import paytrace_sl_sandbox"], cwd=work, env=env, capture_output=True, text=True
    )
    assert no_pkg.returncode == 1 and "ModuleNotFoundError" in no_pkg.stderr
    for command in (["sandbox", "--help"], ["sl", "init-sandbox", "--help"]):
        missing = subprocess.run([cli, *command], cwd=work, env=env, capture_output=True, text=True)
        assert missing.returncode == 2 and "No such command" in missing.stderr, command
    assert "init-sandbox" not in _run([cli, "sl", "--help"], work, env).stdout

    # the sandbox wheel beside it adds its commands; they seed the SL sandbox database
    pip = [uv, "pip", "--quiet"]
    _run([*pip, "install", "--no-deps", "--python", str(python), str(sandbox_wheel)], tmp_path, uv_env)
    listed = _run([cli, "--help"], work, env).stdout
    assert "sandbox" in listed and "init-sandbox" in _run([cli, "sl", "--help"], work, env).stdout
    seed = ["--seed", "7", "--days", "7", "--tx-per-day", "60"]
    _run([cli, "sl", "init-sandbox", "--sl-url", env["SL_DATABASE_URL"], *seed], work, env)
    # ... and leaves with it: the sync below runs on the production wheel alone
    _run([*pip, "uninstall", "--python", str(python), "paytrace-sl-sandbox"], tmp_path, uv_env)
    synced = _run([cli, "sync", "--start", "2025-04-02", "--end", "2025-04-03", "--json"], work, env)
    totals = json.loads(synced.stdout)
    assert totals["transactions"] > 0 and totals["posted"]["payment"] > 0
    assert totals["dead_letter"] == 0
    assert any((work / "var" / "landing").iterdir())  # working folders under the current directory
    # the vendored Data Docs assets ship in the wheel, and the sync's site points at its own copy
    docs = work / "var" / "gx" / "data_docs"
    assert (docs / "static" / "vendor" / "bootstrap" / "bootstrap.min.css").is_file()
    assert "static/vendor/jquery/jquery.min.js" in (docs / "index.html").read_text()
    assert not (REPO / "include" / "paytrace_sl" / "data_contracts").exists()  # the repo stays as it was
