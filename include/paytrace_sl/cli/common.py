"""What every ``paytrace-sl`` command shares: the date-range meaning, ``--json``, exit codes, errors.

Why one place: each command used to parse its own dates (``--end`` exclusive here, inclusive there),
pick its own exit codes and print (or not) a traceback. Now:

* ``--start`` is the first merchant-local day (inclusive) and ``--end`` the day *after* the last one
  (exclusive), for every command, as Airflow's data intervals are.
* Exit codes (docs/operations.md):

  ====  ===================================================================================
  0     done, nothing needs a person
  1     done, with findings a person must look at (unexplained differences, preflight or schema
        findings, PCI findings, rejected records)
  2     usage or configuration: a bad flag or date, a missing setting, an invalid mapping file
  3     environment: something the command needs failed or refused (SL or PayTrace down,
        credentials refused, SL's release preflight refused a batch, SL setup data unusable)
  4     internal error (a bug): the only case that prints a Python traceback
  130   interrupted (Ctrl-C)
  ====  ===================================================================================

* An expected failure (any :class:`~paytrace_sl.errors.PaytraceSlError`, an unreachable database or
  API) is one scrubbed ``error: …`` line on stderr that names the problem, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    import sqlalchemy as sa

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130

START_HELP = "First merchant-local day, YYYY-MM-DD (inclusive)."
END_HELP = (
    "Day after the last one, YYYY-MM-DD (exclusive, as in every paytrace-sl command: "
    "--start 2025-04-01 --end 2025-04-08 is one week)."
)
JSON_HELP = "Print the result as one JSON document on stdout (errors stay one line on stderr)."

StartDay = Annotated[str, typer.Option("--start", help=START_HELP, show_default=False)]
EndDay = Annotated[str, typer.Option("--end", help=END_HELP, show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help=JSON_HELP)]


def parse_day(value: str, flag: str) -> dt.date:
    """``YYYY-MM-DD`` or a one-line usage error (exit 2) naming the flag."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(EXIT_USAGE, f"{flag}: expected YYYY-MM-DD, got {value!r}") from None


def day_range(start: str, end: str) -> tuple[dt.date, dt.date]:
    """``(first day, end day exclusive)``; a one-line usage error (exit 2) unless ``end`` > ``start``."""
    first, stop = parse_day(start, "--start"), parse_day(end, "--end")
    if stop <= first:
        raise fail(EXIT_USAGE, f"--end ({stop}) must be after --start ({first}); the end day is exclusive")
    return first, stop


@contextmanager
def sl_engine(sl_url: str | None, *, install: bool = False) -> Iterator[sa.Engine]:
    """An engine on the SL database (``--sl-url``, else the settings), disposed on exit; ``install``
    first brings our xPT* tables to the current schema version. A missing URL is a one-line exit 2."""
    from paytrace_sl.settings import resolve_sl_url
    from paytrace_sl.sl.engine import create_sl_engine

    engine = create_sl_engine(resolve_sl_url(sl_url))
    try:
        if install:
            from paytrace_sl.sl.own_tables import install as install_tables

            install_tables(engine)
        yield engine
    finally:
        engine.dispose()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def describe_failure(exc: BaseException) -> tuple[int, str] | None:
    """``(exit code, message)`` for an expected failure, or None for a bug (keep its traceback)."""
    from paytrace_sl.errors import PaytraceSlError, is_transient
    from paytrace_sl.pipeline.yamlsource import ConfigFileError
    from paytrace_sl.settings import ConfigurationError

    if isinstance(exc, ConfigurationError | ConfigFileError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, PaytraceSlError):
        suffix = " (transient: it may succeed if run again later)" if is_transient(exc) else ""
        return EXIT_ENVIRONMENT, f"{exc}{suffix}"
    import requests
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        # the driver's own first line names the host/database; never the SQL text or its parameters
        orig = exc.orig if exc.orig is not None else exc
        return EXIT_ENVIRONMENT, f"SL database: {type(orig).__name__}: {_first_line(str(orig))}"
    if isinstance(exc, sqlalchemy.exc.ArgumentError | sqlalchemy.exc.NoSuchModuleError):
        return EXIT_USAGE, f"SL database URL: {_first_line(str(exc))}"
    if isinstance(exc, requests.RequestException):
        return EXIT_ENVIRONMENT, f"PayTrace: {type(exc).__name__}: {_first_line(str(exc))}"
    if isinstance(exc, OSError):
        return EXIT_ENVIRONMENT, f"{type(exc).__name__}: {exc}"
    return None


def fail(code: int, message: str) -> typer.Exit:
    """Print ``error: message`` (scrubbed; first line, details indented below) and return the Exit."""
    from paytrace_sl.redaction import redact_text

    lines = [line.rstrip() for line in redact_text(str(message)).splitlines() if line.strip()]
    head = " ".join((lines[0] if lines else "failed").split())
    typer.echo(f"error: {head}", err=True)
    for line in lines[1:]:
        typer.echo(f"  {line.strip()}", err=True)
    return typer.Exit(code)


class ErrorHandlingGroup(TyperGroup):
    """The root command group: turns expected failures into one line and an exit code from the table."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise  # click's own control flow: --help, usage errors (exit 2), explicit exits
        except KeyboardInterrupt:
            raise fail(EXIT_INTERRUPTED, "interrupted") from None
        except Exception as exc:
            described = describe_failure(exc)
            if described is not None:
                raise fail(*described) from None
            from paytrace_sl.redaction import redact_text

            text = "".join(traceback.format_exception(exc))
            sys.stderr.write(redact_text(text))
            typer.echo(f"error: internal error {type(exc).__name__} (a bug: please report it)", err=True)
            raise typer.Exit(EXIT_INTERNAL) from None
