"""Settled PayTrace batches → SL: planning the deposit GL entry (pure: no database, no reconciliation).

``plan_settlements`` plans one GL batch per settled PayTrace batch moving the net deposit from the card
clearing account(s) to the bank (only when a bank account distinct from clearing is configured).
``classify`` says which transactions PayTrace counts in a batch's totals; reconciliation uses it too.
The per-batch reconciliation (reads of SL and our ledger, ``xPTRecon`` writes) is
:mod:`paytrace_sl.reconcile.settled_batch`; this module never imports :mod:`paytrace_sl.reconcile`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.paytrace.records import SettlementBatch, Transaction, TransactionState
from paytrace_sl.pipeline.cards import brand_from_masked
from paytrace_sl.plan import Account, PlannedBatch, PlannedSettlement, PostingKind, PostingPlan

DEFAULT_ACTIONS: MappingABC[str, str] = {
    "SALE": "payment", "CAPTURE": "payment", "FORCE": "payment", "STR/FWD": "payment", "REFUND": "refund",
}  # fmt: skip
COUNTED_STATES = (TransactionState.SETTLED, TransactionState.PENDING)
CENT = Decimal("0.01")


class SettlementPlanError(PaytraceSlError, ValueError):
    """A settled batch cannot be split over the configured clearing accounts; the message says why."""


class _Rule(Protocol):
    name: str
    clearing: Account
    brands: tuple[str, ...]
    invoice_pattern: str | None
    channels: tuple[str, ...]
    merchants: tuple[str, ...]


class SettlementMapping(Protocol):
    """The parts of :class:`paytrace_sl.pipeline.mapping.Mapping` used here."""

    timezone: str
    merchant_id: str
    gl_rules: tuple[Any, ...]
    bank_account: Account | None

    @property
    def settlement_planned(self) -> bool: ...

    def action_for(self, transaction_type: str) -> str: ...


def classify(tx: Transaction, mapping: SettlementMapping | None = None) -> str | None:
    """``"sale"``, ``"refund"`` or None (not counted in settlement totals: voided, declined, auth only…).

    A *settled* AUTHORIZATION counts as a sale whatever the mapping says: PayTrace captured and deposited
    it (its settled-batch totals include it), even when no separate CAPTURE record exists.
    """
    if tx.status not in COUNTED_STATES:
        return None
    if tx.status == TransactionState.SETTLED and tx.transaction_type.upper() == "AUTHORIZATION":
        return "sale"
    action = (
        mapping.action_for(tx.transaction_type)
        if mapping is not None
        else DEFAULT_ACTIONS.get(tx.transaction_type.upper(), "ignore")
    )
    return {"payment": "sale", "refund": "refund"}.get(action)


def listed_net(transactions: Sequence[Transaction], mapping: SettlementMapping | None = None) -> Decimal:
    """Sales − refunds of the transactions PayTrace counts in settlement totals, to the cent (the
    ``net`` of :func:`paytrace_sl.reconcile.settled_batch.totals_of`)."""
    sales = [t.amount for t in transactions if classify(t, mapping) == "sale"]
    refunds = [t.amount for t in transactions if classify(t, mapping) == "refund"]
    return (sum(sales, Decimal("0.00")) - sum(refunds, Decimal("0.00"))).quantize(CENT)


# ------------------------------------------------------------------------------------------- planning


EMPTY_BATCH_NOTE = "empty settlement batch: net 0 and no transactions; nothing to deposit (skipped)"


def is_empty_batch(
    batch: SettlementBatch,
    transactions: Sequence[Transaction] | None,
    mapping: SettlementMapping | None = None,
) -> bool:
    """A settled batch that moved no money: net 0, no transactions counted by PayTrace or listed in it.

    PayTrace reports such batches (a settlement run with nothing to settle); they are noted and skipped,
    never planned, so they cannot hold up the batches after them.
    """
    listed = [t for t in transactions or () if classify(t, mapping) is not None]
    return batch.net_amount == 0 and batch.transaction_count == 0 and not listed


def _rule_matches_tx(rule: _Rule, tx: Transaction, merchant_id: str) -> bool:
    if rule.brands and brand_from_masked(tx.card_masked) not in rule.brands:
        return False
    if rule.invoice_pattern is not None and not re.search(rule.invoice_pattern, tx.invoice_id or ""):
        return False
    if rule.channels and tx.created_through not in rule.channels:
        return False
    return not (rule.merchants and merchant_id not in rule.merchants)


def _clearing_for_brand(mapping: SettlementMapping, brand: str, batch_number: int) -> Account:
    """The clearing account of a card brand, decidable from brand totals only when no earlier rule also
    depends on invoice, channel or merchant (those need the batch's transactions)."""
    for rule in mapping.gl_rules:
        if rule.brands and brand not in rule.brands:
            continue
        if rule.invoice_pattern is not None or rule.channels:
            raise SettlementPlanError(
                f"settled batch {batch_number}: GL rule {rule.name!r} depends on invoice/channel, so "
                "brand totals "
                "cannot split the deposit; pass the batch's transactions"
            )
        if rule.merchants and mapping.merchant_id not in rule.merchants:
            continue
        return rule.clearing
    raise SettlementPlanError(f"settled batch {batch_number}: no GL rule matches brand {brand!r}")


def _nets_by_clearing(
    batch: SettlementBatch, mapping: SettlementMapping, transactions: Sequence[Transaction] | None
) -> dict[Account, Decimal]:
    nets: dict[Account, Decimal] = defaultdict(Decimal)
    if transactions is not None:
        listed = listed_net(transactions, mapping)
        if listed != batch.net_amount.quantize(CENT):
            raise SettlementPlanError(
                f"settled batch {batch.number}: PayTrace net {batch.net_amount} but its listed transactions "
                f"sum to {listed}; not planning a deposit that does not match (see reconcile)"
            )
        for tx in transactions:
            kind = classify(tx, mapping)
            if kind is None:
                continue
            rule = next((r for r in mapping.gl_rules if _rule_matches_tx(r, tx, mapping.merchant_id)), None)
            if rule is None:
                raise SettlementPlanError(
                    f"settled batch {batch.number}: no GL rule matches transaction {tx.transaction_id}"
                )
            nets[rule.clearing] += tx.amount if kind == "sale" else -tx.amount
        return dict(nets)
    if batch.brands:
        brand_net = sum((b.sales_amount - b.refund_amount for b in batch.brands), Decimal(0))
        if brand_net.quantize(CENT) != batch.net_amount.quantize(CENT):
            raise SettlementPlanError(
                f"settled batch {batch.number}: brand totals sum to {brand_net} but the batch net is "
                f"{batch.net_amount}"
            )
        for b in batch.brands:
            brand = "unknown" if b.brand == "private" else b.brand
            nets[_clearing_for_brand(mapping, brand, batch.number)] += b.sales_amount - b.refund_amount
        return dict(nets)
    clearings = {r.clearing for r in mapping.gl_rules}
    if len(clearings) != 1:
        raise SettlementPlanError(
            f"settled batch {batch.number}: no brand totals or transactions, and the mapping has "
            f"{len(clearings)} clearing accounts; fetch the batch with export_one or pass its transactions"
        )
    return {next(iter(clearings)): batch.net_amount}


def plan_settlements(
    batches: Sequence[SettlementBatch],
    mapping: SettlementMapping,
    cpny_id: str,
    *,
    transactions_by_batch: MappingABC[int, Sequence[Transaction]] | None = None,
    status: str = "H",
) -> PostingPlan:
    """One GL batch per settled PayTrace batch (Dr bank / Cr clearing for its net), in batch-number order.

    Nothing is planned when no bank account distinct from every clearing account is configured
    (``mapping.settlement_planned``). A batch whose brands settle to several clearing accounts gets one
    item per clearing account (``clearing_part``); per-brand totals (``export_one``) or the batch's
    transactions decide the split — see :class:`SettlementPlanError` for when neither can.
    """
    if not mapping.settlement_planned or mapping.bank_account is None:
        return PostingPlan()
    tz = ZoneInfo(mapping.timezone)
    planned: list[PlannedBatch] = []
    for batch in sorted(batches, key=lambda b: b.number):
        txs = None if transactions_by_batch is None else transactions_by_batch.get(batch.number)
        nets = _nets_by_clearing(batch, mapping, txs)
        settled = batch.created_at.astimezone(tz).date()
        accounts = sorted(nets, key=lambda a: (a.acct, a.sub))
        several = len(accounts) > 1
        items = tuple(
            PlannedSettlement(
                batch_number=batch.number,
                settled_date=settled,
                net_amount=nets[acct].quantize(CENT),
                clearing_account=acct,
                bank_account=mapping.bank_account,
                description=f"PayTrace batch {batch.number}"[:30],
                clearing_part=f"{acct.acct}-{acct.sub}" if several else "",
            )
            for acct in accounts
        )
        if not items:  # nothing moved money (an empty batch): no GL batch without lines
            continue
        planned.append(
            PlannedBatch(
                kind=PostingKind.SETTLEMENT,
                cpny_id=cpny_id,
                items=items,
                status=status,
                description=f"PayTrace deposit {batch.number}"[:30],
            )
        )
    return PostingPlan(batches=tuple(planned))


def settled_date(batch: SettlementBatch, timezone: str) -> dt.date:
    return batch.created_at.astimezone(ZoneInfo(timezone)).date()
