"""The wheel works without the repository: built, installed into a fresh venv elsewhere, ``sync`` runs.

Guards the packaged defaults of ``paytrace_sl.settings``: the contracts and the default mapping are
read from the wheel's package data (``importlib.resources``), the working folders land under the
current directory, and nothing computes a path from the repository layout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paytrace_sl.sandbox.server import SandboxServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


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


def test_wheel_installed_outside_the_repo_syncs_with_packaged_contracts(
    paytrace_sandbox: SandboxServer, tmp_path: Path
) -> None:
    uv = _uv()
    uv_env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    dist = tmp_path / "dist"
    _run([uv, "build", "--wheel", "--out-dir", str(dist)], REPO, uv_env)
    (wheel,) = dist.glob("paytrace_sl-*.whl")
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
    seed = ["--seed", "7", "--days", "7", "--tx-per-day", "60"]
    _run([cli, "sl", "init-sandbox", "--sl-url", env["SL_DATABASE_URL"], *seed], work, env)
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
