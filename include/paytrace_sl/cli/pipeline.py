"""``paytrace-sl sync`` and ``paytrace-sl replay``: the DAGs' steps without a scheduler.

``sync`` runs merchant day by merchant day over ``[--start, --end)``: the payment steps, then the
settlement steps, exactly as the two DAGs do, showing progress and ending with the summary table.
Re-running any range is safe: the writer's ledger posts each PayTrace transaction once.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import typer

from paytrace_sl.cli.common import END_HELP, START_HELP, AsJson, EndDay, StartDay, day_range
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE


def _config(
    sl_url: str | None,
    mapping: Path | None,
    landing_dir: Path | None,
    gx_dir: Path | None,
    lookback_hours: float | None,
) -> Any:
    from paytrace_sl.paytrace.config import PayTraceSettings
    from paytrace_sl.pipeline.runner import PipelineConfig

    # a missing or malformed setting is a ConfigurationError: one line, exit 2 (cli.common)
    settings = PayTraceSettings.from_env()
    settings.require_credentials()
    return PipelineConfig.from_env(
        sl_url=sl_url,
        paytrace=settings,
        mapping_path=mapping,
        landing_dir=landing_dir,
        gx_dir=gx_dir,
        lookback_hours=lookback_hours,
    )


def totals_table(transactions: int, totals: dict[str, Any], title: str) -> Any:
    """The summary table shared by ``sync`` and the demo (``totals`` from ``runner.totals``)."""
    from rich.table import Table

    def detail(values: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in values.items())

    recon = totals["settlement_batches"]
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    table.add_row("transactions", str(transactions), "PayTrace records created in the window(s)")
    table.add_row("posted", str(sum(totals["posted"].values())), detail(totals["posted"]) + " (SL documents)")
    table.add_row("skipped", str(sum(totals["skipped"].values())), detail(totals["skipped"]))
    with_note = int(totals.get("posted_with_note", 0))
    table.add_row(
        "review", str(totals["review"] - with_note), "waiting for a person, nothing posted (xPTReview)"
    )
    table.add_row(
        "posted with note",
        str(with_note),
        "in SL (counted in posted) with an xPTReview note: unidentified receipts, unapplied payments",
    )
    table.add_row("dead-letter", str(totals["dead_letter"]), "xPTDeadLetter rows")
    table.add_row("SL batches", str(totals["sl_batches"]), "on Hold (or Balanced); never released by us")
    table.add_row(
        "settlement batches reconciled",
        f"{recon.get('matched', 0)}/{sum(recon.values())}",
        detail(recon)
        + (
            f" ({totals['settlement_differences_explained']} explained by review/skipped items)"
            if totals.get("settlement_differences_explained")
            else ""
        ),
    )
    return table


def register(app: typer.Typer) -> None:
    """Add ``sync`` and ``replay`` to ``app``."""

    @app.command("sync")
    def sync(
        start: StartDay,
        end: EndDay,
        sl_url: str | None = typer.Option(
            None,
            "--sl-url",
            help="SL database SQLAlchemy URL (default: SL_DATABASE_URL, then dynamics_sl_default)."
            + SL_URL_HELP_NOTE,
        ),
        mapping: Path | None = typer.Option(  # noqa: B008
            None, "--mapping", help="mapping.yaml (default: data_contracts/)."
        ),
        landing_dir: Path | None = typer.Option(  # noqa: B008
            None, "--landing-dir", help="Where run files land (var/landing)."
        ),
        gx_dir: Path | None = typer.Option(  # noqa: B008
            None, "--gx-dir", help="Great Expectations root with Data Docs (var/gx)."
        ),
        lookback_hours: float | None = typer.Option(
            None, "--lookback-hours", help="Re-read this much history before each day (default: mapping)."
        ),
        settlements: bool = typer.Option(
            True, "--settlements/--no-settlements", help="Also post settlements."
        ),
        as_json: AsJson = False,
    ) -> None:
        """Run the payment (and settlement) steps for merchant days [start, end) without a scheduler.

        Exit status (docs/operations.md): 0 done (items left for a person are in the table);
        2 usage or settings; 3 SL or PayTrace down or refusing (one line on stderr).
        """
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from paytrace_sl.logging_setup import configure_logging
        from paytrace_sl.pipeline.runner import engine_for, run_settlements, run_window, totals
        from paytrace_sl.pipeline.windows import day_windows

        configure_logging("WARNING")
        first, last = day_range(start, end)
        cfg = _config(sl_url, mapping, landing_dir, gx_dir, lookback_hours)
        windows = day_windows(first, last, cfg.timezone)
        console = Console(stderr=True)
        batch = uuid.uuid4().hex[:8]
        run_ids: list[str] = []
        in_window = 0
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} days"),
            TimeElapsedColumn(), console=console, transient=False,
        ) as progress:  # fmt: skip
            task = progress.add_task("sync", total=len(windows))
            for window in windows:
                day = window.start.date().isoformat()
                progress.update(task, description=f"{day}: payments")

                def on_step(name: str, summary: dict[str, Any], day: str = day) -> None:
                    progress.update(task, description=f"{day}: {name} done")

                run_ids.append(f"sync__{day}__{batch}")
                summary = run_window(cfg, window, run_ids[-1], on_step)
                in_window += int(summary.get("in_window", 0))
                line = (
                    f"{day}: {summary['transactions']} records, {summary['posted']} posted, "
                    f"{summary['already_posted']} already posted, {summary['skipped']} skipped, "
                    f"{summary['review'] - summary.get('posted_with_note', 0)} review, "
                    f"{summary.get('posted_with_note', 0)} posted with note, "
                    f"{summary['dead_letter']} dead-letter"
                )
                if settlements:
                    progress.update(task, description=f"{day}: settlements")
                    run_ids.append(f"sync-settle__{day}__{batch}")
                    s = run_settlements(cfg, window, run_ids[-1], on_step)
                    line += f"; settlements {s['reconciled']}/{s['settlement_batches']} reconciled"
                progress.console.print(line)
                progress.advance(task)
        with engine_for(cfg) as engine:
            result = totals(engine, run_ids)
        if as_json:
            document = {"transactions": in_window, **result}
            typer.echo(json.dumps(document, indent=1, sort_keys=True, default=str))
            return
        Console().print(totals_table(in_window, result, f"paytrace-sl sync {first} → {last} (end exclusive)"))

    @app.command("replay")
    def replay_cmd(
        dead_letter_id: list[int] = typer.Option(  # noqa: B008
            [], "--dead-letter-id", help="xPTDeadLetter id to re-process (repeatable)."
        ),
        start: str | None = typer.Option(None, "--start", help=START_HELP),
        end: str | None = typer.Option(None, "--end", help=END_HELP),
        sl_url: str | None = typer.Option(
            None, "--sl-url", help="SL database SQLAlchemy URL." + SL_URL_HELP_NOTE
        ),
        mapping: Path | None = typer.Option(None, "--mapping", help="mapping.yaml."),  # noqa: B008
        landing_dir: Path | None = typer.Option(None, "--landing-dir"),  # noqa: B008
        gx_dir: Path | None = typer.Option(None, "--gx-dir"),  # noqa: B008
        as_json: AsJson = False,
    ) -> None:
        """Re-process dead letters (re-fetched by transaction id) or a date range after a fix.

        Exit status as ``sync`` (docs/operations.md).
        """
        from paytrace_sl.cli.common import EXIT_USAGE, fail
        from paytrace_sl.logging_setup import configure_logging
        from paytrace_sl.pipeline.runner import NothingToReplay, replay

        configure_logging("WARNING")
        days: tuple[dt.date, dt.date] | None = None
        if start and end:
            days = day_range(start, end)
        elif start or end or not dead_letter_id:
            raise fail(EXIT_USAGE, "give --dead-letter-id N (repeatable) or both --start and --end")
        cfg = _config(sl_url, mapping, landing_dir, gx_dir, None)
        run_id = f"replay__{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}__{uuid.uuid4().hex[:6]}"
        try:
            result = replay(
                cfg,
                run_id,
                dead_letter_ids=dead_letter_id,
                start=days[0] if days else None,
                end=days[1] if days else None,
            )
        except NothingToReplay as exc:
            # done, nothing to do: every letter named is already closed (exit 0, the message says when)
            if as_json:
                typer.echo(json.dumps({"nothing_to_replay": str(exc)}, indent=1, sort_keys=True))
            else:
                typer.echo(str(exc))
            return
        if as_json:
            typer.echo(json.dumps(result, indent=1, sort_keys=True, default=str))
            return
        for key in sorted(result):
            typer.echo(f"{key}: {result[key]}")
