"""Settlement deposits (docs/accounting.md §5): a GL 01.010 batch, Dr bank / Cr card clearing for the
settled net of each PayTrace batch (reversed when the net is negative).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from paytrace_sl.plan import PlannedBatch, PlannedSettlement
from paytrace_sl.sl.rows import money
from paytrace_sl.sl.setup import SLSetup
from paytrace_sl.sl.writer.model import BatchResult, ItemOutcome, WriterError, _Work
from paytrace_sl.sl.writer.row_builders import RowBuilders


class SettlementEntries(RowBuilders):
    """Settled PayTrace batches: a GL journal entry moving the net deposit from clearing to the bank."""

    def _build_settlements(
        self,
        items: Sequence[PlannedSettlement],
        batch: PlannedBatch,
        setup: SLSetup,
        bat_nbr: str,
        per_post: str,
        now: dt.datetime,
        work: _Work,
        result: BatchResult,
    ) -> None:
        """Dr bank / Cr card clearing for the settled net (reversed when the net is negative)."""
        dec = setup.cury_dec_pl
        line = 0
        for item in items:
            if item.bank_account == item.clearing_account:
                raise WriterError(
                    f"settlement {item.ledger_key}: bank and clearing account are the same "
                    f"({item.bank_account.acct}/{item.bank_account.sub})"
                )
            ref = str(item.batch_number)
            if item.net_amount == 0:
                work.ledger.append(
                    self._ledger_row(
                        item,
                        kind="settlement",
                        cpny=batch.cpny_id,
                        module="GL",
                        bat_nbr="",
                        doc_type="GL",
                        ref_nbr=ref,
                        cust_id="",
                        amount=Decimal(0),
                        setup=setup,
                        per_post=per_post,
                        note="net 0: nothing to post",
                    )
                )
                result.posted += 1
                result.add(ItemOutcome(item.ledger_key, "nothing_to_do", "GL", ref, "net 0: nothing to post"))
                continue
            amount = money(abs(item.net_amount), dec)
            debit, credit = (
                (item.bank_account, item.clearing_account)
                if item.net_amount > 0
                else (item.clearing_account, item.bank_account)
            )
            desc = item.description or f"PayTrace settlement {item.batch_number}"
            for acct, dr, cr in ((debit, amount, 0.0), (credit, 0.0, amount)):
                work.gltran.append(
                    self._gltran(
                        bat_nbr=bat_nbr,
                        cpny=batch.cpny_id,
                        line=line,
                        acct=acct,
                        dr=dr,
                        cr=cr,
                        ref_nbr=ref,
                        ext_ref=ref,
                        day=item.settled_date,
                        desc=desc,
                        per_post=per_post,
                        per_ent=per_post,  # stamped with the batch's PerEnt once it is known
                        setup=setup,
                        now=now,
                    )
                )
                line += 1
            work.total += Decimal(str(amount))
            work.ledger.append(
                self._ledger_row(
                    item,
                    kind="settlement",
                    cpny=batch.cpny_id,
                    module="GL",
                    bat_nbr=bat_nbr,
                    doc_type="GL",
                    ref_nbr=ref,
                    cust_id="",
                    amount=item.net_amount,
                    setup=setup,
                    per_post=per_post,
                )
            )
            result.posted += 1
            result.add(ItemOutcome(item.ledger_key, "posted", "GL", ref))
