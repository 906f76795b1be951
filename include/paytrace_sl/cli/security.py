"""``paytrace-sl pci-scan``: look for card numbers, CVVs, credentials and tokens where none may be.

Scans files/directories (logs, landing files, GX results, run summaries) and, with ``--sl-url``, every
text column of the SL database (SL's tables and our ``xPT*`` tables). Known secret values come from
environment variables only (the defaults are the PayTrace credentials the pipeline itself reads); they
are never accepted on the command line, where they would land in shell history and process lists.
Exit status: 0 clean, 1 findings, 2 usage error. Output never contains a secret: masked excerpts only.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Annotated

import typer

from paytrace_sl.cli.common import EXIT_FINDINGS, AsJson
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE
from paytrace_sl.settings import ConfigurationError, airflow_conn_from_env, env, resolve_sl_url

DEFAULT_SECRET_ENVS = ("PAYTRACE_PASSWORD", "PAYTRACE_INTEGRATOR_ID", "PAYTRACE_CLIENT_SECRET")
PAYTRACE_CONN_ID = "paytrace_default"
_SECRET_ENV_HELP = (
    "Environment variable holding a secret value to look for (repeatable). Always included when set: "
    f"{', '.join(DEFAULT_SECRET_ENVS)} and the {PAYTRACE_CONN_ID} connection's password/integrator_id."
)


def known_secrets(secret_envs: Sequence[str]) -> list[str]:
    """Secret values from the named environment variables plus the ``paytrace_default`` connection."""
    values = [env(name) or "" for name in (*DEFAULT_SECRET_ENVS, *secret_envs)]
    conn = airflow_conn_from_env(PAYTRACE_CONN_ID)
    if conn is not None:
        values.append(conn.get("password", ""))
        try:
            extra = json.loads(conn.get("extra") or "{}")
        except ValueError:
            extra = {}
        if isinstance(extra, dict):
            values.extend(str(extra.get(k) or "") for k in ("integrator_id", "client_secret"))
    return [v for v in values if v]


def register(app: typer.Typer) -> None:
    """Add ``pci-scan`` to ``app``."""

    @app.command("pci-scan")
    def pci_scan(
        paths: Annotated[
            list[str] | None, typer.Argument(help="Files or directories to scan (recursively).")
        ] = None,
        sl_url: Annotated[
            str | None,
            typer.Option(
                "--sl-url",
                help="Also scan every text column of this database (SL + xPT*)." + SL_URL_HELP_NOTE,
            ),
        ] = None,
        secret_env: Annotated[list[str] | None, typer.Option("--secret-env", help=_SECRET_ENV_HELP)] = None,
        show: Annotated[int, typer.Option("--show", help="Print at most this many findings.")] = 50,
        as_json: AsJson = False,
    ) -> None:
        """Fail (exit 1) when a card number, CVV, password, token or integrator id is found.

        Exit status (docs/operations.md): 0 clean; 1 findings; 2 usage; 3 database unreachable.
        """
        from paytrace_sl.pci_scan import scan_database, scan_paths, summarize

        if not paths and not sl_url:
            raise typer.BadParameter("give at least one PATH or --sl-url")
        secret_env = secret_env or []
        missing = [name for name in secret_env if not env(name)]
        if missing:
            raise typer.BadParameter(f"--secret-env variable(s) not set or empty: {', '.join(missing)}")
        secrets = known_secrets(secret_env)
        try:
            findings = scan_paths(paths or [], secrets=secrets)
        except FileNotFoundError as exc:
            raise typer.BadParameter(str(exc)) from exc
        if sl_url:
            from paytrace_sl.sl.engine import create_sl_engine

            try:
                url = resolve_sl_url(sl_url)
            except ConfigurationError as exc:
                raise typer.BadParameter(str(exc)) from exc
            engine = create_sl_engine(url)
            try:
                findings.extend(scan_database(engine, secrets=secrets))
            finally:
                engine.dispose()
        if as_json:
            document = {
                "clean": not findings,
                "counts": {k: v for k, v in summarize(findings).items() if v},
                "findings": [dataclasses.asdict(f) for f in findings[:show]],
                "more": max(0, len(findings) - show),
            }
            typer.echo(json.dumps(document, indent=1))
            raise typer.Exit(EXIT_FINDINGS if findings else 0)
        for finding in findings[:show]:
            typer.echo(str(finding))
        if len(findings) > show:
            typer.echo(f"… and {len(findings) - show} more")
        counts = {k: v for k, v in summarize(findings).items() if v}
        scanned = f"{len(paths or [])} path(s)" + (" and the SL database" if sl_url else "")
        if findings:
            typer.echo(f"PCI scan of {scanned}: {len(findings)} finding(s) {counts}", err=True)
            raise typer.Exit(EXIT_FINDINGS)
        typer.echo(f"PCI scan of {scanned}: clean ({len(secrets)} known secret value(s) checked)")
