"""Seed and inspection helpers for the SL writer tests: minimal SL setup rows, row fetch, release simulation.

The seed inserts only what SL itself would hold: setup rows, the chart of accounts used, one customer and
a released, open invoice. ARDoc/ARTran/GLTran have no DEFAULTs in SL's DDL, so a writer that forgot a
column fails here. Fiscal year July–June (``NbrPer`` 12, ``BegFiscalYr`` 0): 2024-03-15 is period
``202409`` — PerPost is fiscal, not the calendar month.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.plan import Account
from paytrace_sl.sl import catalog, own_tables
from paytrace_sl.sl.rows import complete_row

CPNY = "CO1"
BANK = Account("1010", "000000")  # Cash - operating bank account
CLEARING = Account("1050", "000000")  # PayTrace card clearing
AR = Account("1200", "000000")  # Accounts receivable
SALES = Account("4000", "000000")
REFUNDS = Account("4900", "000000")  # Sales returns & refunds
DOC_DATE = dt.date(2024, 3, 15)
PER_POST = "202409"  # July–June fiscal year named by its end year: March 2024 = period 9 of FY2024
INVOICE = "000451"
INVOICE_AMOUNT = Decimal("300.00")
CUST = "C100"
OTHER_CUST = "C200"

FISCAL_ENDS = ("0731", "0831", "0930", "1031", "1130", "1231", "0131", "0229", "0331", "0430", "0531", "0630")


def _audit() -> dict[str, Any]:
    now = dt.datetime(2024, 3, 1, 9, 0)
    return {
        "Crtd_DateTime": now,
        "Crtd_Prog": "01950",
        "Crtd_User": "SYSADMIN",
        "LUpd_DateTime": now,
        "LUpd_Prog": "01950",
        "LUpd_User": "SYSADMIN",
    }


def seed_sl(engine: sa.Engine, *, invoice_rlsed: int = 1) -> None:
    """Insert the setup rows, accounts, customers and one released open invoice; install our tables."""
    with engine.begin() as conn:
        seed_rows(conn, invoice_rlsed=invoice_rlsed)
    own_tables.install(engine)


def reset_sl(engine: sa.Engine) -> None:
    """Back to the seeded state: empty every SL and xPT table (except the schema version), seed again."""
    keep = {"xPTSchemaVer"}
    with engine.begin() as conn:
        for tbl in (*catalog.TABLES.values(), *own_tables.OWN_TABLES.values()):
            if tbl.name not in keep:
                conn.execute(sa.delete(tbl))
        seed_rows(conn)


def seed_rows(conn: sa.Connection, *, invoice_rlsed: int = 1) -> None:
    """The seed's rows (SL setup, accounts, customers, one invoice) inside an open transaction."""
    conn.execute(
        sa.insert(catalog.GLSetup).values(
            SetupId="GL",
            CpnyId=CPNY,
            CpnyName="Contoso Supply",
            BaseCuryId="USD",
            LedgerID="ACTUAL",
            PerNbr=PER_POST,
            LastClosePerNbr="202408",
            NbrPer=12,
            BegFiscalYr=0,
            LastBatNbr="004711",
            **{f"FiscalPerEnd{i:02d}": end for i, end in enumerate(FISCAL_ENDS)},
            FiscalPerEnd12=" ",
            AutoRef="1",
            AutoRevOpt=" ",
            MCActive=0,
            Mult_Cpny_Db=0,
            Central_Cash_Cntl=0,
            RetEarnAcct="3900",
            YtdNetIncAcct="3950",
            ValidateAcctSub=0,
        )
    )
    conn.execute(
        sa.insert(catalog.ARSetup).values(
            SetupId="AR",
            ArAcct=AR.acct,
            ArSub=AR.sub,
            ChkAcct=BANK.acct,
            ChkSub=BANK.sub,
            DiscAcct="4100",
            DiscSub="000000",
            PrePayAcct="2300",
            PrePaySub="000000",
            RfndAcct=REFUNDS.acct,
            RfndSub=REFUNDS.sub,
            DfltNSFAcct="1200",
            DfltNSFSub="000000",
            DfltSBWOAcct="6900",
            DfltSBWOSub="000000",
            DfltSCWOAcct="6900",
            DfltSCWOSub="000000",
            AutoNSF=0,
            AutoRef=1,
            GLPostOpt="D",
            LastBatNbr="000100",
            LastRefNbr="000500",
            LastCrMemoNbr=" ",
            LastDrMemoNbr=" ",
            LastFinChrgRefNbr=" ",
            LastWORefNbr=" ",
            NSFChrg=0.0,
            PerNbr=PER_POST,
            CurrPerNbr=PER_POST,
            SBLimit=0.0,
            TranDescDflt="C",
            **_audit(),
            NoteId=0,
        )
    )
    conn.execute(sa.insert(catalog.Currncy).values(CuryId="USD", DecPl=2, Descr="US Dollar"))
    conn.execute(
        sa.insert(catalog.vs_Company).values(
            CpnyID=CPNY,
            CpnyName="Contoso Supply",
            DatabaseName="CONTOSOAPP",
            BaseCuryID="USD",
            CpnyCOA=" ",
            CpnySub=" ",
            InterCpnyID=" ",
            Active=1,
        )
    )
    for acct, atype, descr in (
        ("1010", "1A", "Cash - operating"),
        ("1050", "1A", "PayTrace card clearing"),
        ("1200", "1A", "Accounts receivable"),
        ("4000", "3I", "Sales"),
        ("4900", "3I", "Sales returns & refunds"),
        ("1999", "1A", "Old account"),
    ):
        conn.execute(
            sa.insert(catalog.Account).values(
                Acct=acct, AcctType=atype, Active=0 if acct == "1999" else 1, CuryId="USD", Descr=descr
            )
        )
    conn.execute(sa.insert(catalog.SubAcct).values(Sub="000000", Active=1, ConsolSub=" ", Descr="Company"))
    for cust, name in ((CUST, "Acme Hardware"), (OTHER_CUST, "Globex Retail")):
        conn.execute(
            sa.insert(catalog.Customer).values(
                CustId=cust,
                Name=name,
                Status="A",
                ArAcct=AR.acct,
                ArSub=AR.sub,
                SlsAcct=SALES.acct,
                SlsSub=SALES.sub,
                CuryId="USD",
                Terms="30",
                ClassId="RETAIL",
            )
        )
    invoice_batch = complete_row(
        catalog.Batch,
        {
            "Module": "AR",
            "BatNbr": "000050",
            "CpnyID": CPNY,
            "EditScrnNbr": "08010",
            "JrnlType": "AR",
            "BatType": "N",
            "Status": "P" if invoice_rlsed else "H",
            "Rlsed": invoice_rlsed,
            "PerPost": "202408",
            "PerEnt": "202408",
            "CuryId": "USD",
            "BaseCuryID": "USD",
            "CuryMultDiv": "M",
            "CuryRate": 1.0,
            "LedgerID": "ACTUAL",
            "CtrlTot": 300.0,
            "CrTot": 300.0,
            "CuryCtrlTot": 300.0,
            "CuryCrTot": 300.0,
            "DateEnt": dt.date(2024, 2, 20),
            **_audit(),
        },
        include_identity=False,
    )
    conn.execute(sa.insert(catalog.Batch), [invoice_batch])
    conn.execute(
        sa.insert(catalog.ARDoc),
        [
            complete_row(
                catalog.ARDoc,
                {
                    "CustId": CUST,
                    "DocType": "IN",
                    "RefNbr": INVOICE,
                    "BatNbr": "000050",
                    "CpnyID": CPNY,
                    "DocDate": dt.date(2024, 2, 20),
                    "DueDate": dt.date(2024, 3, 21),
                    "BankAcct": AR.acct,
                    "BankSub": AR.sub,
                    "CuryOrigDocAmt": 300.0,
                    "OrigDocAmt": 300.0,
                    "CuryDocBal": 300.0,
                    "DocBal": 300.0,
                    "CuryId": "USD",
                    "CuryMultDiv": "M",
                    "CuryRate": 1.0,
                    "DocClass": "N",
                    "OpenDoc": 1,
                    "Rlsed": invoice_rlsed,
                    "PerEnt": "202408",
                    "PerPost": "202408",
                    "Terms": "30",
                    "LineCntr": 1,
                    **_audit(),
                },
                include_identity=False,
            )
        ],
    )


def pg_url(name: str) -> str:
    """SQLAlchemy URL of database ``name`` on the test PostgreSQL server."""
    import os

    admin = os.environ.get("PAYTRACE_SL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    return f"{admin.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"


def fetch(engine: sa.Engine, tbl: sa.Table, *where: Any) -> list[dict[str, Any]]:
    """Rows of an SL table as dicts, SL's char padding stripped (PostgreSQL pads CHAR, SQLite does not)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tbl).where(*where)).mappings().all()
    return [{k: (v.rstrip() if isinstance(v, str) else v) for k, v in r.items()} for r in rows]


def count(engine: sa.Engine, tbl: sa.Table, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(tbl).where(*where)).scalar_one())


def snapshot(engine: sa.Engine) -> tuple[Any, ...]:
    """Row counts of every table the writer may touch plus SL's number sequences — in one query."""
    from paytrace_sl.sl.own_tables import xPTLedger, xPTReview

    tables = (
        catalog.Batch,
        catalog.ARDoc,
        catalog.ARTran,
        catalog.GLTran,
        catalog.RefNbr,
        catalog.ARAdjust,
        catalog.AR_Balances,
        xPTLedger,
        xPTReview,
    )
    ar, gl = catalog.ARSetup, catalog.GLSetup
    cols: list[Any] = [sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in tables]
    cols += [
        sa.select(ar.c.LastBatNbr).where(ar.c.SetupId == "AR").scalar_subquery(),
        sa.select(ar.c.LastRefNbr).where(ar.c.SetupId == "AR").scalar_subquery(),
        sa.select(gl.c.LastBatNbr).where(gl.c.SetupId == "GL").scalar_subquery(),
        sa.select(sa.func.sum(catalog.Batch.c.CrTot)).scalar_subquery(),
    ]
    with engine.connect() as conn:
        return tuple(conn.execute(sa.select(*cols)).one())


def simulate_release_gl(engine: sa.Engine, module: str, bat_nbr: str) -> dict[str, Decimal]:
    """Net debit (+) / credit (-) per account that SL's release would post for a batch we wrote.

    Rules (docs/accounting.md, from pp_08400CreateOffset / pp_01400):
    * 08010 documents: each detail ARTran posts its DrCr ('D' debit, 'C' credit) to ARTran.Acct; the
      offset posts the document amount to ARDoc.BankAcct (A/R) — credit for CM, debit for IN/DM.
    * 08030 payments: debit ARDoc.BankAcct (cash/clearing) by the payment; credit A/R by the amount applied
      (U lines' Acct) and the unapplied rest to the customer's A/R account.
    * GL batches: GLTran DrAmt/CrAmt as written.
    """
    net: dict[str, Decimal] = {}

    def post(acct: str, amount: float) -> None:
        net[acct] = net.get(acct, Decimal(0)) + Decimal(str(amount))

    if module == "GL":
        for line in fetch(
            engine, catalog.GLTran, catalog.GLTran.c.Module == "GL", catalog.GLTran.c.BatNbr == bat_nbr
        ):
            post(line["Acct"], line["DrAmt"] - line["CrAmt"])
        return net
    docs = fetch(engine, catalog.ARDoc, catalog.ARDoc.c.BatNbr == bat_nbr)
    lines = fetch(engine, catalog.ARTran, catalog.ARTran.c.BatNbr == bat_nbr)
    customers = {c["CustId"]: c for c in fetch(engine, catalog.Customer)}
    for doc in docs:
        mine = [
            t
            for t in lines
            if (t["CustId"], t["TranType"], t["RefNbr"]) == (doc["CustId"], doc["DocType"], doc["RefNbr"])
        ]
        if doc["DocType"] == "PA":
            post(doc["BankAcct"], doc["OrigDocAmt"])
            applied = sum(t["TranAmt"] for t in mine if t["DrCr"] == "U")
            for t in mine:
                post(t["Acct"], -t["TranAmt"])
            post(customers[doc["CustId"]]["ArAcct"], -(doc["OrigDocAmt"] - applied))
            continue
        for t in mine:
            post(t["Acct"], t["TranAmt"] if t["DrCr"] == "D" else -t["TranAmt"])
        sign = -1 if doc["DocType"] in ("CM", "PA", "PP") else 1
        post(doc["BankAcct"], sign * doc["OrigDocAmt"])
    return {k: v.quantize(Decimal("0.01")) for k, v in net.items() if v}


def commit_posted_ledger_row(engine: sa.Engine, ledger_key: str, amount: str) -> None:
    """Another writer's committed ``posted`` ledger row for ``ledger_key`` (a concurrent run's claim)."""
    ledger = own_tables.xPTLedger
    row: dict[str, object] = {c.name: "" for c in ledger.columns if isinstance(c.type, sa.String)}
    now = dt.datetime.now(dt.UTC)
    row.update(
        ledger_key=ledger_key,
        kind="payment",
        status="posted",
        amount=Decimal(amount),
        posted_at=now,
        updated_at=now,
    )
    with engine.begin() as conn:
        conn.execute(sa.insert(ledger).values(row))
