"""The transform's landed outputs are byte-for-byte those of the code before the plan was streamed
(issue 17, transform memory): ``plan.jsonl`` and the outcome file of a mixed window of 600 records
(every type and state, known/unknown/cross-referenced customers, own/foreign/unknown invoices and orders,
ledger hits, voids, zero amounts, two days, batches cut at 40 documents). The digests were taken with
``main`` at 0808f1a (``build_plan`` + ``write_plan_lines(result.plan)`` + ``outcome_lists``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pipeline_tx_builders import tx

from paytrace_sl.paytrace.records import TransactionState
from paytrace_sl.pipeline.flows.payments import _frame_facts, outcome_lists
from paytrace_sl.pipeline.landing import Landing
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.posted_copies import PostedFacts, customer_digest
from paytrace_sl.pipeline.sl_context import LedgerEntry, OpenInvoice, SalesOrder, SLContext
from paytrace_sl.pipeline.transform import build_plan, records_frame

PLAN_SHA256 = "0da999eeb82d3431b0fa11b254da1d6d4dd7e02bc1fbc6e2a356cbc3fbd5e800"
OUTCOME_SHA256 = "6f1322dec1eab2eb22b521dfed55358e6db504b6c57d2cc8ee6f72a16153cba8"

UTC = dt.UTC
TYPES = ["SALE", "SALE", "SALE", "REFUND", "AUTHORIZATION", "CAPTURE", "FORCE", "VOID", "STORE & FORWARD"]
STATES = list(TransactionState)


def _window_rows() -> list[dict[str, Any]]:
    rnd = random.Random(17)
    rows = []
    for i in range(600):
        tid = 700_000 + rnd.randrange(0, 5) * 1000 + i  # not in created order
        invoice = rnd.choice(["", "", f"INV-{i % 90}", f"SO-{i % 7}", f"X-{i}", "INV-SHARED", " INV-3 "])
        customer = rnd.choice(["C100", "C200", "vault-9", "", "nobody", f"C{300 + i % 5}", " C100 "])
        amount = rnd.choice(["0.00", "1.00", "12.34", "100.00", f"{i}.{i % 100:02d}"])
        created = dt.datetime(2025, 4, 9, 20, tzinfo=UTC) + dt.timedelta(minutes=7 * (i % 97), seconds=i)
        rows.append(
            tx(
                tid,
                transaction_type=rnd.choice(TYPES),
                status=rnd.choice(STATES),
                amount=amount,
                customer_id=customer,
                invoice_id=invoice,
                created_at=created,
                created_through=rnd.choice(["API", "Virtual Terminal", "Recurring"]),
                card_masked=rnd.choice(["411111******1111", "378282*****0005", "550000******0004"]),
                billing_name=f"Payer {i % 13}",
            ).to_json_dict()
        )
    return rows


def _context() -> SLContext:
    posted = PostedFacts("payment", Decimal("12.34"), "SALE", customer_digest("C100"))
    ledger = {
        700_000 + k * 1000 + i: LedgerEntry(
            kinds={"payment": "posted"} if i % 3 else {"refund": "posted", "void": "posted"},
            paytrace_state="pending" if i % 2 else "settled",
            posted=posted if i % 4 == 0 else None,
        )
        for k in range(5)
        for i in range(0, 600, 11)
    }
    return SLContext.build(
        cpny_id="0010",
        customers=["C100", "C200", "C300", "C301", "C302", "UNIDENT"],
        xref={"vault-9": "C200", "": "C300"},
        invoices=[OpenInvoice(f"INV-{n}", "C100" if n % 2 else "C200", Decimal("50.00")) for n in range(60)],
        orders=[SalesOrder(f"SO-{n}", "C100" if n % 2 else "C301") for n in range(5)],
        ledger=ledger,
        invoice_owners=[("INV-SHARED", "C100"), ("INV-SHARED", "C200"), ("INV-70", "C302")],
    )


def _outputs(tmp_path: Path, *, compact: bool, streamed: bool) -> tuple[str, str]:
    rows = _window_rows()
    mapping = dataclasses.replace(load_mapping(), batch_max_documents=40)
    window = (dt.datetime(2025, 4, 10, 7, tzinfo=UTC), dt.datetime(2025, 4, 11, 7, tzinfo=UTC))
    result = build_plan(records_frame(rows, compact=compact), _context(), mapping, window=window)
    landing = Landing(tmp_path, f"r-{compact}-{streamed}")
    landing.write_plan_lines("plan.jsonl", result.batches if streamed else result.plan)
    wanted = {*result.skipped, *result.review}
    facts = records_frame(r for r in rows if int(r["transaction_id"]) in wanted)
    landing.write_json("outcome.json", outcome_lists(result, *_frame_facts(facts, result)))
    return tuple(  # type: ignore[return-value]
        hashlib.sha256(landing.path(name).read_bytes()).hexdigest() for name in ("plan.jsonl", "outcome.json")
    )


@pytest.mark.parametrize(("compact", "streamed"), [(True, True), (False, True), (False, False)])
def test_plan_and_outcome_files_are_those_of_the_unstreamed_transform(
    tmp_path: Path, compact: bool, streamed: bool
) -> None:
    assert _outputs(tmp_path, compact=compact, streamed=streamed) == (PLAN_SHA256, OUTCOME_SHA256)
