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

from paytrace_sl import settings
from paytrace_sl.cli.common import EXIT_FINDINGS, EXIT_OK, AsJson, EndDay, StartDay, day_range
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE
from paytrace_sl.settings import resolve_sl_url


def _days(start: str, end: str) -> tuple[dt.date, dt.date]:
    """``--start``/``--end`` (end exclusive, as everywhere) → the first and *last* day the library takes."""
    first, stop = day_range(start, end)
    return first, stop - dt.timedelta(days=1)


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

    return load_mapping(settings.mapping_path(path))


def _common(sl_url: str | None, offline: bool, mapping_path: str | None) -> tuple[Any, Any | None, Any]:
    from paytrace_sl.sl.engine import create_sl_engine

    url = resolve_sl_url(sl_url)  # a ConfigurationError is one line and exit 2 (cli.common)
    return create_sl_engine(url), _client(offline), _mapping(mapping_path)


def register(app: typer.Typer) -> None:
    """Add ``reconcile`` and ``report`` to ``app``."""

    @app.command("reconcile")
    def reconcile_cmd(
        start: StartDay,
        end: EndDay,
        sl_url: str | None = typer.Option(
            None, "--sl-url", help="SL database SQLAlchemy URL." + SL_URL_HELP_NOTE
        ),
        as_json: AsJson = False,
        landing_dir: str | None = typer.Option(
            None, "--landing-dir", help="Landing files of past runs (PAYTRACE_SL_LANDING_DIR, var/landing)."
        ),
        mapping_path: str | None = typer.Option(
            None, "--mapping", help="mapping.yaml (PAYTRACE_SL_MAPPING, data_contracts/mapping.yaml)."
        ),
        offline: bool = typer.Option(False, "--offline", help="Do not call PayTrace; use landing data."),
    ) -> None:
        """Reconcile PayTrace with SL for a date range; exit 1 when anything is unexplained.

        Exit status (docs/operations.md): 0 all explained; 1 unexplained differences; 2 usage or
        settings; 3 SL or PayTrace down (one line on stderr).
        """
        from paytrace_sl.reconcile.engine import reconcile

        first, last = _days(start, end)
        engine, client, mapping = _common(sl_url, offline, mapping_path)
        try:
            report = reconcile(
                engine,
                first,
                last,
                paytrace_client=client,
                landing_dir=settings.landing_dir(landing_dir),
                mapping=mapping,
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
        raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)

    @app.command("report")
    def report_cmd(
        start: StartDay,
        end: EndDay,
        out: str = typer.Option(..., "--out", help="Directory for report.html and the CSV/JSON tables."),
        sl_url: str | None = typer.Option(
            None, "--sl-url", help="SL database SQLAlchemy URL." + SL_URL_HELP_NOTE
        ),
        landing_dir: str | None = typer.Option(
            None, "--landing-dir", help="Landing files of past runs (PAYTRACE_SL_LANDING_DIR, var/landing)."
        ),
        gx_dir: str | None = typer.Option(
            None, "--gx-dir", help="Great Expectations project, Data Docs (PAYTRACE_SL_GX_DIR, var/gx)."
        ),
        mapping_path: str | None = typer.Option(
            None, "--mapping", help="mapping.yaml (PAYTRACE_SL_MAPPING, data_contracts/mapping.yaml)."
        ),
        offline: bool = typer.Option(False, "--offline", help="Do not call PayTrace; use landing data."),
        as_json: AsJson = False,
    ) -> None:
        """Write the self-contained auditor report (HTML + CSV + JSON) for a date range.

        Exit status (docs/operations.md): 0 written (unexplained differences are in the report; gate on
        ``reconcile``); 2 usage or settings; 3 SL or PayTrace down (one line on stderr).
        """
        from paytrace_sl.reconcile.report import build_report, summary_value

        first, last = _days(start, end)
        engine, client, mapping = _common(sl_url, offline, mapping_path)
        try:
            data = build_report(
                engine,
                first,
                last,
                Path(out),
                paytrace_client=client,
                landing_dir=settings.landing_dir(landing_dir),
                gx_dir=settings.gx_dir(gx_dir),
                mapping=mapping,
            )
        finally:
            engine.dispose()
            if client is not None:
                client.close()
        if as_json:
            document = {
                "report": str(Path(out) / "report.html"),
                "first_day": first.isoformat(),
                "last_day": last.isoformat(),
                "tables": len(data.tables),
                "unexplained": summary_value(data, "unexplained"),
            }
            typer.echo(json.dumps(document, indent=1, default=str))
            return
        typer.echo(
            f"wrote {Path(out) / 'report.html'} ({len(data.tables)} tables, "
            f"{summary_value(data, 'unexplained')} unexplained exception(s))"
        )
