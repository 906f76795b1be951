"""CLI commands (module owned by its area; see paytrace_sl.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    # TODO(owner): add commands
