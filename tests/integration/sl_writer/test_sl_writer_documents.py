"""The SL documents the writer produces, on real PostgreSQL and SQLite replicas built from SL's DDL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from slw_support import (
    AR,
    BANK,
    CLEARING,
    CPNY,
    CUST,
    DOC_DATE,
    INVOICE,
    OTHER_CUST,
    PER_POST,
    REFUNDS,
    count,
    fetch,
    simulate_release_gl,
    snapshot,
)

from paytrace_sl.plan import (
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PlannedVoid,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview
from paytrace_sl.sl.rows import SLValueError, complete_row
from paytrace_sl.sl.writer import PreflightFailed, SLWriter, WriterError

pytestmark = pytest.mark.integration

D, T, B, G = catalog.ARDoc, catalog.ARTran, catalog.Batch, catalog.GLTran


def payment(txn: int, amount: str, *appl: tuple[str, str], cust: str = CUST, **kw: object) -> PlannedPayment:
    apps = tuple(InvoiceApplication(ref, Decimal(a)) for ref, a in appl)
    return PlannedPayment(txn, cust, Decimal(amount), DOC_DATE, CLEARING, apps, **kw)  # type: ignore[arg-type]


def pay_batch(*items: PlannedPayment, **kw: object) -> PlannedBatch:
    return PlannedBatch(PostingKind.PAYMENT, CPNY, items, **kw)  # type: ignore[arg-type]


def reviews(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(xPTReview)).mappings()]


def test_payment_applied_to_invoice_writes_sl_unreleased_state(sl_engine: sa.Engine) -> None:
    writer = SLWriter(sl_engine, run_id="run-1")
    res = writer.write_batch(
        pay_batch(payment(81234567, "300.00", (INVOICE, "300.00"), description="Visa x1111"))
    )

    assert (res.module, res.bat_nbr, res.posted, res.review_items) == ("AR", "000101", 1, 0)
    batch = fetch(sl_engine, B, B.c.BatNbr == "000101", B.c.Module == "AR")[0]
    assert batch["EditScrnNbr"] == "08030" and batch["JrnlType"] == "AR" and batch["BatType"] == "N"
    assert batch["Status"] == "H" and batch["Rlsed"] == 0
    assert batch["PerPost"] == PER_POST == batch["PerEnt"]  # fiscal period (July-June year), not 202403
    assert batch["LedgerID"] == "ACTUAL" and batch["BaseCuryID"] == "USD" and batch["CpnyID"] == CPNY
    assert batch["CrTot"] == batch["CtrlTot"] == batch["CuryCrTot"] == batch["CuryCtrlTot"] == 300.0
    assert batch["Crtd_Prog"] == "PTSL" and batch["Crtd_User"] == "PAYTRACE"
    doc = fetch(sl_engine, D, D.c.DocType == "PA")[0]
    assert (doc["CustId"], doc["RefNbr"], doc["BatNbr"], doc["ApplBatNbr"]) == (
        CUST,
        "81234567",
        "000101",
        "000101",
    )
    assert (doc["BankAcct"], doc["BankSub"]) == (CLEARING.acct, CLEARING.sub)
    assert doc["CuryOrigDocAmt"] == doc["OrigDocAmt"] == doc["DocBal"] == doc["CuryApplAmt"] == 300.0
    assert (doc["Rlsed"], doc["OpenDoc"], doc["DocClass"], doc["PerPost"]) == (0, 1, "N", PER_POST)
    assert doc["TaskID"] == "" and doc["S4Future07"] == dt.datetime(1900, 1, 1)  # SL blanks, not NULL
    line = fetch(sl_engine, T, T.c.BatNbr == "000101")[0]
    assert (line["DrCr"], line["SiteId"], line["CostType"], line["TranType"]) == ("U", INVOICE, "IN", "PA")
    assert line["CuryTranAmt"] == line["TranAmt"] == 300.0 and line["UnitPrice"] == 1.0
    assert (line["Acct"], line["Sub"], line["FiscYr"], line["LineNbr"]) == (AR.acct, AR.sub, "2024", -32767)
    assert line["RecordID"] >= 1
    assert fetch(sl_engine, catalog.ARSetup)[0]["LastBatNbr"] == "000101"
    # Never the release's job: no ARAdjust, AR_Balances, AR-module GLTran, nothing Rlsed=1.
    assert count(sl_engine, catalog.ARAdjust) == count(sl_engine, catalog.AR_Balances) == 0
    assert count(sl_engine, G) == 0
    ledger = fetch(sl_engine, xPTLedger)[0]
    assert (ledger["ledger_key"], ledger["bat_nbr"], ledger["status"]) == (
        "paytrace:81234567:payment",
        "000101",
        "posted",
    )
    assert simulate_release_gl(sl_engine, "AR", "000101") == {
        CLEARING.acct: Decimal("300.00"),
        AR.acct: Decimal("-300.00"),
    }


def test_rerun_posts_nothing_and_consumes_no_number(sl_engine: sa.Engine) -> None:
    plan = PostingPlan((pay_batch(payment(1001, "10.00"), payment(1002, "20.00")),))
    SLWriter(sl_engine).write_plan(plan)
    before = snapshot(sl_engine)
    again = SLWriter(sl_engine).write_plan(plan)
    assert (again.posted, again.already_posted) == (0, 2)
    assert snapshot(sl_engine) == before
    # A plan mixing old and new items posts only the new one, in a new batch.
    mixed = SLWriter(sl_engine).write_batch(pay_batch(payment(1002, "20.00"), payment(1003, "5.55")))
    assert (mixed.posted, mixed.already_posted, mixed.bat_nbr) == (1, 1, "000102")
    assert fetch(sl_engine, B, B.c.BatNbr == "000102")[0]["CrTot"] == 5.55


def test_application_rechecked_at_write_time_goes_unapplied_with_review(sl_engine: sa.Engine) -> None:
    with sl_engine.begin() as conn:  # a second, closed invoice and an invoice of another customer
        for ref, cust, open_doc, bal in (("000452", CUST, 0, 0.0), ("000453", OTHER_CUST, 1, 50.0)):
            conn.execute(
                sa.insert(D),
                [
                    {
                        **fetch(sl_engine, D, D.c.RefNbr == INVOICE)[0],
                        "RefNbr": ref,
                        "CustId": cust,
                        "OpenDoc": open_doc,
                        "DocBal": bal,
                        "CuryDocBal": bal,
                        "tstamp": None,
                    }
                ],
            )
    res = SLWriter(sl_engine).write_batch(
        pay_batch(
            payment(2001, "100.00", ("999999", "100.00")),  # missing
            payment(2002, "100.00", ("000452", "100.00")),  # closed
            payment(2003, "50.00", ("000453", "50.00")),  # other customer's
            payment(2004, "250.00", (INVOICE, "250.00")),  # fits
            payment(2005, "60.00", (INVOICE, "60.00")),  # 250 applied in this batch: 50 left, split
            payment(2006, "5.00", review_reason="customer matched by e-mail only"),
            payment(2007, "10.00", (INVOICE, "10.00")),  # nothing left: unapplied
        )
    )
    assert (res.posted, res.review_items) == (7, 6)
    codes = {r["ledger_key"]: r["reason_code"] for r in reviews(sl_engine)}
    assert codes == {
        "paytrace:2001:payment": "appl_invoice_missing",
        "paytrace:2002:payment": "appl_invoice_closed",
        "paytrace:2003:payment": "appl_wrong_customer",
        "paytrace:2005:payment": "appl_partial",
        "paytrace:2006:payment": "plan_review",
        "paytrace:2007:payment": "appl_short_balance",
    }
    lines = fetch(sl_engine, T, T.c.BatNbr == res.bat_nbr)
    assert [(t["RefNbr"], t["SiteId"], t["TranAmt"]) for t in lines] == [
        ("2004", INVOICE, 250.0),
        ("2005", INVOICE, 50.0),  # min(payment, open balance − pending), the rest on account
    ]
    pa = fetch(sl_engine, D, D.c.RefNbr == "2005")[0]
    assert (pa["OrigDocAmt"], pa["ApplAmt"]) == (60.0, 50.0)
    assert fetch(sl_engine, B, B.c.BatNbr == res.bat_nbr)[0]["CrTot"] == 575.0  # every payment still posted


def test_unreleased_invoice_is_not_applied(sl_engine: sa.Engine) -> None:
    with sl_engine.begin() as conn:
        conn.execute(sa.update(D).where(D.c.RefNbr == INVOICE).values(Rlsed=0))
    res = SLWriter(sl_engine).write_batch(pay_batch(payment(2101, "300.00", (INVOICE, "300.00"))))
    assert res.outcomes["paytrace:2101:payment"].outcome == "review"
    assert reviews(sl_engine)[0]["reason_code"] == "appl_invoice_unreleased"
    assert count(sl_engine, T) == 0


def test_refund_document_set_nets_to_refunds_vs_clearing(sl_engine: sa.Engine) -> None:
    refund = PlannedRefund(
        3001, CUST, Decimal("45.44"), DOC_DATE, CLEARING, REFUNDS, "Refund x1111", reverses_invoice=INVOICE
    )
    res = SLWriter(sl_engine).write_batch(PlannedBatch(PostingKind.REFUND, CPNY, (refund,)))
    assert (res.bat_nbr, res.outcomes[refund.ledger_key].ref_nbr) == ("000101", "000501")
    docs = {d["DocType"]: d for d in fetch(sl_engine, D, D.c.BatNbr == "000101")}
    assert set(docs) == {"CM", "DM"} and docs["CM"]["RefNbr"] == "000501" and docs["DM"]["RefNbr"] == "000502"
    assert all((d["BankAcct"], d["OrigDocAmt"], d["Rlsed"]) == (AR.acct, 45.44, 0) for d in docs.values())
    lines = {t["TranType"]: t for t in fetch(sl_engine, T, T.c.BatNbr == "000101")}
    assert (lines["CM"]["DrCr"], lines["CM"]["Acct"]) == ("D", REFUNDS.acct)
    assert (lines["DM"]["DrCr"], lines["DM"]["Acct"]) == ("C", CLEARING.acct)
    batch = fetch(sl_engine, B, B.c.BatNbr == "000101")[0]
    assert batch["EditScrnNbr"] == "08010" and batch["CuryCrTot"] == 90.88  # Σ CuryOrigDocAmt (12123)
    assert {r["RefNbr"]: r["DocType"] for r in fetch(sl_engine, catalog.RefNbr)} == {
        "000501": "CM",
        "000502": "DM",
    }
    assert fetch(sl_engine, catalog.ARSetup)[0]["LastRefNbr"] == "000502"
    gl = simulate_release_gl(sl_engine, "AR", "000101")
    assert gl == {REFUNDS.acct: Decimal("45.44"), CLEARING.acct: Decimal("-45.44")}  # A/R nets to zero
    assert AR.acct not in gl


def test_refund_skips_reference_numbers_sl_users_took(sl_engine: sa.Engine) -> None:
    with sl_engine.begin() as conn:
        taken = complete_row(catalog.RefNbr, {"RefNbr": "000501", "DocType": "IN"}, include_identity=False)
        conn.execute(sa.insert(catalog.RefNbr), [taken])  # SL's 29-column row: no DEFAULTs to lean on
    refund = PlannedRefund(3101, CUST, Decimal("1.00"), DOC_DATE, CLEARING, REFUNDS, reverses_invoice=INVOICE)
    res = SLWriter(sl_engine).write_batch(PlannedBatch(PostingKind.REFUND, CPNY, (refund,)))
    assert res.outcomes[refund.ledger_key].message == "CM 000502 + DM 000503"


def test_refund_of_money_on_account_is_a_debit_memo_alone(sl_engine: sa.Engine) -> None:
    """Issue 11 §1: no invoice reversed → DM (Dr A/R, Cr clearing) only, no sales returns; a review item
    names the customer's unapplied payment to apply to it once both are released."""
    writer = SLWriter(sl_engine)
    writer.write_batch(pay_batch(payment(3201, "45.44"), payment(3202, "10.00")))
    refund = PlannedRefund(3203, CUST, Decimal("45.44"), DOC_DATE, CLEARING, REFUNDS)
    res = writer.write_batch(PlannedBatch(PostingKind.REFUND, CPNY, (refund,)))
    assert (res.bat_nbr, res.posted, res.review_items) == ("000102", 1, 1)
    docs = fetch(sl_engine, D, D.c.BatNbr == "000102")
    assert [(d["DocType"], d["RefNbr"], d["OrigDocAmt"]) for d in docs] == [("DM", "000501", 45.44)]
    assert fetch(sl_engine, B, B.c.BatNbr == "000102")[0]["CuryCrTot"] == 45.44
    assert fetch(sl_engine, catalog.ARSetup)[0]["LastRefNbr"] == "000501"
    (item,) = reviews(sl_engine)
    assert item["reason_code"] == "refund_apply_credit"
    assert f"apply PA 3201 of customer {CUST} to DM 000501" in item["reason"]  # 10.00 would not cover it
    gl = simulate_release_gl(sl_engine, "AR", "000102")
    assert gl == {AR.acct: Decimal("45.44"), CLEARING.acct: Decimal("-45.44")}  # no revenue account


@pytest.mark.parametrize(
    ("net", "debit", "credit"), [("1234.56", BANK, CLEARING), ("-20.00", CLEARING, BANK)]
)
def test_settlement_gl_batch(sl_engine: sa.Engine, net: str, debit: object, credit: object) -> None:
    item = PlannedSettlement(777, DOC_DATE, Decimal(net), CLEARING, BANK)
    res = SLWriter(sl_engine, batch_status="B").write_batch(
        PlannedBatch(PostingKind.SETTLEMENT, CPNY, (item,))
    )
    assert (res.module, res.bat_nbr) == ("GL", "004712")
    batch = fetch(sl_engine, B, B.c.Module == "GL")[0]
    amount = abs(float(net))
    assert (batch["EditScrnNbr"], batch["JrnlType"], batch["Status"], batch["LedgerID"]) == (
        "01010",
        "GJ",
        "B",
        "ACTUAL",
    )
    assert batch["CrTot"] == batch["DrTot"] == batch["CtrlTot"] == amount and batch["BalanceType"] == "A"
    lines = fetch(sl_engine, G, G.c.BatNbr == "004712")
    assert [(g["Acct"], g["DrAmt"], g["CrAmt"]) for g in lines] == [
        (debit.acct, amount, 0.0),  # type: ignore[attr-defined]
        (credit.acct, 0.0, amount),
    ]  # type: ignore[attr-defined]
    assert all(
        (g["Module"], g["Posted"], g["Rlsed"], g["PerPost"]) == ("GL", "U", 0, PER_POST) for g in lines
    )
    assert fetch(sl_engine, catalog.GLSetup)[0]["LastBatNbr"] == "004712"


def test_void_before_release_removes_payment_and_fixes_totals(sl_engine: sa.Engine) -> None:
    writer = SLWriter(sl_engine)
    writer.write_batch(pay_batch(payment(4001, "300.00", (INVOICE, "300.00")), payment(4002, "12.34")))
    res = writer.write_batch(PlannedBatch(PostingKind.VOID, CPNY, (PlannedVoid(4001, DOC_DATE),)))
    assert (res.removed, res.bat_nbr) == (1, "000101")
    assert [d["RefNbr"] for d in fetch(sl_engine, D, D.c.DocType == "PA")] == ["4002"]
    assert count(sl_engine, T) == 0
    batch = fetch(sl_engine, B, B.c.BatNbr == "000101")[0]
    assert (batch["CrTot"], batch["CuryCtrlTot"], batch["Status"]) == (12.34, 12.34, "H")
    status = {r["ledger_key"]: r["status"] for r in fetch(sl_engine, xPTLedger)}
    assert status["paytrace:4001:payment"] == "removed" and status["paytrace:4001:void"] == "posted"
    # Voiding the last payment voids the emptied batch (Status V, zero totals).
    writer.write_batch(PlannedBatch(PostingKind.VOID, CPNY, (PlannedVoid(4002, DOC_DATE),)))
    batch = fetch(sl_engine, B, B.c.BatNbr == "000101")[0]
    assert (batch["Status"], batch["CrTot"], batch["Rlsed"]) == ("V", 0.0, 0)
    # Re-running the void is a no-op.
    again = writer.write_batch(PlannedBatch(PostingKind.VOID, CPNY, (PlannedVoid(4002, DOC_DATE),)))
    assert again.already_posted == 1


def test_void_after_release_raises_review_item_only(sl_engine: sa.Engine) -> None:
    writer = SLWriter(sl_engine)
    writer.write_batch(pay_batch(payment(5001, "300.00", (INVOICE, "300.00"))))
    with sl_engine.begin() as conn:  # an SL user released the batch
        conn.execute(sa.update(B).where(B.c.BatNbr == "000101").values(Status="U", Rlsed=1))
    before = snapshot(sl_engine)
    res = writer.write_batch(PlannedBatch(PostingKind.VOID, CPNY, (PlannedVoid(5001, DOC_DATE),)))
    assert (res.removed, res.review_items) == (0, 1)
    review = reviews(sl_engine)[0]
    assert review["reason_code"] == "void_after_release" and "NS/RP" in str(review["reason"])
    after = snapshot(sl_engine)
    assert after[1:3] == before[1:3]  # ARDoc and ARTran counts unchanged


def test_value_too_long_names_table_column_and_writes_nothing(sl_engine: sa.Engine) -> None:
    # Keys never get cut (free-text descriptions do, as SL's screens do: see writer.fit_text).
    before = snapshot(sl_engine)
    with pytest.raises(SLValueError, match=r"ARDoc\.CustId: longer than char\(15\)"):
        SLWriter(sl_engine).write_batch(pay_batch(payment(6001, "1.00", cust="C" * 16)))
    with pytest.raises(SLValueError, match=r"ARDoc\.RefNbr"):
        SLWriter(sl_engine).write_batch(pay_batch(payment(12345678901, "1.00")))
    assert snapshot(sl_engine) == before


def test_long_description_is_cut_to_the_column_width(sl_engine: sa.Engine) -> None:
    res = SLWriter(sl_engine).write_batch(pay_batch(payment(6002, "1.00", description="y" * 40)))
    assert [d["DocDesc"] for d in fetch(sl_engine, D, D.c.BatNbr == res.bat_nbr)] == ["y" * 30]


def test_preflight_failure_rolls_the_batch_back(sl_engine: sa.Engine) -> None:
    before = snapshot(sl_engine)
    with pytest.raises(PreflightFailed) as err:
        SLWriter(sl_engine).write_batch(pay_batch(payment(7001, "1.00", cust="NOSUCH")))
    assert [f.error for f in err.value.findings] == [12347]
    assert snapshot(sl_engine) == before  # batch number not consumed either


def test_batch_spanning_fiscal_periods_is_refused(sl_engine: sa.Engine) -> None:
    late = PlannedPayment(8002, CUST, Decimal("1"), dt.date(2024, 4, 2), CLEARING)
    with pytest.raises(WriterError, match="spans fiscal periods"):
        SLWriter(sl_engine).write_batch(pay_batch(payment(8001, "1.00"), late))
    res = SLWriter(sl_engine).write_batch(pay_batch(payment(8001, "1.00"), late, per_post="202410"))
    assert fetch(sl_engine, B, B.c.BatNbr == res.bat_nbr)[0]["PerPost"] == "202410"


def test_amounts_rounded_to_currency_decimals_at_write_time(sl_engine: sa.Engine) -> None:
    res = SLWriter(sl_engine).write_batch(pay_batch(payment(9001, "10.005"), payment(9002, "0.004")))
    amounts = sorted(d["OrigDocAmt"] for d in fetch(sl_engine, D, D.c.DocType == "PA"))
    assert amounts == [0.0, 10.01]
    assert fetch(sl_engine, B, B.c.BatNbr == res.bat_nbr)[0]["CrTot"] == 10.01


def test_large_batch_copy_path_writes_the_same_rows_as_row_by_row(sl_pg_engine: sa.Engine) -> None:
    """PostgreSQL bulk path (COPY above COPY_THRESHOLD rows) vs the naive one-INSERT-per-row path."""
    from paytrace_sl.sl.writer import COPY_THRESHOLD

    n = COPY_THRESHOLD + 5
    fast = SLWriter(sl_pg_engine).write_batch(pay_batch(*(payment(10_000 + i, "1.25") for i in range(n))))
    slow = SLWriter(sl_pg_engine, bulk=False).write_batch(
        pay_batch(*(payment(20_000 + i, "1.25") for i in range(n)))
    )
    assert (fast.posted, slow.posted) == (n, n)

    def normalised(bat_nbr: str) -> list[dict[str, object]]:
        skip = {"RefNbr", "BatNbr", "ApplBatNbr", "Crtd_DateTime", "LUpd_DateTime", "tstamp"}
        docs = fetch(sl_pg_engine, D, D.c.BatNbr == bat_nbr)
        return sorted(({k: v for k, v in d.items() if k not in skip} for d in docs), key=repr)

    assert normalised(fast.bat_nbr) == normalised(slow.bat_nbr)
    assert count(sl_pg_engine, xPTLedger) == 2 * n
    assert fetch(sl_pg_engine, B, B.c.BatNbr == fast.bat_nbr)[0]["CrTot"] == float(Decimal("1.25") * n)
