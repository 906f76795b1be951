"""Build hook: the wheel takes its sources from the repository's include/paytrace_sl_sandbox.

Only for the regular wheel: an editable install must not carry a copy (it would shadow the sources); it
puts include/ on sys.path instead (``dev-mode-dirs`` in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCES = Path(__file__).resolve().parents[2] / "include" / "paytrace_sl_sandbox"


class SandboxSources(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "standard":
            if not (SOURCES / "__init__.py").is_file():
                raise FileNotFoundError(f"{SOURCES}: the sandbox sources are not there")
            build_data["force_include"][str(SOURCES)] = "paytrace_sl_sandbox"
