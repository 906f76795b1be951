"""``paytrace-sl extract``: pull a window of PayTrace transactions into a JSONL landing file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from paytrace_sl.cli.common import EXIT_FINDINGS, AsJson, EndDay, StartDay, day_range
from paytrace_sl.secret_inputs import CREDENTIAL_FLAG_NOTE

EXIT_REJECTS = EXIT_FINDINGS  # the extract completed but some records could not be parsed (rejects file)


def extract(
    start: StartDay,
    end: EndDay,
    out: Annotated[
        Path, typer.Option("--out", help="JSONL file to write, one normalized transaction a line.")
    ],
    url: Annotated[
        str | None, typer.Option("--url", envvar="PAYTRACE_URL", help="PayTrace base URL.")
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", envvar="PAYTRACE_USERNAME", help="PayTrace API user.")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", envvar="PAYTRACE_PASSWORD", help="API password." + CREDENTIAL_FLAG_NOTE),
    ] = None,
    integrator_id: Annotated[
        str | None,
        typer.Option(
            "--integrator-id", envvar="PAYTRACE_INTEGRATOR_ID", help="Integrator id sent on every call."
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone", envvar="PAYTRACE_TIMEZONE", help="Merchant time zone (America/Los_Angeles)."
        ),
    ] = None,
    max_span_days: Annotated[
        int | None, typer.Option("--max-span-days", help="Days per request (1).")
    ] = None,
    requests_per_second: Annotated[
        float | None, typer.Option("--requests-per-second", help="Request pacing (5).")
    ] = None,
    overlap_days: Annotated[
        int | None,
        typer.Option("--overlap-days", help="Widen each export by N days per side, keep the window (0)."),
    ] = None,
    declined_export: Annotated[
        bool,
        typer.Option(
            "--declined-export/--no-declined-export",
            help="Also run the DECLINED export (declines never missed).",
        ),
    ] = True,
    max_attempts: Annotated[
        int | None, typer.Option("--max-attempts", help="Tries per request, retries included (5).")
    ] = None,
    max_retry_seconds: Annotated[
        float | None, typer.Option("--max-retry-seconds", help="Time budget per request incl. retries (120).")
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="DEBUG, INFO, WARNING (shows retries) or ERROR.")
    ] = "ERROR",
    as_json: AsJson = False,
) -> None:
    """Export PayTrace transactions created in merchant days START (inclusive) to END (exclusive).

    Settings: flags, then PAYTRACE_* variables, then AIRFLOW_CONN_PAYTRACE_DEFAULT.

    Records that cannot be parsed go to OUT.rejects.jsonl with the reason.

    Exit status (as every command, docs/operations.md): 0 done; 1 done with rejected records;
    2 usage or settings; 3 PayTrace unreachable or refused (one line on stderr).
    """
    from paytrace_sl.logging_setup import configure_logging
    from paytrace_sl.paytrace.client import PayTraceClient
    from paytrace_sl.paytrace.config import PayTraceSettings
    from paytrace_sl.paytrace.extract import extract_window

    configure_logging(log_level)
    start_day, end_day = day_range(start, end)
    # expected failures (settings, PayTrace down or refusing) become one line: cli.common
    settings = PayTraceSettings.from_env(
        url=url,
        username=username,
        password=password,
        integrator_id=integrator_id,
        timezone=timezone,
        max_span_days=max_span_days,
        requests_per_second=requests_per_second,
        max_attempts=max_attempts,
        overlap_days=overlap_days,
        max_retry_seconds=max_retry_seconds,
    )
    with PayTraceClient(settings, stream_exports=True) as client:
        summary = extract_window(client, start_day, end_day, out, include_declined=declined_export)
    if as_json:
        typer.echo(json.dumps(summary.to_json_dict(), indent=1, sort_keys=True))
    else:
        for line in summary.report_lines():
            typer.echo(line)
    if summary.failures:
        raise typer.Exit(EXIT_REJECTS)


def register(app: typer.Typer) -> None:
    """Add ``extract`` to the ``paytrace-sl`` app."""
    app.command("extract")(extract)
