"""sl.pending_cache: the applications pending in unreleased AR batches are read once per write_batches call
and carried from batch to batch; what others change between two of our batches (another writer's new
batch, a batch released or voided, an SL user's edit of one of our batches) is seen by the next batch's
decisions, exactly as the per-batch reads (setting off) see it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import CLEARING, CPNY, CUST, DOC_DATE, INVOICE, fetch

from paytrace_sl.plan import InvoiceApplication, PlannedBatch, PlannedPayment, PostingKind
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTReview
from paytrace_sl.sl.pending import PendingApplications
from paytrace_sl.sl.writer import BatchResult, SLWriter

pytestmark = pytest.mark.integration

D, T, B = catalog.ARDoc, catalog.ARTran, catalog.Batch
OTHER_BATCH = "009001"  # another writer's batch (not a number our writer takes)


def pay_batch(txn: int, amount: str, applied: str) -> PlannedBatch:
    pay = PlannedPayment(
        txn, CUST, Decimal(amount), DOC_DATE, CLEARING, (InvoiceApplication(INVOICE, Decimal(applied)),)
    )
    return PlannedBatch(PostingKind.PAYMENT, CPNY, (pay,))


def applied_in(engine: sa.Engine, bat_nbr: str) -> list[float]:
    return [r["CuryTranAmt"] for r in fetch(engine, T, T.c.BatNbr == bat_nbr, T.c.DrCr == "U")]


def review_codes(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(xPTReview.c.ledger_key, xPTReview.c.reason_code)).all()
    return {str(k): str(c) for k, c in rows}


def another_writers_application(engine: sa.Engine, amount: float) -> None:
    """Plain SQL, as another program would: a new unreleased AR batch applying ``amount`` to INVOICE."""
    batch = fetch(engine, B, B.c.Module == "AR")[0]
    line = fetch(engine, T, T.c.DrCr == "U")[0]
    with engine.begin() as conn:
        next_id = conn.execute(sa.select(sa.func.max(T.c.RecordID))).scalar_one() + 1
        conn.execute(
            sa.insert(B),
            [{**batch, "BatNbr": OTHER_BATCH, "Rlsed": 0, "Status": "H", "CrTot": amount, "tstamp": None}],
        )
        conn.execute(
            sa.insert(T),
            [
                {
                    **line,
                    "BatNbr": OTHER_BATCH,
                    "RefNbr": "OTHER1",
                    "CuryTranAmt": amount,
                    "TranAmt": amount,
                    "RecordID": next_id,
                    "tstamp": None,
                }
            ],
        )


def write_with(
    engine: sa.Engine, cache: bool, first: PlannedBatch, between: Callable[[str], None], second: PlannedBatch
) -> tuple[str, str]:
    """Both batches through one write_batches call (one cache), ``between`` run with the first batch's
    number after it commits and before the second starts."""
    written: list[str] = []
    writer = SLWriter(engine, pending_cache=cache)
    write_batch = writer.write_batch

    def recording(batch: PlannedBatch) -> BatchResult:
        res = write_batch(batch)
        written.append(res.bat_nbr)
        return res

    def batches() -> Iterator[PlannedBatch]:
        yield first
        between(written[0])
        yield second

    writer.write_batch = recording  # type: ignore[method-assign]
    writer.write_batches([CPNY], batches())
    return written[0], written[1]


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "per-batch"])
def test_another_writers_new_application_between_batches_is_counted(
    sl_engine: sa.Engine, cache: bool
) -> None:
    # INVOICE: open balance 300. Ours: 100, then another program's 150, then ours again 100: 50 is left.
    first, second = write_with(
        sl_engine,
        cache,
        pay_batch(3001, "100.00", "100.00"),
        lambda _bat: another_writers_application(sl_engine, 150.0),
        pay_batch(3002, "100.00", "100.00"),
    )
    assert applied_in(sl_engine, first) == [100.0]
    assert applied_in(sl_engine, second) == [50.0]  # split: 300 − 100 − 150
    assert review_codes(sl_engine) == {"paytrace:3002:payment": "appl_partial"}


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "per-batch"])
@pytest.mark.parametrize("status", ["V", "D"])
def test_a_batch_voided_or_deleted_between_batches_no_longer_counts(
    sl_engine: sa.Engine, cache: bool, status: str
) -> None:
    def void(bat_nbr: str) -> None:
        with sl_engine.begin() as conn:
            conn.execute(sa.update(B).where(B.c.Module == "AR", B.c.BatNbr == bat_nbr).values(Status=status))

    _first, second = write_with(
        sl_engine, cache, pay_batch(3101, "100.00", "100.00"), void, pay_batch(3102, "250.00", "250.00")
    )
    assert applied_in(sl_engine, second) == [250.0]  # 300, the voided 100 no longer pending: fits
    assert review_codes(sl_engine) == {}


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "per-batch"])
def test_a_batch_released_between_batches_moves_from_pending_to_the_balance(
    sl_engine: sa.Engine, cache: bool
) -> None:
    def release(bat_nbr: str) -> None:  # what SL's release does to what matters here
        with sl_engine.begin() as conn:
            conn.execute(
                sa.update(B).where(B.c.Module == "AR", B.c.BatNbr == bat_nbr).values(Rlsed=1, Status="C")
            )
            conn.execute(sa.update(T).where(T.c.BatNbr == bat_nbr).values(Rlsed=1))
            conn.execute(
                sa.update(D)
                .where(D.c.RefNbr == INVOICE, D.c.DocType == "IN")
                .values(CuryDocBal=200.0, DocBal=200.0)
            )

    _first, second = write_with(
        sl_engine, cache, pay_batch(3201, "100.00", "100.00"), release, pay_batch(3202, "250.00", "250.00")
    )
    assert applied_in(sl_engine, second) == [200.0]  # balance 200, nothing pending: 200 of 250
    assert review_codes(sl_engine) == {"paytrace:3202:payment": "appl_partial"}


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "per-batch"])
def test_an_sl_users_edit_of_our_batch_is_seen_by_the_next_batch(sl_engine: sa.Engine, cache: bool) -> None:
    def edit(bat_nbr: str) -> None:  # the user raises our application to 200 in SL's screen (08030)
        with sl_engine.begin() as conn:
            conn.execute(
                sa.update(T)
                .where(T.c.BatNbr == bat_nbr, T.c.DrCr == "U")
                .values(CuryTranAmt=200.0, TranAmt=200.0)
            )
            conn.execute(
                sa.update(B)
                .where(B.c.Module == "AR", B.c.BatNbr == bat_nbr)
                .values(LUpd_Prog="08030", LUpd_User="SYSADMIN")
            )

    _first, second = write_with(
        sl_engine, cache, pay_batch(3301, "200.00", "100.00"), edit, pay_batch(3302, "150.00", "150.00")
    )
    assert applied_in(sl_engine, second) == [100.0]  # 300 − the edited 200
    assert review_codes(sl_engine) == {"paytrace:3302:payment": "appl_partial"}


def test_the_cache_reads_artran_once_when_nothing_else_changes(sl_pg_engine: sa.Engine) -> None:
    """Three batches on the same invoice: one pass over ARTran for the call, not one per batch; the
    decisions are those of the per-batch reads (the third finds 300 − 100 − 100 = 100 left of 150)."""
    writer = SLWriter(sl_pg_engine)
    scans: list[int] = []
    original = PendingApplications.refresh

    def refresh(self: PendingApplications, conn: sa.Connection) -> None:
        original(self, conn)
        scans.append(self.scans)

    batches = [pay_batch(3401, "100.00", "100.00"), pay_batch(3402, "100.00", "100.00")]
    batches.append(pay_batch(3403, "150.00", "150.00"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PendingApplications, "refresh", refresh)
        result = writer.write_batches([CPNY], iter(batches))
    assert scans == [1, 1, 1]
    assert [applied_in(sl_pg_engine, b.bat_nbr) for b in result.batches] == [[100.0], [100.0], [100.0]]
    assert review_codes(sl_pg_engine) == {"paytrace:3403:payment": "appl_partial"}
