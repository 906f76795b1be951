"""``paytrace-sl sl …``: the Dynamics SL target (schema, install, sandbox, preflight)."""

from __future__ import annotations

import typer

sl_app = typer.Typer(
    help="Dynamics SL database: schema check, install our tables, sandbox, preflight.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    from paytrace_sl.cli import sl_schema as cli_sl_schema
    from paytrace_sl.cli import sl_writer as cli_sl_writer

    cli_sl_schema.register(sl_app)
    cli_sl_writer.register(sl_app)
    app.add_typer(sl_app, name="sl")
