"""``paytrace-sl sl init-sandbox | check-schema | install``: the SL schema side of the bridge."""

from __future__ import annotations

import dataclasses
import datetime as dt
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


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


def init_sandbox_cmd(
    sl_url: SlUrl = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Merchant simulation seed (same as the PayTrace sandbox).")
    ] = 42,
    start: Annotated[str, typer.Option("--start", help="First simulated day, YYYY-MM-DD.")] = "2025-04-01",
    days: Annotated[int, typer.Option("--days", help="Number of simulated days.")] = 30,
    tx_per_day: Annotated[int, typer.Option("--tx-per-day", help="Simulated transactions per day.")] = 200,
    customers: Annotated[int, typer.Option("--customers", help="Simulated customers.")] = 50,
    fiscal_first_month: Annotated[
        int, typer.Option("--fiscal-first-month", help="First month of the fiscal year (1 = calendar year).")
    ] = 1,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Re-seed a database that init-sandbox created before (empties it first)."
        ),
    ] = False,
) -> None:
    """Create and seed a SANDBOX SL database (PostgreSQL or SQLite) matching the PayTrace sandbox merchant.

    Refuses SQL Server, and any database holding SL rows that init-sandbox did not create.
    """
    from paytrace_sl.sandbox.merchant import MerchantConfig
    from paytrace_sl.sl.sandbox_seed import SandboxSeedError, SandboxSLConfig, init_sandbox

    url = _url(sl_url)
    merchant = MerchantConfig(
        seed=seed, start=_date(start), days=days, tx_per_day=tx_per_day, customers=customers
    )
    try:
        summary = init_sandbox(
            url, merchant, force=force, sl_config=SandboxSLConfig(fiscal_first_month=fiscal_first_month)
        )
    except SandboxSeedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"sandbox SL database ready: {summary.url} ({summary.dialect})")
    typer.echo(
        f"  SL tables created: {'yes' if summary.created_sl_tables else 'already present'}; "
        f"our tables at version {summary.install.to_version}"
    )
    typer.echo(f"  company {summary.cpny_id}, current period {summary.per_nbr}")
    typer.echo(
        f"  accounts {summary.accounts}, customers {summary.customers}, cross-references {summary.cust_xrefs}"
    )
    typer.echo(
        f"  open invoices {summary.invoices} in {summary.invoice_batches} released batch(es), "
        f"sales orders {summary.sales_orders}"
    )
    typer.echo(f"  {summary.seconds:.2f}s")


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
    """Add ``init-sandbox``, ``check-schema`` and ``install`` to the ``sl`` sub-app."""
    app.command("init-sandbox")(init_sandbox_cmd)
    app.command("check-schema")(check_schema_cmd)
    app.command("install")(install_cmd)
