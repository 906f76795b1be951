"""``paytrace-sl customers …``: vault profiles, their SL links and suggestions, expiring cards.

* ``customers sync [--day D]`` — the ``paytrace_customers_to_sl`` DAG's steps for one merchant day;
* ``customers list [--pending]`` — stored profiles (masked card only) with link or suggestion;
* ``customers link PAYTRACE_ID CUST_ID`` — a person's decision: profile → SL customer (+ xref row);
* ``customers suggest --name … [--email …]`` — what the matcher proposes for a payer;
* ``customers expiring [--as-of D] [--days N]`` — vault cards expiring for customers with open invoices.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import typer

from paytrace_sl.cli.common import EXIT_FINDINGS, EXIT_USAGE, AsJson, fail, parse_day, sl_engine
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE

SL_URL_HELP = (
    "SL database SQLAlchemy URL (default: SL_DATABASE_URL, then dynamics_sl_default)." + SL_URL_HELP_NOTE
)


def _print(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        for line in lines:
            typer.echo(line)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="PayTrace vault profiles ↔ SL customers (docs/customers.md).", no_args_is_help=True
    )
    app.add_typer(group, name="customers")

    @group.command("sync")
    def sync(
        day: str | None = typer.Option(
            None, "--day", help="Merchant-local day, YYYY-MM-DD (default: yesterday)", show_default=False
        ),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        mapping: Path | None = typer.Option(  # noqa: B008
            None, "--mapping", help="mapping.yaml (default: data_contracts/)."
        ),
        landing_dir: Path | None = typer.Option(  # noqa: B008
            None, "--landing-dir", help="Where run files land."
        ),
        as_json: AsJson = False,
    ) -> None:
        """Export the vault, store and link every profile, list expiring cards (one merchant day)."""
        from paytrace_sl.customers.steps import DAG_ID, run_customers
        from paytrace_sl.paytrace.config import PayTraceSettings
        from paytrace_sl.pipeline.runner import PipelineConfig, with_dag
        from paytrace_sl.pipeline.windows import day_window

        settings = PayTraceSettings.from_env()
        settings.require_credentials()
        cfg = with_dag(
            PipelineConfig.from_env(
                sl_url=sl_url, paytrace=settings, mapping_path=mapping, landing_dir=landing_dir
            ),
            DAG_ID,
        )
        the_day = parse_day(day, "--day") if day else None
        if the_day is None:
            from zoneinfo import ZoneInfo

            the_day = dt.datetime.now(ZoneInfo(cfg.timezone)).date() - dt.timedelta(days=1)
        run_id = f"{DAG_ID}__cli__{the_day.isoformat()}__{uuid.uuid4().hex[:8]}"
        out = run_customers(cfg, day_window(the_day, cfg.timezone), run_id)
        link = out["link_profiles"]
        _print(
            out,
            as_json,
            [
                f"vault profiles: {link['fetched']} fetched, {link['new']} new, {link['changed']} changed, "
                f"{link['deactivated']} no longer in the vault, {link['dead_lettered']} dead-lettered",
                f"linked now: {link['linked'] or 'none'}; waiting with a suggestion: {link['suggested']}; "
                f"no match: {link['unmatched']}; SL customers created: {link['created']}",
                f"cards expiring within {out['expiring_cards']['days']} days for customers with open "
                f"invoices: {out['expiring_cards']['expiring']}",
            ],
        )
        if link["dead_lettered"] or link["not_created"]:
            raise typer.Exit(EXIT_FINDINGS)

    @group.command("list")
    def list_profiles(
        pending: bool = typer.Option(False, "--pending", help="Only profiles without an SL customer."),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        as_json: AsJson = False,
    ) -> None:
        """Stored vault profiles with their SL customer, or the suggestion waiting for a person."""
        import sqlalchemy as sa

        from paytrace_sl.sl.own_tables import xPTVaultProfile as v

        with sl_engine(sl_url, install=True) as engine:
            query = sa.select(
                v.c.paytrace_customer_id, v.c.name, v.c.email, v.c.masked_card, v.c.exp_month, v.c.exp_year,
                v.c.cust_id, v.c.link_source, v.c.suggested_cust_id, v.c.score, v.c.agreed,
            ).where(v.c.active == 1)  # fmt: skip
            if pending:
                query = query.where(v.c.cust_id.is_(None))
            with engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(query.order_by(v.c.paytrace_customer_id))]
        for r in rows:
            r["score"] = None if r["score"] is None else float(r["score"])
        _print(
            rows,
            as_json,
            [
                f"{r['paytrace_customer_id']:<16} {r['name'][:30]:<30} {r['masked_card']:<17} "
                + (
                    f"→ {r['cust_id']} ({r['link_source']})"
                    if r["cust_id"]
                    else f"? {r['suggested_cust_id']} score {r['score']} agreed {r['agreed']}"
                    if r["suggested_cust_id"]
                    else "no match"
                )
                for r in rows
            ],
        )

    @group.command("link")
    def link(
        paytrace_customer_id: str = typer.Argument(..., help="PayTrace vault customer id"),
        cust_id: str = typer.Argument(..., help="SL CustId"),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
    ) -> None:
        """Link a vault profile to an SL customer (also the cross-reference payments use)."""
        from paytrace_sl.customers.sync import LinkError, link_manually

        with sl_engine(sl_url, install=True) as engine:
            try:
                link_manually(engine, paytrace_customer_id, cust_id.strip())
            except LinkError as exc:  # a profile or customer that does not exist: the arguments are wrong
                raise fail(EXIT_USAGE, str(exc)) from None
        typer.echo(f"linked {paytrace_customer_id} → {cust_id.strip()}")

    @group.command("suggest")
    def suggest(
        name: str | None = typer.Option(None, "--name"),
        email: str | None = typer.Option(None, "--email"),
        phone: str | None = typer.Option(None, "--phone"),
        postal_code: str | None = typer.Option(None, "--postal-code"),
        address: str | None = typer.Option(None, "--address"),
        paytrace_customer_id: str | None = typer.Option(None, "--paytrace-id"),
        limit: int = typer.Option(3, "--limit"),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        as_json: AsJson = False,
    ) -> None:
        """The SL customers the matcher proposes for a payer, best first, with score and agreeing fields."""
        from dataclasses import asdict

        from paytrace_sl.customers.suggest import build_suggester
        from paytrace_sl.suggestion import PayerFacts

        with sl_engine(sl_url, install=True) as engine:
            suggester = build_suggester(engine)  # the thresholds of mapping.yaml, as the sync uses
        facts = PayerFacts(paytrace_customer_id, name, email, phone, postal_code, address)
        found = suggester.suggest(facts, limit=limit)
        _print(
            [asdict(s) for s in found],
            as_json,
            [
                f"{s.cust_id:<15} {s.score:.3f} {s.source:<6} {'auto-link' if s.auto_link else 'suggest':<9} "
                f"agreed: {', '.join(s.agreed) or '-'}"
                for s in found
            ]
            or ["no SL customer scores above the suggestion threshold"],
        )

    @group.command("expiring")
    def expiring(
        as_of: str | None = typer.Option(
            None, "--as-of", help="Day to count from (default: today, merchant-local)"
        ),
        days: int | None = typer.Option(None, "--days", help="Window in days (default: mapping, 30)"),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        as_json: AsJson = False,
    ) -> None:
        """Vault cards expiring within N days for customers with open invoices."""
        from paytrace_sl.customers.expiring import expiring_cards
        from paytrace_sl.paytrace.config import PayTraceSettings
        from paytrace_sl.pipeline.mapping import load_mapping
        from paytrace_sl.settings import mapping_path

        window = days if days is not None else load_mapping(mapping_path(None)).customers.expiring_days
        # today in the merchant's zone, as the DAG's expiring_cards step counts (not the server's zone)
        today = (
            parse_day(as_of, "--as-of") if as_of else dt.datetime.now(PayTraceSettings.from_env().tz).date()
        )
        with sl_engine(sl_url, install=True) as engine, engine.connect() as conn:
            cards = expiring_cards(conn, today, window)
        _print(
            [c.as_dict() for c in cards],
            as_json,
            [
                f"{c.cust_id:<15} {c.name[:30]:<30} {c.masked_card:<17} "
                f"{'EXPIRED' if c.expired else 'expires'} {c.expires} "
                f"open: {c.open_invoices} invoice(s), {c.open_balance}"
                for c in cards
            ]
            or [f"no vault card expires within {window} days for a customer with open invoices"],
        )
