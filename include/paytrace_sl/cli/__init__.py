"""``paytrace-sl`` command line: every pipeline step runnable without a scheduler.

Each area registers its commands from its own module (``cli/*``) so the DAGs and the CLI call the
same library functions.
"""

from __future__ import annotations

from pathlib import Path

import typer

from paytrace_sl import __version__, settings
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
    password_file: Path | None = typer.Option(  # noqa: B008
        None,
        "--password-file",
        help="Read the PayTrace API password from this file (first line; also $PAYTRACE_PASSWORD_FILE). "
        "Unlike --password it does not show in process listings. Give it before the command.",
        show_default=False,
    ),
    sl_url_file: Path | None = typer.Option(  # noqa: B008
        None,
        "--sl-url-file",
        help="Read the SL database URL (with its password) from this file (first line; also "
        "$SL_DATABASE_URL_FILE). Unlike --sl-url it does not show in process listings. Give it before "
        "the command.",
        show_default=False,
    ),
) -> None:
    """PayTrace → Dynamics SL bridge.

    Secrets: pass them in the environment ($PAYTRACE_PASSWORD, $SL_DATABASE_URL) or in files
    (--password-file, --sl-url-file or the *_FILE variables), not as --password / --sl-url values,
    which every user of the machine can read in the process list.
    """
    # the library reads the files (settings.resolve_sl_url, PayTraceSettings.from_env); a file given
    # here wins over the plain variables, an explicit --password / --sl-url still wins over both
    settings.use_secret_files(password_file=password_file, sl_url_file=sl_url_file)


# Entry-point group through which other distributions add commands: each entry point names a
# ``register(app: typer.Typer) -> None``. The sandbox package (paytrace-sl-sandbox) adds ``sandbox …``
# and ``sl init-sandbox`` this way, so this package never imports it.
PLUGIN_GROUP = "paytrace_sl.cli"


def _register_plugins() -> None:
    from importlib.metadata import entry_points

    for plugin in sorted(entry_points(group=PLUGIN_GROUP), key=lambda ep: ep.name):
        try:
            plugin.load()(app)
        except Exception as exc:  # a broken add-on must not take the production commands down
            typer.echo(
                f"paytrace-sl: the {plugin.name!r} commands ({plugin.value}) are unavailable: "
                f"{type(exc).__name__}: {exc}",
                err=True,
            )


def _register() -> None:
    # Imported here so `paytrace-sl --help` stays quick and each area owns its module.
    from paytrace_sl.cli import (
        chargebacks,
        customers,
        extract,
        pipeline,
        recurring,
        report,
        review,
        security,
        sl,
    )

    extract.register(app)
    _register_plugins()  # before `sl`: the help lists their groups first, as it always did
    sl.register(app)
    pipeline.register(app)
    report.register(app)
    recurring.register(app)
    security.register(app)
    customers.register(app)
    review.register(app)
    chargebacks.register(app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
