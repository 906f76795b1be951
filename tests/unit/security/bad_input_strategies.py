"""Hypothesis strategies for hostile PayTrace export records (shared by the unit and integration tests).

A record is a real sandbox export record with 1–3 fields replaced or removed by hostile values: missing
fields, wrong types, huge and non-ASCII strings, SQL-looking text, zero/negative/huge/non-finite amounts,
malformed dates, full card numbers where a mask belongs, unknown transaction types.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from hypothesis import strategies as st

from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation

SQL = "'; DROP TABLE Batch;--"
HUGE = "x" * 100_000
PAN = "4111111111111111"
DELETE = object()  # sentinel: remove the field

MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=1, tx_per_day=30)
BASE_RECORDS: list[dict[str, Any]] = list(MerchantSimulation(MERCHANT).transactions_for_day(MERCHANT.start))

PATHS = (
    "transaction_id",
    "transaction_type",
    "amount",
    "tax_amount",
    "status_code",
    "status_message",
    "response_code",
    "created",
    "created.at",
    "created.through",
    "created.by",
    "settled",
    "customer_id",
    "invoice_id",
    "description",
    "customer_reference_id",
    "approval_code",
    "credit_card",
    "credit_card.masked_number",
    "billing_address",
    "billing_address.name",
)

hostile_text = st.one_of(
    st.just(SQL),
    st.just(HUGE),
    st.just(""),
    st.just("   "),
    st.just(PAN),
    st.just("4111 1111 1111 1111"),
    st.just("Zoë Ångström — 東京 🚀"),
    st.just("Robert'); DROP TABLE ARDoc; --"),
    st.just("1; UPDATE ARSetup SET LastRefNbr='0'"),
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFF), min_size=1, max_size=30),
)
hostile_number = st.one_of(
    st.just(0),
    st.just(-1),
    st.just(-0.01),
    st.just(10**20),
    st.just(1e308),
    st.just(10**27),
    st.just(0.001),
    st.just(float("nan")),
    st.just(float("inf")),
    st.just("1e400"),
    st.just("NaN"),
    st.just("12,34"),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
)
hostile_date = st.one_of(
    st.just("13/45/2025 99:99:99 PM"),
    st.just("2025-04-01T10:00:00"),
    st.just("4/1/2025"),
    st.just("2/30/2025 10:00:00 AM"),
    st.just("4/1/2025 10:00:00 XM"),
    st.just("4/1/2025 10:00:00 AM"),  # valid: the record parses (maybe another time)
    st.just("3/9/2025 2:30:00 AM"),  # a local time that does not exist (DST gap)
    st.integers(),
)
hostile_value = st.one_of(
    st.just(DELETE),
    st.none(),
    st.booleans(),
    hostile_text,
    hostile_number,
    hostile_date,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(
        ["SALE", "REFUND", "VOID", "CAPTURE", "AUTHORIZATION", "CHARGEBACK", "sale", "ÜBERWEISUNG"]
    ),
    st.sampled_from(["Y", "N", "GB1001", "Settled 1002", "GB", "GBx", "Z"]),
)


def set_path(record: dict[str, Any], path: str, value: Any) -> None:
    node: Any = record
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(node, dict):
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if not isinstance(node, dict):
        return
    if value is DELETE:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


@st.composite
def hostile_records(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """(record, mutated paths)."""
    record = copy.deepcopy(draw(st.sampled_from(BASE_RECORDS)))
    paths = draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3, unique=True))
    for path in paths:
        set_path(record, path, draw(hostile_value))
    return record, paths
