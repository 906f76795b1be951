"""PCI/secrets proof: every log line (ours, requests', urllib3's, at DEBUG), every exception message, the
CLI output and the landing files of extracts run through every fault mode contain no password, token,
integrator id or card number."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paytrace_sl.cli import app
from paytrace_sl.paytrace.client import PayTraceClient, clear_token_cache
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.paytrace.errors import PayTraceError
from paytrace_sl.paytrace.extract import extract_window
from paytrace_sl.redaction import find_pans, find_secrets
from paytrace_sl_sandbox.faults import FaultConfig
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

PASSWORD = "sandbox-password"
INTEGRATOR = "SANDBOXINT01"
KEYED_PAN = "4012000098765439"  # a real test card number that we send in a keyed sale


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Every record from every logger at DEBUG, formatted WITHOUT our redacting filter (raw truth)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    named = {name: logging.getLogger(name).level for name in ("urllib3", "requests", "paytrace_sl")}
    for name in named:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in named.items():
            logging.getLogger(name).setLevel(level)


def test_nothing_secret_in_logs_errors_output_or_files(
    make_sandbox: Callable[[SandboxConfig], SandboxServer],
    fast_settings: Callable[..., PayTraceSettings],
    all_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = make_sandbox(
        SandboxConfig(
            MerchantConfig(seed=3, days=3, tx_per_day=30, bad_records=True), require_integrator_id=True
        )
    )
    texts: list[str] = []
    settings = fast_settings(server, read_timeout=0.3)
    with PayTraceClient(settings) as client:
        # A keyed sale puts a full card number and CSC in a request body; exports must show it masked.
        answer = client.call(
            "/v1/transactions/sale/keyed",
            {
                "amount": 12.34,
                "credit_card": {"number": KEYED_PAN, "expiration_month": 12, "expiration_year": 2030},
                "csc": "999",
                "invoice_id": "LEAK-TEST",
            },
        )
        assert answer["success"] is True
        today = dt.datetime.now(settings.tz).date()
        summary = extract_window(client, today, today + dt.timedelta(days=1), tmp_path / "today.jsonl")
        assert summary.count >= 1

        faults = [
            FaultConfig(mode="token_expiry", expire_after_calls=1),
            FaultConfig(mode="http_429", count=1, retry_after=0.01),
            FaultConfig(mode="http_500", count=1),
            FaultConfig(mode="http_503", count=1, retry_after=0.01),
            FaultConfig(mode="invalid_json", count=1),
            FaultConfig(mode="truncated_json", count=1),
            FaultConfig(mode="slow", count=1, delay=0.6),
        ]
        tokens: set[str] = set()
        injected = 0
        for index, fault in enumerate(faults):
            # (the sandbox's fault ``count`` is cumulative over its lifetime: reset between modes; that
            # also forgets its tokens, so our cached one gets refused and renewed - one more path covered)
            tokens |= set(server._tokens)
            injected += server.stats()["faults_injected"]
            server.reset()
            server.set_faults(fault)
            out = tmp_path / f"window-{index}.jsonl"
            result = extract_window(client, dt.date(2025, 4, 1), dt.date(2025, 4, 4), out)
            assert result.count > 60 and result.failures  # bad records rejected, with reasons
            texts += [out.read_text(), Path(str(result.rejects_path)).read_text(), str(result.to_json_dict())]
        injected += server.stats()["faults_injected"]
        assert injected >= len(faults)
        # Failures that end in an exception: the messages must be clean too.
        tokens |= set(server._tokens)
        server.reset()
        server.set_faults(FaultConfig(mode="http_500"))
        with pytest.raises(PayTraceError) as failed:
            extract_window(client, dt.date(2025, 4, 1), dt.date(2025, 4, 2), tmp_path / "never.jsonl")
        texts.append(str(failed.value))
        server.set_faults(FaultConfig())
    clear_token_cache()
    with (
        PayTraceClient(fast_settings(server, password="Wrong-Pass-987")) as bad,
        pytest.raises(PayTraceError) as e,
    ):
        bad.authenticate()
    texts.append(str(e.value))
    with (
        PayTraceClient(fast_settings(server, integrator_id="WRONGINTEG9")) as bad,
        pytest.raises(PayTraceError) as e,
    ):
        list(bad.export_transactions_raw(dt.date(2025, 4, 1), dt.date(2025, 4, 2)))
    texts.append(str(e.value))

    # The CLI at DEBUG, with a fault, writing to stdout/stderr.
    tokens |= set(server._tokens)
    server.reset()
    server.set_faults(FaultConfig(mode="token_expiry", expire_after_calls=1))
    cli = CliRunner().invoke(
        app,
        [
            "extract",
            "--start",
            "2025-04-01",
            "--end",
            "2025-04-03",
            "--out",
            str(tmp_path / "cli.jsonl"),
            "--log-level",
            "DEBUG",
            "--requests-per-second",
            "0",
        ],
        env={
            "PAYTRACE_URL": server.url,
            "PAYTRACE_USERNAME": "sandbox",
            "PAYTRACE_PASSWORD": PASSWORD,
            "PAYTRACE_INTEGRATOR_ID": INTEGRATOR,
            "AIRFLOW_CONN_PAYTRACE_DEFAULT": "",
        },
    )
    assert cli.exit_code == 1, cli.output  # bad records present → completed with findings (rejects)
    texts += [cli.stdout, cli.stderr, (tmp_path / "cli.jsonl").read_text()]

    tokens |= set(server._tokens)  # every token the sandbox issued in this test
    assert len(tokens) >= 8
    logs = all_logs.getvalue()
    assert "by_date_range" in logs and "urllib3" in logs and "retrying" in logs  # we did capture real logs
    everything = "\n".join([logs, caplog.text, *texts])
    assert (
        find_secrets(everything, [PASSWORD, INTEGRATOR, "Wrong-Pass-987", "WRONGINTEG9", *sorted(tokens)])
        == []
    )
    assert find_pans(everything) == [], "a card number leaked"
    assert KEYED_PAN[-4:] in (tmp_path / "today.jsonl").read_text()  # the sale was exported (masked)
