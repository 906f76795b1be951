"""Other distributions add commands to ``paytrace-sl`` through the ``paytrace_sl.cli`` entry-point group.

Real entry points: each test puts a ``*.dist-info`` with an ``entry_points.txt`` on the path of a fresh
interpreter, as an installed distribution would, and runs the CLI there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paytrace_sl.cli import PLUGIN_GROUP

RUN_CLI = "import sys; from paytrace_sl.cli import app; sys.argv[0] = 'paytrace-sl'; app()"


def _install_fake_distribution(site: Path, name: str, entry_points: str, module: str = "") -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    if module:
        (site / f"{name}.py").write_text(module)


def _cli(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_installed_plugin_adds_its_commands(tmp_path: Path) -> None:
    _install_fake_distribution(
        tmp_path,
        "pt_hello",
        f"[{PLUGIN_GROUP}]\nhello = pt_hello:register\n",
        "import typer\n\n"
        "def register(app: typer.Typer) -> None:\n"
        "    @app.command('hello')\n"
        "    def hello() -> None:\n"
        "        typer.echo('hello from a plugin')\n",
    )
    done = _cli(tmp_path, "hello")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello from a plugin"
    # the sandbox distribution of this workspace is a plugin too, loaded beside the fake one
    listed = _cli(tmp_path, "--help")
    assert listed.returncode == 0 and "hello" in listed.stdout and "sandbox" in listed.stdout


def test_a_broken_plugin_is_named_and_the_production_commands_still_work(tmp_path: Path) -> None:
    _install_fake_distribution(
        tmp_path, "pt_broken", f"[{PLUGIN_GROUP}]\nbroken = pt_missing_module:register\n"
    )
    done = _cli(tmp_path, "sl", "--help")
    assert done.returncode == 0, done.stderr
    assert "check-schema" in done.stdout and "install" in done.stdout
    assert (
        "'broken' commands (pt_missing_module:register) are unavailable: ModuleNotFoundError" in done.stderr
    )
