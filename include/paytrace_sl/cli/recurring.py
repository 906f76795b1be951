"""``paytrace-sl recurring …``: PayTrace recurring schedules (issue 16 §3, docs/recurring.md).

``refresh`` mirrors the schedules and their approved payments into ``xPTRecurSched`` / ``xPTRecurPay``
and links each schedule to its SL customer; ``show`` lists upcoming and failed recurring charges. Neither
posts anything: the charges post through the normal payment path (``paytrace-sl sync``).
"""

from __future__ import annotations

import datetime as dt
import json

import typer

from paytrace_sl import settings
from paytrace_sl.cli.common import EXIT_FINDINGS, EXIT_OK, AsJson, parse_day, sl_engine
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE

SL_URL_HELP = "SL database SQLAlchemy URL." + SL_URL_HELP_NOTE


def register(app: typer.Typer) -> None:
    """Add the ``recurring`` group to ``app``."""
    group = typer.Typer(
        help="PayTrace recurring schedules: refresh the mirror, show upcoming/failed charges."
    )
    app.add_typer(group, name="recurring")

    @group.command("refresh")
    def refresh_cmd(
        customer: str | None = typer.Option(None, "--customer", help="Only this PayTrace customer id."),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        mapping_path: str | None = typer.Option(
            None, "--mapping", help="mapping.yaml (PAYTRACE_SL_MAPPING, data_contracts/mapping.yaml)."
        ),
        as_json: AsJson = False,
    ) -> None:
        """Export PayTrace's schedules and approved recurring payments into xPTRecurSched/xPTRecurPay.

        Exit status: 0 done; 1 a schedule is linked to no SL customer or a record was dead-lettered;
        2 usage or settings; 3 SL or PayTrace down.
        """
        from paytrace_sl.paytrace.client import PayTraceClient
        from paytrace_sl.paytrace.config import PayTraceSettings
        from paytrace_sl.pipeline.mapping import load_mapping
        from paytrace_sl.pipeline.recurring import link_strategies, refresh_recurring

        pt = PayTraceSettings.from_env()
        strategies = link_strategies(load_mapping(settings.mapping_path(mapping_path)))
        with sl_engine(sl_url) as engine, PayTraceClient(pt) as client:
            result = refresh_recurring(client, engine, pt.tz, customer_id=customer, strategies=strategies)
        if as_json:
            typer.echo(json.dumps(result.to_json_dict(), sort_keys=True))
        else:
            typer.echo(
                f"recurring schedules: {result.schedules} ({result.linked} linked, {result.unlinked} "
                f"unlinked, {result.removed} removed); approved payments: {result.payments_new} new, "
                f"{result.payments_known} known; dead letters: {result.dead_letters}"
            )
        raise typer.Exit(EXIT_FINDINGS if result.unlinked or result.dead_letters else EXIT_OK)

    @group.command("show")
    def show_cmd(
        today: str | None = typer.Option(
            None, "--today", help="Merchant-local day to look ahead from, YYYY-MM-DD (default: today)."
        ),
        days: int = typer.Option(14, "--days", min=1, max=366, help="Look-ahead for upcoming charges."),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        as_json: AsJson = False,
    ) -> None:
        """Upcoming recurring charges and failed ones, from the last refresh.

        Exit status: 0 nothing failed; 1 a schedule's latest charge failed; 2 usage or settings (also
        when the recurring tables are not installed: run `paytrace-sl sl install`); 3 SL down.
        """
        from paytrace_sl.paytrace.config import PayTraceSettings
        from paytrace_sl.pipeline.recurring import recurring_overview
        from paytrace_sl.settings import ConfigurationError

        day = parse_day(today, "--today") if today else dt.datetime.now(PayTraceSettings.from_env().tz).date()
        with sl_engine(sl_url) as engine, engine.connect() as conn:
            view = recurring_overview(conn, day, days)
        if view is None:
            raise ConfigurationError("the recurring tables are missing: run `paytrace-sl sl install` first")
        if as_json:
            typer.echo(json.dumps(view.to_json_dict(), sort_keys=True))
        else:
            typer.echo(
                f"{view.schedules} schedule(s), {view.active} active, {view.unlinked} unlinked; "
                f"upcoming {day}..{day + dt.timedelta(days=days)}: {len(view.upcoming)} "
                f"totalling {view.upcoming_total}; failed: {len(view.failed)}"
            )
            for c in view.upcoming:
                typer.echo(
                    f"  upcoming {c.next_date} #{c.recurrence_id} {c.paytrace_customer_id} -> "
                    f"{c.cust_id or '(unlinked)'} {c.amount} {c.frequency}"
                )
            for c in view.failed:
                typer.echo(
                    f"  FAILED #{c.recurrence_id} {c.paytrace_customer_id} -> {c.cust_id or '(unlinked)'} "
                    f"{c.amount} at {c.last_result_at}: {c.last_message}"
                )
        raise typer.Exit(EXIT_FINDINGS if view.failed else EXIT_OK)
