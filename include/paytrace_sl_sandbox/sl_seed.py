"""Create and seed a SANDBOX Dynamics SL database (PostgreSQL or SQLite) for demos and tests.

The SL tables come from SL's replica DDL shipped in ``sl/ddl/`` (not from our catalog), plus the
PostgreSQL identity script; then our ``xPT*`` tables are installed and the database is seeded with
a company, GL/AR setup, a chart of accounts, and the customers, open released invoices and sales orders
of the same simulated merchant (:class:`paytrace_sl_sandbox.merchant.MerchantSimulation`) that the
PayTrace sandbox serves — so sandbox payments find their invoices.

Guard against seeding a real database:

* SQL Server URLs are refused outright: a production SL database lives on SQL Server.
* The database must be empty of SL rows. A database that already has SL rows is refused unless it
  carries our sandbox marker table ``xPTSandbox`` (written only by this module) *and* ``force=True``;
  then the seeded tables are emptied and re-seeded. No ``force`` makes a marker-less database with SL
  rows acceptable.
* Tables are never dropped.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.sl import catalog
from paytrace_sl.sl.catalog import live_table_names
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.fiscal import FiscalCalendar
from paytrace_sl.sl.own_tables import OWN_TABLES, InstallResult, install, utcnow, xPTCustXref
from paytrace_sl.sl.rows import blank_template, column_kinds
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation, SimCustomer
from paytrace_sl_sandbox.vault import SLTruth, sl_truth_from_sim

SANDBOX_MARKER = "xPTSandbox"
PROG = "PTSANDBX"  # Crtd_Prog / LUpd_Prog (char 8)
USER = "PAYTRACE"  # Crtd_User / LUpd_User (char 10)
SUB = "000000"
BATCH_WIDTH = 6
MAX_DOCS_PER_BATCH = 5000


class SandboxSeedError(PaytraceSlError, RuntimeError):
    """The target is not a database we may seed; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SandboxAccount:
    acct: str
    acct_type: str  # SL AcctType: 2nd char A/L/I/E
    descr: str


@dataclass(frozen=True, slots=True)
class SandboxSLConfig:
    """What the sandbox SL company looks like. Account numbers are the demo chart of accounts."""

    cpny_id: str = "PTDEMO"
    cpny_name: str = "PayTrace Demo Company"
    base_cury_id: str = "USD"
    cury_dec_pl: int = 2
    ledger_id: str = "ACTUAL"
    fiscal_first_month: int = 1  # 7 → July–June fiscal year (named by the year it ends)
    ar_last_bat_nbr: str = "000100"
    gl_last_bat_nbr: str = "000100"
    accounts: tuple[SandboxAccount, ...] = (
        SandboxAccount("1010", "1A", "Bank - operating"),
        SandboxAccount("1020", "1A", "Card clearing - PayTrace"),
        SandboxAccount("1030", "1A", "Undeposited funds"),
        SandboxAccount("1200", "1A", "Accounts receivable"),
        SandboxAccount("2150", "2L", "Customer refunds payable"),
        SandboxAccount("2300", "2L", "Customer deposits"),
        SandboxAccount("4000", "3I", "Sales"),
        SandboxAccount("4900", "3I", "Sales returns and allowances"),
        SandboxAccount("4950", "3I", "Sales discounts"),
        SandboxAccount("6150", "4E", "Merchant card fees"),
    )
    ar_acct: str = "1200"
    checking_acct: str = "1010"
    refund_acct: str = "2150"
    prepay_acct: str = "2300"
    discount_acct: str = "4950"
    sales_acct: str = "4000"
    unidentified_cust_id: str = "UNIDENTIFIED"
    # PayTrace customers whose SL id differs and that have no cross-reference yet (new in the vault, not
    # linked): their payments wait as unknown_customer until the vault profile is linked (make demo)
    unlinked_customers: int = 0


@dataclass(frozen=True, slots=True)
class SeedSummary:
    url: str  # password hidden
    dialect: str
    created_sl_tables: bool
    install: InstallResult
    cpny_id: str
    per_nbr: str
    accounts: int = 0
    customers: int = 0
    cust_xrefs: int = 0
    invoices: int = 0
    invoice_batches: int = 0
    sales_orders: int = 0
    duplicate_refs_skipped: int = 0
    seconds: float = 0.0


def _ddl(name: str) -> str:
    return resources.files("paytrace_sl.sl").joinpath("ddl", name).read_text()


def _statements(sql: str) -> list[str]:
    """Split the replica DDL into statements (it has no semicolons inside statements)."""
    lines = [ln.split("--", 1)[0] for ln in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


# SL's own secondary indexes on the tables the writer and its checks read (dynamics-sl.md §2.2, §2.3,
# §2.5, from SL's SSDT export [C S8]). The replica DDL carries primary keys only; a real SL database has
# these too, and without them every by-batch or by-RefNbr look-up scans a table that grows each day.
# Names marked "ours" are not given by the reference. ARTran's secondary indexes are not documented
# there, so none is invented for it.
SL_SECONDARY_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Batch1", "Batch", ("EditScrnNbr", "BatNbr")),  # ours
    ("Batch2", "Batch", ("Status", "Module", "BatNbr")),  # ours
    ("Batch3", "Batch", ("Module", "Status", "PerPost")),  # ours
    ("Batch4", "Batch", ("CpnyID", "Module", "BatNbr", "Status")),  # ours
    ("ARDoc2", "ARDoc", ("RefNbr",)),
    ("ARDoc8", "ARDoc", ("BatNbr", "CustId", "DocType", "RefNbr")),
    ("ARDoc17", "ARDoc", ("ApplBatNbr", "CustId", "DocType", "RefNbr")),
    ("ARDoc18", "ARDoc", ("CpnyID", "CustId", "DocType", "RefNbr", "Rlsed")),
    ("ARAdjust1", "ARAdjust", ("CustId", "AdjdDocType", "AdjdRefNbr", "AdjgDocDate")),  # ours
    ("ARAdjust2", "ARAdjust", ("CustId", "AdjgDocType", "AdjgRefNbr", "AdjgDocDate")),  # ours
    ("ARAdjust3", "ARAdjust", ("AdjBatNbr",)),  # ours
)


def create_sl_tables(conn: sa.Connection) -> None:
    """Run SL's replica DDL (and, on PostgreSQL, the RecordID identity script) — as a DBA would — plus
    SL's documented secondary indexes (:data:`SL_SECONDARY_INDEXES`)."""
    for stmt in _statements(_ddl("dynamics-sl-replica.sql")):
        conn.exec_driver_sql(stmt)
    if conn.dialect.name == "postgresql":
        for stmt in _statements(_ddl("dynamics-sl-replica-postgres.sql")):
            conn.exec_driver_sql(stmt)
    for name, table, columns in SL_SECONDARY_INDEXES:
        conn.exec_driver_sql(f"CREATE INDEX {name} ON {table} ({', '.join(columns)})")


def _guard(engine: sa.Engine, force: bool) -> bool:
    """Check the target may be seeded; return whether SL tables must be created."""
    if engine.dialect.name not in ("postgresql", "sqlite"):
        raise SandboxSeedError(
            f"refusing to seed a {engine.dialect.name} database: the sandbox is PostgreSQL or SQLite only "
            "(a SQL Server SL database is treated as production)"
        )
    with engine.connect() as conn:
        live = live_table_names(conn)
        sl_present = [t for t in catalog.TABLES if t.lower() in live]
        if not sl_present:
            return True
        missing = [t for t in catalog.TABLES if t.lower() not in live]
        if missing:
            raise SandboxSeedError(f"database has some SL tables but not {', '.join(missing)}: not a sandbox")
        with_rows = [
            t
            for t in sl_present
            if conn.execute(sa.select(sa.literal(1)).select_from(catalog.TABLES[t]).limit(1)).first()
        ]
        if not with_rows:
            return False
        marked = SANDBOX_MARKER.lower() in live
        if not marked:
            raise SandboxSeedError(
                f"database already holds SL data ({', '.join(with_rows)}) and is not marked as a sandbox "
                f"({SANDBOX_MARKER} missing): refusing to touch it, even with --force"
            )
        if not force:
            raise SandboxSeedError(
                f"sandbox database already seeded ({', '.join(with_rows)} have rows): pass --force to re-seed"
            )
    return False


def _clear_sandbox(conn: sa.Connection) -> None:
    """Empty the tables a previous seed (and sandbox pipeline runs) filled. Sandbox only; never DROP."""
    live = live_table_names(conn)
    for name in (*reversed(list(OWN_TABLES)), *catalog.TABLES):
        if name == "xPTSchemaVer":
            continue
        if name.lower() in live:
            conn.execute(sa.text(f"DELETE FROM {name}"))


def _mark(conn: sa.Connection, created_at: dt.datetime) -> None:
    if SANDBOX_MARKER.lower() not in live_table_names(conn):
        conn.execute(sa.text(f"CREATE TABLE {SANDBOX_MARKER} (created_at VARCHAR(40) NOT NULL)"))
    conn.execute(sa.text(f"DELETE FROM {SANDBOX_MARKER}"))
    conn.execute(
        sa.text(f"INSERT INTO {SANDBOX_MARKER} (created_at) VALUES (:t)"), {"t": created_at.isoformat()}
    )


def _row(tbl: sa.Table, now: dt.datetime, **values: object) -> dict[str, object]:
    row = dict(blank_template(tbl, False))
    audit = {
        "Crtd_DateTime": now,
        "Crtd_Prog": PROG,
        "Crtd_User": USER,
        "LUpd_DateTime": now,
        "LUpd_Prog": PROG,
        "LUpd_User": USER,
    }
    row.update({k: v for k, v in audit.items() if k in row})
    unknown = set(values) - set(row)
    if unknown:
        raise KeyError(f"{tbl.name} has no column(s) {sorted(unknown)}")
    kinds = column_kinds(tbl)
    for name, value in values.items():
        length = kinds[name][1]
        if length is not None and isinstance(value, str) and len(value) > length:
            raise SandboxSeedError(f"{tbl.name}.{name} is char({length}); value {value!r} is too long")
    row.update(values)
    return row


def _address_columns(truth: SLTruth | None) -> dict[str, object]:
    """Customer address and phone columns (main and bill-to) of a sandbox customer."""
    if truth is None:
        return {}
    values: dict[str, object] = {"Addr1": truth.street, "City": truth.city, "State": truth.state}
    values |= {"Zip": truth.postal_code}
    values |= {"Phone": truth.phone, "Country": "US"}
    return values | {f"Bill{k}": v for k, v in values.items()}


def _fiscal(cfg: SandboxSLConfig) -> FiscalCalendar:
    if cfg.fiscal_first_month == 1:
        return FiscalCalendar.calendar_year()
    return FiscalCalendar.starting_in_month(cfg.fiscal_first_month)


def _chunks(rows: list[dict[str, object]], size: int = 1000) -> Iterable[list[dict[str, object]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _insert(conn: sa.Connection, tbl: sa.Table, rows: list[dict[str, object]]) -> int:
    # COPY for SL's own tables only: our xPT* tables hold zone-aware instants that their column type
    # converts on bind (own_tables.UTCDateTime), which a raw COPY row would bypass.
    uniform = all(r.keys() == rows[0].keys() for r in rows)
    if rows and tbl.name in catalog.TABLES and conn.dialect.driver == "psycopg" and uniform:
        _copy(conn, tbl, rows)
        return len(rows)
    for chunk in _chunks(rows):
        conn.execute(sa.insert(tbl), chunk)
    return len(rows)


def _copy(conn: sa.Connection, tbl: sa.Table, rows: list[dict[str, object]]) -> None:
    """PostgreSQL ``COPY`` of uniform rows (a 1M-transaction sandbox seeds minutes faster than INSERTs)."""
    names = list(rows[0])
    prep = conn.dialect.identifier_preparer
    columns = ", ".join(prep.format_column(tbl.c[n]) for n in names)
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {prep.format_table(tbl)} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[n] for n in names])


def _rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _money(value: Decimal, places: int) -> float:
    """``value`` rounded to the currency's places, as the float an SL money column holds."""
    return float(_rounded(value, places))


def _seed(
    conn: sa.Connection, sim: MerchantSimulation, merchant: MerchantConfig, cfg: SandboxSLConfig
) -> dict[str, int]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)  # smalldatetime: minutes
    fiscal = _fiscal(cfg)
    per_nbr = fiscal.period_for(merchant.start)
    counts: dict[str, int] = {}

    conn.execute(
        sa.insert(catalog.vs_Company),
        [
            _row(
                catalog.vs_Company,
                now,
                CpnyID=cfg.cpny_id,
                CpnyName=cfg.cpny_name[:30],
                DatabaseName="SANDBOX",
                BaseCuryID=cfg.base_cury_id,
                Active=1,
            )
        ],
    )
    conn.execute(
        sa.insert(catalog.Currncy),
        [
            _row(
                catalog.Currncy,
                now,
                CuryId=cfg.base_cury_id,
                DecPl=cfg.cury_dec_pl,
                Descr="US Dollar",
            )
        ],
    )
    ends = {f"FiscalPerEnd{i:02d}": end for i, end in enumerate(fiscal.period_ends)}
    conn.execute(
        sa.insert(catalog.GLSetup),
        [
            _row(
                catalog.GLSetup,
                now,
                SetupId="GL",
                CpnyId=cfg.cpny_id,
                CpnyName=cfg.cpny_name[:30],
                BaseCuryId=cfg.base_cury_id,
                LedgerID=cfg.ledger_id,
                PerNbr=per_nbr,
                NbrPer=fiscal.nbr_per,
                BegFiscalYr=fiscal.beg_fiscal_yr,
                LastBatNbr=cfg.gl_last_bat_nbr,
                **ends,
            )
        ],
    )
    accounts = [
        _row(
            catalog.Account,
            now,
            Acct=a.acct,
            AcctType=a.acct_type,
            Active=1,
            CuryId=cfg.base_cury_id,
            Descr=a.descr[:30],
        )
        for a in cfg.accounts
    ]
    counts["accounts"] = _insert(conn, catalog.Account, accounts)
    _insert(conn, catalog.SubAcct, [_row(catalog.SubAcct, now, Sub=SUB, Active=1, Descr="Default")])

    # Customers: one SL customer per distinct SL CustId; every PayTrace customer gets a cross-reference.
    sim_customers: list[SimCustomer] = sim.customers()
    by_sl: dict[str, SimCustomer] = {}
    for c in sim_customers:
        by_sl.setdefault(c.sl_cust_id, c)
    # address and phone as sandbox/vault.py's ground truth has them (what assisted matching compares)
    truths = {t.cust_id: t for t in sl_truth_from_sim(sim)}
    customers = [
        _row(
            catalog.Customer,
            now,
            CustId=cust_id,
            Name=c.name[:60],
            BillName=c.name[:60],
            EMailAddr=c.email[:80],
            **_address_columns(truths.get(cust_id)),
            Status="A",
            ArAcct=cfg.ar_acct,
            ArSub=SUB,
            SlsAcct=cfg.sales_acct,
            SlsSub=SUB,
            PrePayAcct=cfg.prepay_acct,
            PrePaySub=SUB,
            CuryId=cfg.base_cury_id,
            Terms="30",
            ClassId="RETAIL",
            StmtCycleId="01",
            PerNbr=per_nbr,
            SetupDate=now,
        )
        for cust_id, c in sorted(by_sl.items())
    ]
    counts["customers"] = _insert(conn, catalog.Customer, customers)
    # The "unidentified receipts" customer SL users keep for card payments nobody can match yet
    # (mapping: customers.unmatched = unidentified). Not a PayTrace customer, so not counted above.
    unidentified = dict(customers[0]) if customers else None
    if unidentified is not None and cfg.unidentified_cust_id not in by_sl:
        unidentified.update(
            CustId=cfg.unidentified_cust_id,
            Name="Unidentified card receipts",
            BillName="Unidentified card receipts",
            EMailAddr=" ",
        )
        _insert(conn, catalog.Customer, [unidentified])
    aware_now = utcnow()
    unlinked = {c.customer_id for c in sim_customers if c.sl_cust_id != c.customer_id}
    unlinked = set(sorted(unlinked)[: cfg.unlinked_customers])
    counts["cust_xrefs"] = _insert(
        conn,
        xPTCustXref,
        [
            {
                "paytrace_customer_id": c.customer_id,
                "cust_id": c.sl_cust_id,
                "source": "sandbox",
                "active": 1,
                "created_at": aware_now,
                "updated_at": aware_now,
            }
            for c in sim_customers
            if c.customer_id not in unlinked
        ],
    )

    # Open, released invoices in released AR batches (one batch per fiscal period, ≤ MAX_DOCS_PER_BATCH).
    seen: set[str] = set()
    duplicates = 0
    by_period: dict[str, list[tuple[str, str, Decimal, dt.date]]] = defaultdict(list)
    for inv in sim.invoices():
        if inv.ref_nbr in seen:
            duplicates += 1
            continue
        seen.add(inv.ref_nbr)
        if inv.cust_id not in by_sl:
            raise SandboxSeedError(f"simulated invoice {inv.ref_nbr} names unknown SL customer {inv.cust_id}")
        by_period[fiscal.period_for(inv.doc_date)].append(
            (inv.ref_nbr, inv.cust_id, inv.amount, inv.doc_date)
        )
    batches, docs, trans, refnbrs = [], [], [], []
    balances: dict[str, Decimal] = defaultdict(Decimal)  # money stays Decimal until the row is built
    bat_seq = 0
    for period in sorted(by_period):
        invoices = sorted(by_period[period], key=lambda t: (t[3], t[0]))
        for start in range(0, len(invoices), MAX_DOCS_PER_BATCH):
            bat_seq += 1
            bat_nbr = f"{bat_seq:0{BATCH_WIDTH}d}"
            if int(bat_nbr) >= int(cfg.ar_last_bat_nbr):
                raise SandboxSeedError(
                    "too many invoice batches for ARSetup.LastBatNbr; raise ar_last_bat_nbr"
                )
            chunk = invoices[start : start + MAX_DOCS_PER_BATCH]
            total = _money(sum((amount for _, _, amount, _ in chunk), Decimal(0)), cfg.cury_dec_pl)
            batch_date = dt.datetime.combine(max(d for *_, d in chunk), dt.time())
            batches.append(
                _row(
                    catalog.Batch,
                    now,
                    Module="AR",
                    BatNbr=bat_nbr,
                    CpnyID=cfg.cpny_id,
                    EditScrnNbr="08010",
                    JrnlType="AR",
                    BatType="N",
                    Status="U",
                    Rlsed=1,
                    PerPost=period,
                    PerEnt=period,
                    CuryId=cfg.base_cury_id,
                    BaseCuryID=cfg.base_cury_id,
                    CuryMultDiv="M",
                    CuryRate=1.0,
                    LedgerID=cfg.ledger_id,
                    BalanceType="A",
                    GLPostOpt="D",
                    DateEnt=batch_date,
                    Descr="Sandbox opening invoices",
                    CtrlTot=total,
                    CrTot=total,
                    DrTot=total,
                    CuryCtrlTot=total,
                    CuryCrTot=total,
                    CuryDrTot=total,
                )
            )
            for ref_nbr, cust_id, amount, doc_date in chunk:
                amt = _money(amount, cfg.cury_dec_pl)
                day = dt.datetime.combine(doc_date, dt.time())
                docs.append(
                    _row(
                        catalog.ARDoc,
                        now,
                        CustId=cust_id,
                        DocType="IN",
                        RefNbr=ref_nbr,
                        BatNbr=bat_nbr,
                        BatSeq=0,
                        CpnyID=cfg.cpny_id,
                        DocDate=day,
                        DueDate=day + dt.timedelta(days=30),
                        DiscDate=day,
                        DocDesc=f"Invoice {ref_nbr}"[:30],
                        BankAcct=cfg.ar_acct,
                        BankSub=SUB,
                        CuryId=cfg.base_cury_id,
                        CuryMultDiv="M",
                        CuryRate=1.0,
                        CuryEffDate=day,
                        CuryOrigDocAmt=amt,
                        OrigDocAmt=amt,
                        CuryDocBal=amt,
                        DocBal=amt,
                        DocClass="N",
                        OpenDoc=1,
                        Rlsed=1,
                        PerEnt=period,
                        PerPost=period,
                        Terms="30",
                        LineCntr=1,
                    )
                )
                trans.append(
                    _row(
                        catalog.ARTran,
                        now,
                        CustId=cust_id,
                        TranType="IN",
                        RefNbr=ref_nbr,
                        LineNbr=-32767,
                        BatNbr=bat_nbr,
                        CpnyID=cfg.cpny_id,
                        Acct=cfg.sales_acct,
                        Sub=SUB,
                        DrCr="C",
                        CuryTranAmt=amt,
                        TranAmt=amt,
                        Qty=1.0,
                        CuryUnitPrice=amt,
                        UnitPrice=amt,
                        CuryId=cfg.base_cury_id,
                        CuryMultDiv="M",
                        CuryRate=1.0,
                        TranDate=day,
                        TranClass="N",
                        TranDesc=f"Invoice {ref_nbr}"[:30],
                        PerEnt=period,
                        PerPost=period,
                        FiscYr=FiscalCalendar.fiscal_year(period),
                        JrnlType="AR",
                        Rlsed=1,
                        LineId=1,
                    )
                )
                refnbrs.append(_row(catalog.RefNbr, now, RefNbr=ref_nbr, DocType="IN"))
                balances[cust_id] += _rounded(amount, cfg.cury_dec_pl)
    _insert(conn, catalog.Batch, batches)
    counts["invoices"] = _insert(conn, catalog.ARDoc, docs)
    _insert_artran(conn, trans)
    _insert(conn, catalog.RefNbr, refnbrs)
    counts["invoice_batches"] = len(batches)
    counts["duplicate_refs_skipped"] = duplicates
    _insert(
        conn,
        catalog.AR_Balances,
        [
            _row(
                catalog.AR_Balances,
                now,
                CpnyID=cfg.cpny_id,
                CustID=cust_id,
                CuryID=cfg.base_cury_id,
                CurrBal=_money(bal, cfg.cury_dec_pl),
                AgeBal00=_money(bal, cfg.cury_dec_pl),
                PerNbr=per_nbr,
            )
            for cust_id, bal in sorted(balances.items())
        ],
    )

    numeric_refs = [int(r) for r in seen if r.isdigit()]
    last_ref = f"{max(numeric_refs):0{max(len(r) for r in seen)}d}" if numeric_refs else "000000"
    conn.execute(
        sa.insert(catalog.ARSetup),
        [
            _row(
                catalog.ARSetup,
                now,
                SetupId="AR",
                ArAcct=cfg.ar_acct,
                ArSub=SUB,
                ChkAcct=cfg.checking_acct,
                ChkSub=SUB,
                RfndAcct=cfg.refund_acct,
                RfndSub=SUB,
                PrePayAcct=cfg.prepay_acct,
                PrePaySub=SUB,
                DiscAcct=cfg.discount_acct,
                DiscSub=SUB,
                AutoRef=1,
                GLPostOpt="D",
                LastBatNbr=cfg.ar_last_bat_nbr,
                LastRefNbr=last_ref,
                PerNbr=per_nbr,
                CurrPerNbr=per_nbr,
                TranDescDflt="C",
            )
        ],
    )

    orders = []
    seen_orders: set[str] = set()
    for so in sim.sales_orders():
        if so.ord_nbr in seen_orders:
            counts["duplicate_refs_skipped"] += 1
            continue
        seen_orders.add(so.ord_nbr)
        amt = _money(so.amount, cfg.cury_dec_pl)
        orders.append(
            _row(
                catalog.SOHeader,
                now,
                CpnyID=cfg.cpny_id,
                OrdNbr=so.ord_nbr,
                CustID=so.cust_id,
                SOTypeID="SO",
                Status="O",
                OrdDate=dt.datetime.combine(so.order_date, dt.time()),
                ARAcct=cfg.ar_acct,
                ARSub=SUB,
                CuryID=cfg.base_cury_id,
                CuryMultDiv="M",
                CuryRate=1.0,
                TotOrd=amt,
                CuryTotOrd=amt,
                BalDue=amt,
                CuryBalDue=amt,
                UnshippedBalance=amt,
                CuryUnshippedBalance=amt,
                TermsID="30",
                PerPost=fiscal.period_for(so.order_date),
            )
        )
    counts["sales_orders"] = _insert(conn, catalog.SOHeader, orders)
    return counts


def _insert_artran(conn: sa.Connection, rows: list[dict[str, object]]) -> None:
    """ARTran rows; RecordID supplied only where the database does not generate it (SQLite)."""
    if not catalog.identity_supplied_by_db(conn, catalog.ARTran):
        start = int(
            conn.execute(sa.select(sa.func.coalesce(sa.func.max(catalog.ARTran.c.RecordID), 0))).scalar_one()
        )
        for i, row in enumerate(rows, start=start + 1):
            row["RecordID"] = i
    _insert(conn, catalog.ARTran, rows)


def init_sandbox(
    url: str,
    merchant_config: MerchantConfig | None = None,
    *,
    force: bool = False,
    sl_config: SandboxSLConfig | None = None,
) -> SeedSummary:
    """Create (if needed) and seed a sandbox SL database at ``url``; see the module doc for the guard."""
    started = time.perf_counter()
    merchant = merchant_config or MerchantConfig()
    cfg = sl_config or SandboxSLConfig()
    engine = create_sl_engine(url)
    try:
        create_tables = _guard(engine, force)
        if create_tables:
            with engine.begin() as conn:
                create_sl_tables(conn)
        result = install(engine)
        sim = MerchantSimulation(merchant)
        with engine.begin() as conn:
            _clear_sandbox(conn)
            counts = _seed(conn, sim, merchant, cfg)
            _mark(conn, utcnow())
        per_nbr = _fiscal(cfg).period_for(merchant.start)
        return SeedSummary(
            url=make_url(url).render_as_string(hide_password=True),
            dialect=engine.dialect.name,
            created_sl_tables=create_tables,
            install=result,
            cpny_id=cfg.cpny_id,
            per_nbr=per_nbr,
            seconds=round(time.perf_counter() - started, 3),
            **counts,
        )
    finally:
        engine.dispose()
