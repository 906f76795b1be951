"""``paytrace-sl sl check-schema | install``: the SL schema side of the bridge.

``sl init-sandbox`` (a seeded demo SL database) comes from the sandbox package
(:mod:`paytrace_sl_sandbox.cli`) when it is installed.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from paytrace_sl.cli.common import EXIT_ENVIRONMENT, EXIT_FINDINGS, EXIT_USAGE, AsJson
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE

EXIT_DIFFERENCES = EXIT_FINDINGS
EXIT_ERROR = EXIT_USAGE

SlUrl = Annotated[
    str | None,
    typer.Option(
        "--sl-url",
        help="SQLAlchemy URL of the SL database (default: $SL_DATABASE_URL, then the Airflow connection "
        "dynamics_sl_default). Example: mssql+pyodbc://user@dsn, postgresql+psycopg://…, sqlite:///sl.db."
        + SL_URL_HELP_NOTE,
        show_default=False,
    ),
]


def _url(explicit: str | None) -> str:
    from paytrace_sl.settings import ConfigurationError, resolve_sl_url

    try:
        return resolve_sl_url(explicit)
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def check_schema_cmd(
    sl_url: SlUrl = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list harmless (info) differences.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Compare the SL database with the catalog; exit 1 when any error/warning difference is found.

    Run it against the customer's real SL database before go-live. Exit status (docs/operations.md):
    0 matches; 1 differences; 2 usage or settings; 3 database unreachable or refusing.
    """
    from paytrace_sl.sl.engine import create_sl_engine
    from paytrace_sl.sl.schema_check import blocking, check_schema

    url = _url(sl_url)
    engine = create_sl_engine(url)
    try:
        diffs = check_schema(engine)
    except Exception as exc:  # connection/permission problems: say which database, never the password
        typer.echo(
            f"error: cannot check {_safe(url)}: {type(exc).__name__}: {str(exc).splitlines()[0]}", err=True
        )
        raise typer.Exit(EXIT_ENVIRONMENT) from None
    finally:
        engine.dispose()
    serious = blocking(diffs)
    if as_json:
        shown = diffs if verbose else serious
        document = {
            "database": _safe(url),
            "ok": not serious,
            "differences": [dataclasses.asdict(d) for d in shown],
            "informational": len(diffs) - len(serious),
        }
        typer.echo(json.dumps(document, indent=1))
        raise typer.Exit(EXIT_DIFFERENCES if serious else 0)
    for diff in diffs if verbose else serious:
        typer.echo(str(diff))
    info = len(diffs) - len(serious)
    if serious:
        typer.echo(
            f"{len(serious)} difference(s) need attention ({info} informational) in {_safe(url)}", err=True
        )
        raise typer.Exit(EXIT_DIFFERENCES)
    typer.echo(f"schema OK: {_safe(url)} matches the catalog ({info} informational difference(s))")


def install_cmd(sl_url: SlUrl = None, as_json: AsJson = False) -> None:
    """Create or upgrade our xPT* tables in the SL database (idempotent; never touches SL's tables).

    Exit status (docs/operations.md): 0 done; 2 usage or settings; 3 not an SL database, a newer
    schema than this code, or the database unreachable.
    """
    from paytrace_sl.sl.engine import create_sl_engine
    from paytrace_sl.sl.own_tables import InstallError, install

    url = _url(sl_url)
    engine = create_sl_engine(url)
    try:
        result = install(engine)
    except InstallError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ENVIRONMENT) from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"database": _safe(url), **dataclasses.asdict(result)}, indent=1))
        return
    if not result.changed:
        typer.echo(f"already at version {result.to_version}: nothing to do ({_safe(url)})")
        return
    typer.echo(f"upgraded {_safe(url)} from version {result.from_version} to {result.to_version}")
    for step in result.applied:
        typer.echo(f"  {step}")
    if result.created_tables:
        typer.echo(f"  created: {', '.join(result.created_tables)}")
    if result.added_columns:
        typer.echo(f"  added columns: {', '.join(result.added_columns)}")


def register(app: typer.Typer) -> None:
    """Add ``check-schema`` and ``install`` to the ``sl`` sub-app."""
    app.command("check-schema")(check_schema_cmd)
    app.command("install")(install_cmd)
