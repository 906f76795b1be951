"""The sandbox's commands in the ``paytrace-sl`` CLI: ``sandbox serve | generate`` and ``sl init-sandbox``.

Plugged in through the ``paytrace_sl.cli`` entry-point group (``packages/paytrace-sl-sandbox``):
:func:`register` is called with the root Typer app when this package is installed beside paytrace-sl.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from paytrace_sl.cli.sl_schema import EXIT_ERROR, SlUrl, _url
from paytrace_sl.paytrace.timefmt import DEFAULT_TIMEZONE
from paytrace_sl_sandbox.faults import FAULT_MODES, FaultConfig
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation


def _parse_start(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


def _merchant(
    seed: int, start: str, days: int, tx_per_day: int, timezone: str, customers: int, bad_records: bool
) -> MerchantConfig:
    return MerchantConfig(
        seed=seed,
        start=_parse_start(start),
        days=days,
        tx_per_day=tx_per_day,
        timezone=timezone,
        customers=customers,
        bad_records=bad_records,
    )


def init_sandbox_cmd(
    sl_url: SlUrl = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Merchant simulation seed (same as the PayTrace sandbox).")
    ] = 42,
    start: Annotated[str, typer.Option("--start", help="First simulated day, YYYY-MM-DD.")] = "2025-04-01",
    days: Annotated[int, typer.Option("--days", help="Number of simulated days.")] = 30,
    tx_per_day: Annotated[int, typer.Option("--tx-per-day", help="Simulated transactions per day.")] = 200,
    customers: Annotated[int, typer.Option("--customers", help="Simulated customers.")] = 50,
    fiscal_first_month: Annotated[
        int, typer.Option("--fiscal-first-month", help="First month of the fiscal year (1 = calendar year).")
    ] = 1,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Re-seed a database that init-sandbox created before (empties it first)."
        ),
    ] = False,
) -> None:
    """Create and seed a SANDBOX SL database (PostgreSQL or SQLite) matching the PayTrace sandbox merchant.

    Refuses SQL Server, and any database holding SL rows that init-sandbox did not create.
    """
    from paytrace_sl_sandbox.sl_seed import SandboxSeedError, SandboxSLConfig, init_sandbox

    url = _url(sl_url)
    merchant = MerchantConfig(
        seed=seed, start=_parse_start(start), days=days, tx_per_day=tx_per_day, customers=customers
    )
    try:
        summary = init_sandbox(
            url, merchant, force=force, sl_config=SandboxSLConfig(fiscal_first_month=fiscal_first_month)
        )
    except SandboxSeedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"sandbox SL database ready: {summary.url} ({summary.dialect})")
    typer.echo(
        f"  SL tables created: {'yes' if summary.created_sl_tables else 'already present'}; "
        f"our tables at version {summary.install.to_version}"
    )
    typer.echo(f"  company {summary.cpny_id}, current period {summary.per_nbr}")
    typer.echo(
        f"  accounts {summary.accounts}, customers {summary.customers}, cross-references {summary.cust_xrefs}"
    )
    typer.echo(
        f"  open invoices {summary.invoices} in {summary.invoice_batches} released batch(es), "
        f"sales orders {summary.sales_orders}"
    )
    typer.echo(f"  {summary.seconds:.2f}s")


def register(app: typer.Typer) -> None:
    """Add the ``sandbox`` command group to ``app`` and ``init-sandbox`` to its ``sl`` group."""
    from paytrace_sl.cli.sl import sl_app

    sl_app.command("init-sandbox")(init_sandbox_cmd)
    sandbox = typer.Typer(
        help="Local PayTrace v1 API sandbox (generated merchant, fault injection).", no_args_is_help=True
    )
    app.add_typer(sandbox, name="sandbox")

    @sandbox.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to bind."),
        port: int = typer.Option(8765, help="Port (0 = any free port)."),
        seed: int = typer.Option(42, help="Generator seed: same seed, same data."),
        start: str = typer.Option("2025-04-01", help="First merchant day (YYYY-MM-DD)."),
        days: int = typer.Option(30, help="Number of generated days."),
        tx_per_day: int = typer.Option(200, help="Generated transactions per day."),
        timezone: str = typer.Option(DEFAULT_TIMEZONE, help="Merchant time zone (IANA name)."),
        customers: int = typer.Option(50, help="Vault customers."),
        username: str = typer.Option("sandbox", help="API user name the sandbox accepts."),
        password: str = typer.Option("sandbox-password", help="API password the sandbox accepts."),
        token_ttl: int = typer.Option(7200, help="Access-token lifetime in seconds."),
        fault: str = typer.Option("none", help=f"Fault mode: {', '.join(FAULT_MODES)}."),
        fault_rate: float = typer.Option(1.0, help="Fraction of eligible requests that get the fault."),
        fault_count: int = typer.Option(0, help="Stop after this many faults (0 = unlimited)."),
        fault_delay: float = typer.Option(5.0, help="Seconds to sleep in 'slow' mode."),
        bad_records: bool = typer.Option(
            False,
            "--bad-records/--no-bad-records",
            help="Add a few malformed records per day (dead-letter testing).",
        ),
        fraud_rate: float = typer.Option(
            0.0,
            help="Labelled fraud incidents per generated transaction (0 = none); ground truth at "
            "GET /_sandbox/fraud_labels (docs/fraud.md).",
        ),
        clock: str = typer.Option(
            "",
            help="Sandbox clock: processing calls happen at this merchant-local time "
            "(YYYY-MM-DDTHH:MM[:SS]); move it with POST /_sandbox/clock. Default: the wall clock.",
        ),
        vault_noise: bool = typer.Option(
            False,
            "--vault-noise/--no-vault-noise",
            help="Also serve vault customers with ids unlike SL's and noisy names/addresses "
            "(assisted customer matching, docs/customers.md).",
        ),
    ) -> None:
        """Serve the PayTrace v1 JSON API on HOST:PORT until Ctrl-C / SIGTERM."""
        from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer

        try:
            faults = FaultConfig(
                mode=fault,  # type: ignore[arg-type]  # validated by FaultConfig
                rate=fault_rate,
                count=fault_count or None,
                delay=fault_delay,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        try:
            frozen = dt.datetime.fromisoformat(clock) if clock else None
        except ValueError:
            raise typer.BadParameter(f"--clock: expected YYYY-MM-DDTHH:MM, got {clock!r}") from None
        from paytrace_sl_sandbox.fraud_patterns import FraudInjection

        try:
            fraud = FraudInjection(rate=fraud_rate)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        config = SandboxConfig(
            fraud=fraud,
            merchant=_merchant(seed, start, days, tx_per_day, timezone, customers, bad_records),
            clock=frozen,
            username=username,
            password=password,
            token_ttl=token_ttl,
            bad_records=bad_records,
            faults=faults,
            vault_noise=vault_noise,
        )
        server = SandboxServer(config, host=host, port=port)

        def _stop(signum: int, frame: FrameType | None) -> None:
            # shutdown() blocks until serve_forever returns, so call it from another thread.
            threading.Thread(target=server.stop, daemon=True).start()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        typer.echo(server.url, color=False)
        typer.echo(
            f"PayTrace sandbox: seed={seed} {config.merchant.start}..{server.sim.end} "
            f"{tx_per_day}/day tz={timezone} fault={fault}; Ctrl-C to stop",
            err=True,
        )
        server.serve_forever()
        typer.echo("sandbox stopped", err=True)

    @sandbox.command("generate")
    def generate(
        out: Annotated[Path, typer.Option("--out", help="JSONL file to write (one raw record per line).")],
        seed: int = typer.Option(42, help="Generator seed."),
        start: str = typer.Option("2025-04-01", help="First merchant day (YYYY-MM-DD)."),
        days: int = typer.Option(30, help="Number of days."),
        tx_per_day: int = typer.Option(200, help="Transactions per day."),
        timezone: str = typer.Option(DEFAULT_TIMEZONE, help="Merchant time zone."),
        customers: int = typer.Option(50, help="Vault customers."),
        include_bin: bool = typer.Option(
            False, "--include-bin/--no-include-bin", help="First 6 + last 4 masks."
        ),
        bad_records: bool = typer.Option(
            False, "--bad-records/--no-bad-records", help="Add malformed records."
        ),
    ) -> None:
        """Write the generated transactions (export shape, §3.1) as JSON Lines, for debugging."""
        sim = MerchantSimulation(_merchant(seed, start, days, tx_per_day, timezone, customers, bad_records))
        count = 0
        with out.open("w", encoding="utf-8") as fh:
            for di in range(days):
                for row in sim.rows_for_day(sim.config.start + dt.timedelta(days=di), include_bin):
                    fh.write(row.to_json())
                    fh.write("\n")
                    count += 1
        typer.echo(json.dumps({"records": count, "out": str(out)}))
