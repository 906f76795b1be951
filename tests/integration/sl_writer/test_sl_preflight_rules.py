"""Every preflight rule: break what SL's release checks, see SL's error number (or our documented one)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from slw_support import BANK, CLEARING, CPNY, CUST, DOC_DATE, INVOICE, REFUNDS, pg_url, reset_sl
from typer.testing import CliRunner

from paytrace_sl.plan import (
    InvoiceApplication,
    PlannedBatch,
    PlannedPayment,
    PlannedRefund,
    PlannedSettlement,
    PostingKind,
    PostingPlan,
)
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.preflight import run_preflight
from paytrace_sl.sl.writer import SLWriter

pytestmark = pytest.mark.integration

B, D, T, G = catalog.Batch, catalog.ARDoc, catalog.ARTran, catalog.GLTran
PAY_BAT, MEMO_BAT, GL_BAT = "000101", "000102", "004712"

PLAN = PostingPlan(
    (
        PlannedBatch(
            PostingKind.PAYMENT,
            CPNY,
            (
                PlannedPayment(
                    81234567,
                    CUST,
                    Decimal("300.00"),
                    DOC_DATE,
                    CLEARING,
                    (InvoiceApplication(INVOICE, Decimal("250.00")),),
                ),
                PlannedPayment(81234568, CUST, Decimal("19.99"), DOC_DATE, CLEARING),
            ),
        ),
        PlannedBatch(
            PostingKind.REFUND,
            CPNY,
            (
                PlannedRefund(
                    81234569, CUST, Decimal("45.44"), DOC_DATE, CLEARING, REFUNDS, reverses_invoice=INVOICE
                ),
            ),
        ),
        PlannedBatch(
            PostingKind.SETTLEMENT,
            CPNY,
            (PlannedSettlement(9001, DOC_DATE, Decimal("274.55"), CLEARING, BANK),),
        ),
    )
)

Breaker = Callable[[sa.Connection], None]


def upd(tbl: sa.Table, where: list[sa.ColumnElement[bool]], **values: object) -> Breaker:
    return lambda conn: conn.execute(sa.update(tbl).where(*where).values(**values))


def dele(tbl: sa.Table, where: list[sa.ColumnElement[bool]]) -> Breaker:
    return lambda conn: conn.execute(sa.delete(tbl).where(*where))


def dup_payment(conn: sa.Connection) -> None:
    row = dict(conn.execute(sa.select(D).where(D.c.RefNbr == "81234568")).mappings().one())
    row.update(BatSeq=1, tstamp=None)
    conn.execute(sa.insert(D).values(row))


PA_LINE = [T.c.BatNbr == PAY_BAT, T.c.DrCr == "U"]
PA_DOC = [D.c.BatNbr == PAY_BAT, D.c.RefNbr == "81234567"]
INV = [D.c.RefNbr == INVOICE, D.c.DocType == "IN"]

RULES: list[tuple[str, Breaker, int]] = [
    ("batch totals", upd(B, [B.c.BatNbr == PAY_BAT, B.c.Module == "AR"], CuryCrTot=1.0), 12123),
    ("control total", upd(B, [B.c.BatNbr == MEMO_BAT, B.c.Module == "AR"], CtrlTot=2.0), 12123),
    ("cury <> base", upd(T, PA_LINE, TranAmt=251.0), 12124),
    ("memo without lines", dele(T, [T.c.BatNbr == MEMO_BAT, T.c.TranType == "CM"]), 12125),
    ("blank ARTran RefNbr", upd(T, [T.c.BatNbr == MEMO_BAT, T.c.TranType == "DM"], RefNbr=" "), 12125),
    ("line without document", upd(T, [T.c.BatNbr == MEMO_BAT, T.c.TranType == "DM"], RefNbr="999999"), 12126),
    ("unknown customer", upd(D, [D.c.BatNbr == PAY_BAT, D.c.RefNbr == "81234568"], CustId="NOSUCH"), 12347),
    ("blank cash account", upd(D, PA_DOC, BankAcct=" "), 6928),
    ("unknown account", upd(D, PA_DOC, BankAcct="9999"), 6928),
    ("inactive account", upd(T, PA_LINE, Acct="1999"), 6928),
    ("blank subaccount", upd(D, [D.c.BatNbr == MEMO_BAT, D.c.DocType == "CM"], BankSub=" "), 6929),
    ("unknown subaccount", upd(D, PA_DOC, BankSub="BADSUB"), 6929),
    ("unknown GL account", upd(G, [G.c.BatNbr == GL_BAT, G.c.DrAmt > 0], Acct="9999"), 6928),
    ("application to missing invoice", upd(T, PA_LINE, SiteId="999999"), 90301),
    ("application to unreleased invoice", upd(D, INV, Rlsed=0), 12306),
    ("application to closed invoice", upd(D, INV, OpenDoc=0, DocBal=0.0, CuryDocBal=0.0), 90302),
    ("application exceeds balance", upd(D, INV, DocBal=100.0, CuryDocBal=100.0), 90303),
    ("two PerPosts in a batch", upd(D, PA_DOC, PerPost="202410"), 90310),
    ("two PerPosts in a GL batch", upd(G, [G.c.BatNbr == GL_BAT, G.c.DrAmt > 0], PerPost="202410"), 90310),
    ("required value blank", upd(G, [G.c.BatNbr == GL_BAT], LedgerID=" "), 90322),
    ("GL out of balance", upd(G, [G.c.BatNbr == GL_BAT, G.c.CrAmt > 0], CrAmt=1.0), 6019),
    ("GL batch totals", upd(B, [B.c.BatNbr == GL_BAT, B.c.Module == "GL"], DrTot=1.0), 8888),
    ("blank EditScrnNbr", upd(B, [B.c.BatNbr == PAY_BAT, B.c.Module == "AR"], EditScrnNbr=" "), 12319),
    ("missing batch", dele(B, [B.c.BatNbr == PAY_BAT, B.c.Module == "AR"]), 12319),
    ("duplicate payment reference", dup_payment, 90330),
]


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def written(
    request: pytest.FixtureRequest,
    sl_pg_template: str,
    sl_sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[sa.Engine]:
    """The plan written once per backend; each rule breaks it inside a transaction that is rolled back."""
    if request.param == "postgresql":
        engine = create_sl_engine(pg_url(sl_pg_template))
        reset_sl(engine)
    else:
        path = tmp_path_factory.mktemp("preflight") / "sl.db"
        shutil.copyfile(sl_sqlite_template, path)
        engine = create_sl_engine(f"sqlite:///{path}")
    res = SLWriter(engine).write_plan(PLAN)
    assert [b.bat_nbr for b in res.batches] == [PAY_BAT, MEMO_BAT, GL_BAT]
    with engine.connect() as conn:
        assert run_preflight(conn) == []  # clean before we break anything
    yield engine
    engine.dispose()


@contextmanager
def broken(engine: sa.Engine, breaker: Breaker) -> Iterator[sa.Connection]:
    """A connection seeing the batch broken by ``breaker``; the change is rolled back afterwards."""
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            breaker(conn)
            yield conn
        finally:
            trans.rollback()


@pytest.mark.parametrize(("name", "breaker", "error"), RULES, ids=[r[0] for r in RULES])
def test_rule(written: sa.Engine, name: str, breaker: Breaker, error: int) -> None:
    with broken(written, breaker) as conn:
        findings = run_preflight(conn)
    assert error in {f.error for f in findings}, f"{name}: {[str(f) for f in findings]}"
    hit = next(f for f in findings if f.error == error)
    assert hit.bat_nbr in (PAY_BAT, MEMO_BAT, GL_BAT) and hit.message and hit.module in ("AR", "GL")


def test_released_batches_are_out_of_scope(written: sa.Engine) -> None:
    release = upd(B, [B.c.BatNbr == PAY_BAT, B.c.Module == "AR"], CuryCrTot=1.0, Rlsed=1, Status="U")
    with broken(written, release) as conn:
        assert run_preflight(conn) == []


def test_scope_by_batch_and_module(written: sa.Engine) -> None:
    with broken(written, upd(B, [B.c.BatNbr == PAY_BAT, B.c.Module == "AR"], CuryCrTot=1.0)) as conn:
        assert run_preflight(conn, bat_nbr=MEMO_BAT) == []
        assert run_preflight(conn, module="GL") == []
        assert {f.error for f in run_preflight(conn, module="AR", bat_nbr=PAY_BAT)} == {12123}


def _sqlite_path(engine: sa.Engine) -> str:
    return str(engine.url.database)


def test_over_long_value_and_null_found_on_a_lax_replica(sl_sqlite_engine: sa.Engine) -> None:
    """SQL Server cannot hold them, but a replica without CHECK/NOT NULL can: preflight still sees them."""
    SLWriter(sl_sqlite_engine).write_plan(PLAN)
    sl_sqlite_engine.dispose()
    with sqlite3.connect(_sqlite_path(sl_sqlite_engine)) as raw:
        raw.execute("PRAGMA ignore_check_constraints = ON")
        raw.execute("UPDATE ARDoc SET DocDesc = ? WHERE RefNbr = '81234568'", ("x" * 31,))
        raw.execute("PRAGMA writable_schema = ON")
        raw.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'User1                CHAR(30)         NOT NULL', "
            "'User1 CHAR(30) NULL') WHERE name = 'ARTran'"
        )
    with sqlite3.connect(_sqlite_path(sl_sqlite_engine)) as raw:
        raw.execute("UPDATE ARTran SET User1 = NULL WHERE DrCr = 'U'")
    with sl_sqlite_engine.connect() as conn:
        errors = {f.error for f in run_preflight(conn)}
    assert {90320, 90321} <= errors


def test_cli_preflight_table_json_and_exit_code(sl_sqlite_engine: sa.Engine) -> None:
    from paytrace_sl.cli import app

    SLWriter(sl_sqlite_engine).write_plan(PLAN)
    url = sl_sqlite_engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    clean = runner.invoke(app, ["sl", "preflight", "--sl-url", url])
    assert clean.exit_code == 0, clean.output
    assert "no findings" in clean.output
    with sl_sqlite_engine.begin() as conn:
        upd(B, [B.c.BatNbr == PAY_BAT, B.c.Module == "AR"], CuryCrTot=1.0)(conn)
    table = runner.invoke(app, ["sl", "preflight", "--sl-url", url, "--batch", PAY_BAT])
    assert table.exit_code == 1 and "12123" in table.output
    as_json = runner.invoke(app, ["sl", "preflight", "--sl-url", url, "--json"])
    assert as_json.exit_code == 1
    found = json.loads(as_json.output)
    assert found[0]["error"] == 12123 and found[0]["bat_nbr"] == PAY_BAT and found[0]["title"]
