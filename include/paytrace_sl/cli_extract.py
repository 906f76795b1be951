"""``paytrace-sl extract``: pull a window of PayTrace transactions into a JSONL landing file."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated

import typer

from paytrace_sl.redaction import redact_text
from paytrace_sl.secret_inputs import CREDENTIAL_FLAG_NOTE

EXIT_FAILED = 1
EXIT_REJECTS = 3  # the extract completed but some records could not be parsed (see the rejects file)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


def _fail(message: str) -> typer.Exit:
    """One line on stderr, scrubbed, no traceback."""
    typer.echo(f"error: {redact_text(' '.join(message.split()))}", err=True)
    return typer.Exit(EXIT_FAILED)


def extract(
    start: Annotated[str, typer.Option("--start", help="First merchant-local day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option("--end", help="Day after the last one, YYYY-MM-DD (exclusive).")],
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
) -> None:
    """Export PayTrace transactions created in merchant days START (inclusive) to END (exclusive).

    Settings: flags, then PAYTRACE_* variables, then AIRFLOW_CONN_PAYTRACE_DEFAULT.

    Records that cannot be parsed go to OUT.rejects.jsonl with the reason.

    Exit status: 0 success; 1 failure (one-line reason on stderr); 3 finished with rejected records.
    """
    from paytrace_sl.logging_setup import configure_logging
    from paytrace_sl.paytrace.client import PayTraceClient
    from paytrace_sl.paytrace.config import PayTraceSettings
    from paytrace_sl.paytrace.errors import PayTraceError
    from paytrace_sl.paytrace.extract import extract_window
    from paytrace_sl.settings import ConfigurationError

    configure_logging(log_level)
    start_day, end_day = _date(start), _date(end)
    if end_day <= start_day:
        raise _fail(f"--end ({end_day}) must be after --start ({start_day}); the end day is exclusive")
    try:
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
        with PayTraceClient(settings) as client:
            summary = extract_window(client, start_day, end_day, out, include_declined=declined_export)
    except (PayTraceError, ConfigurationError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted") from None
    except Exception as exc:  # the last line of defence: still one scrubbed line, no traceback
        logging.getLogger(__name__).debug("unexpected failure", exc_info=True)
        raise _fail(f"unexpected {type(exc).__name__}: {exc}") from None
    for line in summary.report_lines():
        typer.echo(line)
    if summary.failures:
        raise typer.Exit(EXIT_REJECTS)


def register(app: typer.Typer) -> None:
    """Add ``extract`` to the ``paytrace-sl`` app."""
    app.command("extract")(extract)
