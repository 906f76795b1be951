"""``paytrace-sl review …``: the review workbench at the command line (list, show, resolve, dismiss,
apply-suggestions).

Exit codes as every command (cli/common.py): 0 done; 1 ``resolve`` ran but the transaction was not
posted (the item stays open, the message says why); 2 an unknown or closed item, an unknown customer or
invoice, a missing reason; 3 SL or PayTrace down or refusing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from paytrace_sl.cli.common import EXIT_FINDINGS, EXIT_USAGE, AsJson, fail, sl_engine
from paytrace_sl.secret_inputs import SL_URL_HELP_NOTE

review_app = typer.Typer(
    help="Review workbench: list, show, resolve (post for a chosen customer) and dismiss xPTReview items.",
    no_args_is_help=True,
)

SL_URL_HELP = "SL database SQLAlchemy URL." + SL_URL_HELP_NOTE
BY_HELP = "Who acts (recorded on the item); default $PAYTRACE_SL_OPERATOR, else the login name."


def _review_errors(exc: Exception) -> typer.Exit:
    from paytrace_sl.review.resolve import ResolveNotPosted

    return fail(EXIT_FINDINGS if isinstance(exc, ResolveNotPosted) else EXIT_USAGE, str(exc))


def _who(by: str | None) -> str:
    from paytrace_sl.settings import operator_name

    return f"cli:{operator_name(by)}"


def _amount(item: Any) -> str:
    return "" if item.amount is None else f"{item.amount:.2f}"


def register(app: typer.Typer) -> None:
    @review_app.command("list")
    def list_cmd(
        reason: str | None = typer.Option(None, "--reason", help="Only items with this reason code."),
        older_than: str | None = typer.Option(
            None, "--older-than", help="Only items at least this old: days, or 3d / 12h / 90m."
        ),
        include_closed: bool = typer.Option(False, "--all", help="Closed items too (how, who, why)."),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        as_json: AsJson = False,
    ) -> None:
        """The queue: oldest first, then the larger amount."""
        from paytrace_sl.review.store import ReviewError, list_items, parse_age

        try:
            age = parse_age(older_than) if older_than else None
        except ReviewError as exc:
            raise fail(EXIT_USAGE, f"--older-than: {exc}") from None
        with sl_engine(sl_url, install=True) as engine:
            items = list_items(engine, reason=reason, older_than=age, include_closed=include_closed)
        if as_json:
            typer.echo(json.dumps([i.to_json_dict() for i in items], indent=1, sort_keys=True, default=str))
            return
        if not items:
            typer.echo("no review items" + (" with reason " + reason if reason else ""))
            return
        for i in items:
            state = "open" if i.is_open else f"{i.closed_how} by {i.resolved_by}"
            typer.echo(
                f"{i.id:>6}  {i.created_at:%Y-%m-%d %H:%M}  {_amount(i):>10}  {i.transaction_id or '-':>10}  "
                f"{i.reason_code:<24} {state}  {i.reason[:80]}"
            )

    @review_app.command("show")
    def show_cmd(
        item_id: int = typer.Argument(..., help="xPTReview id."),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        as_json: AsJson = False,
    ) -> None:
        """One item with the suggested SL customers (score and the facts that agreed)."""
        from paytrace_sl.review.store import ReviewError, get_item
        from paytrace_sl.review.suggest import default_suggester

        with sl_engine(sl_url, install=True) as engine:
            try:
                item = get_item(engine, item_id)
            except ReviewError as exc:
                raise _review_errors(exc) from None
            suggestions = default_suggester(engine).suggest(item.payer()) if item.is_open else []
        if as_json:
            document = item.to_json_dict()
            document["suggestions"] = [
                {"cust_id": s.cust_id, "score": s.score, "agreed": list(s.agreed), "source": s.source,
                 "auto_link": s.auto_link}
                for s in suggestions
            ]  # fmt: skip
            typer.echo(json.dumps(document, indent=1, sort_keys=True, default=str))
            return
        data = item.to_json_dict()
        for key in ("id", "transaction_id", "reason_code", "reason", "amount", "created_at", "run_id"):
            typer.echo(f"{key}: {data[key] if data[key] is not None else ''}")
        for key, value in sorted(item.details.items()):
            typer.echo(f"details.{key}: {value}")
        if not item.is_open:
            for key in ("closed_how", "resolved_by", "resolved_at", "closed_why", "resolution"):
                typer.echo(f"{key}: {data[key] if data[key] is not None else ''}")
            return
        if not suggestions:
            typer.echo("suggestions: none")
        for s in suggestions:
            typer.echo(
                f"suggestion: {s.cust_id} score {s.score:.2f} ({s.source}; agreed: {', '.join(s.agreed)})"
            )

    @review_app.command("resolve")
    def resolve_cmd(
        item_id: int = typer.Argument(..., help="xPTReview id."),
        customer: str = typer.Option(..., "--customer", help="SL CustId the payment belongs to."),
        invoice: str | None = typer.Option(None, "--invoice", help="SL invoice RefNbr to apply it to."),
        remember: bool = typer.Option(
            False, "--remember", help="Also map this PayTrace customer to the SL customer (xPTCustXref)."
        ),
        by: str | None = typer.Option(None, "--by", help=BY_HELP),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        mapping: Path | None = typer.Option(None, "--mapping", help="mapping.yaml."),  # noqa: B008
        landing_dir: Path | None = typer.Option(None, "--landing-dir"),  # noqa: B008
        gx_dir: Path | None = typer.Option(None, "--gx-dir"),  # noqa: B008
        as_json: AsJson = False,
    ) -> None:
        """Post the item's PayTrace transaction for CUSTID (ledger, preflight, exactly once); close it."""
        from paytrace_sl.cli.pipeline import _config
        from paytrace_sl.logging_setup import configure_logging
        from paytrace_sl.review.resolve import resolve
        from paytrace_sl.review.store import ReviewError

        configure_logging("WARNING")
        cfg = _config(sl_url, mapping, landing_dir, gx_dir, None)
        try:
            result = resolve(cfg, item_id, cust_id=customer, invoice=invoice, remember=remember, who=_who(by))
        except ReviewError as exc:
            raise _review_errors(exc) from None
        if as_json:
            typer.echo(json.dumps(result.to_json_dict(), indent=1, sort_keys=True, default=str))
            return
        typer.echo(f"review item {item_id} resolved: {result.posted} (run {result.run_id})")
        if result.remembered:
            typer.echo(f"remembered: this PayTrace customer is now {customer} (xPTCustXref)")
        if result.other_items_closed:
            typer.echo(f"also closed: {result.other_items_closed} other item(s) of the transaction")

    @review_app.command("apply-suggestions")
    def apply_suggestions_cmd(
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be applied; post nothing."),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        mapping: Path | None = typer.Option(None, "--mapping", help="mapping.yaml."),  # noqa: B008
        landing_dir: Path | None = typer.Option(None, "--landing-dir"),  # noqa: B008
        gx_dir: Path | None = typer.Option(None, "--gx-dir"),  # noqa: B008
        as_json: AsJson = False,
    ) -> None:
        """Resolve unknown-customer items whose best suggestion is at or above the mapping's auto-link
        threshold (closed by "auto-suggestion"); count what still needs a person, by reason."""
        from paytrace_sl.cli.pipeline import _config
        from paytrace_sl.logging_setup import configure_logging
        from paytrace_sl.review.apply import apply_suggestions

        configure_logging("WARNING")
        cfg = _config(sl_url, mapping, landing_dir, gx_dir, None)
        report = apply_suggestions(cfg, dry_run=dry_run)
        if as_json:
            typer.echo(json.dumps(report.to_json_dict(), indent=1, sort_keys=True, default=str))
            return
        for line in report.lines():
            typer.echo(line)
        for problem in report.problems:
            typer.echo(f"not posted: {problem}")

    @review_app.command("dismiss")
    def dismiss_cmd(
        item_id: int = typer.Argument(..., help="xPTReview id."),
        why: str = typer.Option(..., "--why", help="Why nothing is posted (kept for the auditor)."),
        by: str | None = typer.Option(None, "--by", help=BY_HELP),
        sl_url: str | None = typer.Option(None, "--sl-url", help=SL_URL_HELP),
        as_json: AsJson = False,
    ) -> None:
        """Close an item without posting; the item and the reason stay for the auditor."""
        from paytrace_sl.review.store import ReviewError, dismiss

        with sl_engine(sl_url, install=True) as engine:
            try:
                item = dismiss(engine, item_id, who=_who(by), why=why)
            except ReviewError as exc:
                raise _review_errors(exc) from None
        if as_json:
            typer.echo(json.dumps(item.to_json_dict(), indent=1, sort_keys=True, default=str))
            return
        typer.echo(f"review item {item_id} dismissed by {item.resolved_by}: {item.closed_why}")

    app.add_typer(review_app, name="review")
