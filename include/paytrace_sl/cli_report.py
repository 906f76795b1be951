"""``paytrace-sl reconcile`` and ``paytrace-sl report``: the auditor-facing commands.

PayTrace's side comes from the API when ``PAYTRACE_USERNAME``/``PAYTRACE_PASSWORD`` (or the
``paytrace_default`` connection) are set and ``--offline`` is not given; otherwise from the landing files
and ``xPTRecon`` (see docs/reconciliation.md).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE
from paytrace_sl.settings import ConfigurationError, resolve_sl_url

DEFAULT_LANDING = str(Path(__file__).resolve().parents[2] / "var" / "landing")
DEFAULT_GX = str(Path(__file__).resolve().parents[2] / "var" / "gx")


def _date(value: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{flag} must be a date YYYY-MM-DD, got {value!r}") from exc


def _client(offline: bool) -> Any | None:
    if offline:
        return None
    from paytrace_sl.paytrace.config import PayTraceSettings

    settings = PayTraceSettings.from_env()
    if not (settings.username and settings.password):
        return None
    from paytrace_sl.paytrace.client import PayTraceClient

    return PayTraceClient(settings)


def _mapping(path: str | None) -> Any | None:
    from paytrace_sl.pipeline.mapping import load_mapping

    return load_mapping(path) if path else load_mapping()


def _common(sl_url: str | None, offline: bool, mapping_path: str | None) -> tuple[Any, Any | None, Any]:
    from paytrace_sl.sl.engine import create_sl_engine

    try:
        url = resolve_sl_url(sl_url)
    except ConfigurationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return create_sl_engine(url), _client(offline), _mapping(mapping_path)


def register(app: typer.Typer) -> None:
    """Add ``reconcile`` and ``report`` to ``app``."""

    @app.command("reconcile")
    def reconcile_cmd(
        start: str = typer.Option(..., "--start", help="First merchant day, YYYY-MM-DD."),
        end: str = typer.Option(..., "--end", help="Last merchant day (inclusive), YYYY-MM-DD."),
        sl_url: str | None = typer.Option(
            None, "--sl-url", help="SL database SQLAlchemy URL." + SL_URL_HELP_NOTE
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        landing_dir: str = typer.Option(
            DEFAULT_LANDING,
            "--landing-dir",
            envvar="PAYTRACE_SL_LANDING_DIR",
            help="Landing files of past runs.",
        ),
        mapping_path: str | None = typer.Option(
            None, "--mapping", envvar="PAYTRACE_SL_MAPPING", help="mapping.yaml (default: data_contracts/)."
        ),
        offline: bool = typer.Option(False, "--offline", help="Do not call PayTrace; use landing data."),
    ) -> None:
        """Reconcile PayTrace with SL for a date range; exit 1 when anything is unexplained."""
        from paytrace_sl.reconcile.engine import reconcile

        first, last = _date(start, "--start"), _date(end, "--end")
        engine, client, mapping = _common(sl_url, offline, mapping_path)
        try:
            report = reconcile(
                engine, first, last, paytrace_client=client, landing_dir=Path(landing_dir), mapping=mapping
            )
        finally:
            engine.dispose()
            if client is not None:
                client.close()
        if as_json:
            typer.echo(json.dumps(report.to_json_dict(), indent=1))
        else:
            counts = report.to_json_dict()["counts"]
            typer.echo(f"Reconciliation {first} to {last} (PayTrace side: {report.source})")
            typer.echo(f"  transactions checked: {report.transactions_checked}")
            typer.echo(f"  settlement batches: {counts['batches']} ({counts['batches_matched']} matched)")
            for rec in report.batches:
                typer.echo(
                    f"    batch {rec.batch_number} {rec.settled_date}: {rec.status}, PayTrace "
                    f"{rec.paytrace.net}, SL {rec.posted.net}, difference {rec.difference_cents / 100:.2f}"
                )
            typer.echo(f"  exceptions: {counts['exceptions']} ({counts['unexplained']} unexplained)")
            for exc in report.exceptions:
                mark = "explained  " if exc.explained else "UNEXPLAINED"
                typer.echo(f"    {mark} {exc.kind}: {exc.reason}\n                → {exc.action}")
            for note in report.notes:
                typer.echo(f"  note: {note}")
        raise typer.Exit(0 if report.ok else 1)

    @app.command("report")
    def report_cmd(
        start: str = typer.Option(..., "--start", help="First merchant day, YYYY-MM-DD."),
        end: str = typer.Option(..., "--end", help="Last merchant day (inclusive), YYYY-MM-DD."),
        out: str = typer.Option(..., "--out", help="Directory for report.html and the CSV/JSON tables."),
        sl_url: str | None = typer.Option(
            None, "--sl-url", help="SL database SQLAlchemy URL." + SL_URL_HELP_NOTE
        ),
        landing_dir: str = typer.Option(
            DEFAULT_LANDING,
            "--landing-dir",
            envvar="PAYTRACE_SL_LANDING_DIR",
            help="Landing files of past runs.",
        ),
        gx_dir: str = typer.Option(
            DEFAULT_GX,
            "--gx-dir",
            envvar="PAYTRACE_SL_GX_DIR",
            help="Great Expectations project (Data Docs).",
        ),
        mapping_path: str | None = typer.Option(
            None, "--mapping", envvar="PAYTRACE_SL_MAPPING", help="mapping.yaml (default: data_contracts/)."
        ),
        offline: bool = typer.Option(False, "--offline", help="Do not call PayTrace; use landing data."),
    ) -> None:
        """Write the self-contained auditor report (HTML + CSV + JSON) for a date range."""
        from paytrace_sl.reconcile.report import build_report, summary_value

        first, last = _date(start, "--start"), _date(end, "--end")
        engine, client, mapping = _common(sl_url, offline, mapping_path)
        try:
            data = build_report(
                engine,
                first,
                last,
                Path(out),
                paytrace_client=client,
                landing_dir=Path(landing_dir),
                gx_dir=Path(gx_dir),
                mapping=mapping,
            )
        finally:
            engine.dispose()
            if client is not None:
                client.close()
        typer.echo(
            f"wrote {Path(out) / 'report.html'} ({len(data.tables)} tables, "
            f"{summary_value(data, 'unexplained')} unexplained exception(s))"
        )
