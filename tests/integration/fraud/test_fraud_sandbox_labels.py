"""The sandbox's injected fraud over real HTTP: records look like any other in the export (no label in
any API answer), the ground truth is only at the admin endpoint, reset re-creates the same incidents, and
the default (rate 0) leaves the generated merchant unchanged."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from paytrace_sl.paytrace.client import PayTraceClient
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl_sandbox.fraud_patterns import INJECTED_PATTERNS, FraudInjection
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

MERCHANT = MerchantConfig(seed=3, days=6, tx_per_day=60)


def export(server: SandboxServer) -> list[dict[str, object]]:
    settings = PayTraceSettings(
        url=server.url, username="sandbox", password="sandbox-password", requests_per_second=0
    )
    with PayTraceClient(settings) as client:
        return list(client.export_transactions_raw(MERCHANT.start, MERCHANT.start + dt.timedelta(days=6)))


def test_labels_only_at_the_admin_endpoint(make_sandbox: Callable[[SandboxConfig], SandboxServer]) -> None:
    server = make_sandbox(SandboxConfig(MERCHANT, fraud=FraudInjection(rate=0.1)))
    labels = requests.get(f"{server.url}/_sandbox/fraud_labels", timeout=10).json()["labels"]
    assert set(labels.values()) == set(INJECTED_PATTERNS)
    records = export(server)
    by_id = {str(r["transaction_id"]): r for r in records}
    assert set(labels) <= set(by_id)
    for tid in labels:
        text = str(by_id[tid])
        assert not any(p in text for p in INJECTED_PATTERNS)  # nothing in the answer gives it away
        assert set(by_id[tid]) == set(records[0])  # the same shape as every other record
    assert Counter(labels.values())["card_testing"] >= 6
    requests.post(f"{server.url}/_sandbox/reset", timeout=10).raise_for_status()
    assert requests.get(f"{server.url}/_sandbox/fraud_labels", timeout=10).json()["labels"] == labels


def test_rate_zero_changes_nothing(make_sandbox: Callable[[SandboxConfig], SandboxServer]) -> None:
    plain = make_sandbox(SandboxConfig(MERCHANT))
    assert plain.fraud_labels() == {}
    generated = sum(
        sum(1 for _ in plain.sim.rows_for_day(MERCHANT.start + dt.timedelta(days=i))) for i in range(6)
    )
    assert len(export(plain)) == generated  # only the generated merchant
    with pytest.raises(ValueError, match="rate"):
        FraudInjection(rate=0.9)
    with pytest.raises(ValueError, match="unknown fraud pattern"):
        FraudInjection(rate=0.1, patterns=("phishing",))
