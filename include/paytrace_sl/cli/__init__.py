"""``paytrace-sl`` command line: every pipeline step runnable without a scheduler.

Each area registers its commands from its own module (``cli/*``) so the DAGs and the CLI call the
same library functions.
"""

from __future__ import annotations

import typer

from paytrace_sl import __version__
from paytrace_sl.cli.common import ErrorHandlingGroup

app = typer.Typer(
    name="paytrace-sl",
    help="Move PayTrace payments into Microsoft Dynamics SL: extract, check, transform, load, reconcile.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=ErrorHandlingGroup,
    epilog="Dates: --start inclusive, --end exclusive. Exit codes: 0 ok, 1 findings, 2 usage or "
    "configuration, 3 environment (SL/PayTrace down or refusing), 4 internal error (docs/operations.md).",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """PayTrace → Dynamics SL bridge."""


def _register() -> None:
    # Imported here so `paytrace-sl --help` stays quick and each area owns its module.
    from paytrace_sl.cli import extract, pipeline, report, sandbox, security, sl

    extract.register(app)
    sandbox.register(app)
    sl.register(app)
    pipeline.register(app)
    report.register(app)
    security.register(app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
