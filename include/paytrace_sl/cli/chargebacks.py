"""``paytrace-sl chargebacks import FILE``: a processor's chargeback/retrieval report into SL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from paytrace_sl.cli.common import EXIT_FINDINGS, EXIT_USAGE, AsJson, fail, sl_engine
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE


def import_cmd(
    file: Annotated[Path, typer.Argument(help="The chargeback report (CSV; layout in mapping.yaml).")],
    sl_url: Annotated[
        str | None,
        typer.Option(
            "--sl-url",
            help="SQLAlchemy URL of the SL database (default: $SL_DATABASE_URL, then the Airflow "
            "connection dynamics_sl_default)." + SL_URL_HELP_NOTE,
            show_default=False,
        ),
    ] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", help="mapping.yaml.")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Run id recorded on the rows.")] = None,
    as_json: AsJson = False,
) -> None:
    """Import one chargeback file: each case stage posted to SL exactly once (docs/accounting.md §9).

    Exit status: 0 every row posted (or already posted); 1 rows went to review, were refused (closed
    period) or to the dead-letter table;
    2 usage (unreadable file or mapping); 3 SL down or refusing.
    """
    import datetime as dt

    from paytrace_sl import settings
    from paytrace_sl.chargebacks import ChargebackFileError, import_chargeback_file
    from paytrace_sl.pipeline.mapping import load_mapping

    if not file.is_file():
        raise fail(EXIT_USAGE, f"{file}: no such file")
    loaded = load_mapping(settings.mapping_path(mapping))
    run = run_id or f"chargebacks__{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    with sl_engine(sl_url) as engine:
        try:
            summary = import_chargeback_file(engine, file, loaded, run_id=run)
        except ChargebackFileError as exc:
            raise fail(EXIT_USAGE, str(exc)) from None
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        d = summary.as_dict()
        typer.echo(
            f"{d['file']}: {d['data_rows']} row(s): "
            + ", ".join(f"{k} {v}" for k, v in d["outcomes"].items())
            + f"; duplicates {d['duplicates']}; dead letters {d['dead_letters']}"
        )
        for batch in d["batches"]:
            typer.echo(f"  SL batch {batch}")
        for problem in summary.problems:
            typer.echo(f"  dead letter: {problem}")
    if summary.problems or summary.outcomes.get("review") or summary.outcomes.get("refused"):
        raise typer.Exit(EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Chargebacks and retrievals from the processor's files.", no_args_is_help=True)
    sub.command("import")(import_cmd)
    app.add_typer(sub, name="chargebacks")
