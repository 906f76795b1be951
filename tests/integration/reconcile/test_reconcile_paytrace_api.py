"""Reconciliation with PayTrace's side read through the real client from the sandbox HTTP server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from paytrace_sl.paytrace.client import PayTraceClient
from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.settlement import classify, plan_settlements
from paytrace_sl.plan import PlannedBatch, PlannedPayment, PlannedRefund, PostingKind, PostingPlan
from paytrace_sl.reconcile.engine import reconcile
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.writer import SLWriter
from paytrace_sl_sandbox.demo import write_sandbox_mapping
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration

START, END = dt.date(2025, 4, 1), dt.date(2025, 4, 2)
MERCHANT = MerchantConfig(seed=7, start=START, days=2, tx_per_day=25, customers=5)


def test_client_side_reconciliation_before_and_after_posting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sl.db'}"
    init_sandbox(url, MERCHANT)
    mapping = load_mapping(write_sandbox_mapping(tmp_path / "mapping.yaml"))
    engine = create_sl_engine(url)
    now = dt.datetime(2025, 4, 3, 12, tzinfo=dt.UTC)
    with SandboxServer(SandboxConfig(MERCHANT), port=0) as server:
        settings = PayTraceSettings(
            url=server.url, username="sandbox", password="sandbox-password", requests_per_second=0
        )
        with PayTraceClient(settings) as client:
            before = reconcile(engine, START, END, paytrace_client=client, mapping=mapping, now=now)
            # PayTrace's batch totals equal the transactions it lists in each batch (captured
            # authorizations included), whatever SL holds.
            assert before.source == "paytrace-api" and len(before.batches) == 2
            assert all(b.listed == b.paytrace and b.listed_difference_cents == 0 for b in before.batches)
            txs = list(client.export_transactions(START, END + dt.timedelta(days=1)))
            postable = [t for t in txs if classify(t, mapping) is not None]
            # This merchant's batch 502 holds a captured AUTHORIZATION (no CAPTURE record): counted as a sale.
            assert any(t.transaction_type == "AUTHORIZATION" and t.batch_number == 502 for t in postable)
            missing = {e.transaction_id for e in before.exceptions if e.kind == "missing_in_sl"}
            assert missing == {t.transaction_id for t in postable} and not before.ok
            assert all(b.status == "difference" and not b.explained for b in before.batches)

            clearing = mapping.gl_rules[-1].clearing
            pays = tuple(
                PlannedPayment(t.transaction_id, "CUST00001", t.amount, t.created_at.date(), clearing)
                for t in postable
                if classify(t, mapping) == "sale"
            )
            refunds = tuple(
                PlannedRefund(
                    t.transaction_id,
                    "CUST00001",
                    t.amount,
                    t.created_at.date(),
                    clearing,
                    mapping.refund_account,
                )
                for t in postable
                if classify(t, mapping) == "refund"
            )
            plan = [PlannedBatch(PostingKind.PAYMENT, "PTDEMO", pays)]
            if refunds:
                plan.append(PlannedBatch(PostingKind.REFUND, "PTDEMO", refunds))
            batches = client.export_batches(START, END + dt.timedelta(days=1))
            listed = {b.number: client.batch_transactions(b.number) for b in batches}
            settle = plan_settlements(batches, mapping, "PTDEMO", transactions_by_batch=listed)
            SLWriter(engine, run_id="manual").write_plan(PostingPlan((*plan, *settle.batches)))

            after = reconcile(engine, START, END, paytrace_client=client, mapping=mapping, now=now)
    assert [b.status for b in after.batches] == ["matched", "matched"]
    assert all(b.settlement_posted == b.paytrace.net for b in after.batches)
    assert after.ok, [e.to_json_dict() for e in after.unexplained]
    assert {e.kind for e in after.exceptions} <= {"refunded_after_posting"}
    engine.dispose()
