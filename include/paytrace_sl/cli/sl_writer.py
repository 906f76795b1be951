"""``paytrace-sl sl preflight``: SL's release checks on unreleased batches, before a user clicks Release."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from paytrace_sl.cli.common import EXIT_FINDINGS, EXIT_USAGE, AsJson
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE

if TYPE_CHECKING:
    from paytrace_sl.sl.preflight import Finding

EXIT_ERROR = EXIT_USAGE


def preflight_cmd(
    sl_url: Annotated[
        str | None,
        typer.Option(
            "--sl-url",
            help="SQLAlchemy URL of the SL database (default: $SL_DATABASE_URL, then the "
            "Airflow connection dynamics_sl_default)." + SL_URL_HELP_NOTE,
            show_default=False,
        ),
    ] = None,
    batch: Annotated[str | None, typer.Option("--batch", help="Only this batch number (BatNbr).")] = None,
    module: Annotated[str | None, typer.Option("--module", help="Only this module: AR or GL.")] = None,
    as_json: AsJson = False,
) -> None:
    """Check unreleased SL batches the way SL's release would; exit 1 when anything is found.

    Exit status (docs/operations.md): 0 clean; 1 findings; 2 usage or settings; 3 database down.
    """
    from paytrace_sl.settings import ConfigurationError, resolve_sl_url
    from paytrace_sl.sl.engine import create_sl_engine
    from paytrace_sl.sl.preflight import run_preflight

    try:
        url = resolve_sl_url(sl_url)
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    if module is not None and module.upper() not in ("AR", "GL"):
        raise typer.BadParameter(f"--module must be AR or GL, got {module!r}")
    engine = create_sl_engine(url)
    try:
        with engine.connect() as conn:
            findings = run_preflight(conn, module=module.upper() if module else None, bat_nbr=batch)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        _print_table(findings)
    if findings:
        raise typer.Exit(EXIT_FINDINGS)


def _print_table(findings: list[Finding]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    if not findings:
        console.print("preflight: no findings — SL's release checks would pass.")
        return
    table = Table(title=f"SL release preflight: {len(findings)} finding(s)")
    for header in ("Error", "Module", "Batch", "Doc", "Ref", "Customer", "Message"):
        table.add_column(header)
    for f in findings:
        table.add_row(str(f.error), f.module, f.bat_nbr, f.doc_type, f.ref_nbr, f.cust_id, f.message)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``preflight`` to the ``sl`` sub-app."""
    app.command("preflight")(preflight_cmd)
