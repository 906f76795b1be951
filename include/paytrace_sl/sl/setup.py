"""SL's own setup rows, read once per run: company, currency, ledger, periods, default accounts, numbers.

Everything the writer would otherwise hard-code comes from the customer's database: ``GLSetup``
(``SetupId='GL'``), ``ARSetup`` (``SetupId='AR'``), ``vs_Company`` and ``Currncy``. Missing rows or
columns raise :class:`SLSetupError` naming exactly what is missing, so a misconfigured database fails
before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.plan import Account
from paytrace_sl.sl import catalog
from paytrace_sl.sl.catalog import live_table_names
from paytrace_sl.sl.fiscal import FiscalCalendar, FiscalCalendarError

DEFAULT_DECIMALS = 2


class SLSetupError(PaytraceSlError, RuntimeError):
    """SL setup data is missing or unusable; the message names the table, row and column."""


@dataclass(frozen=True, slots=True)
class SLSetup:
    """The SL configuration a posting run depends on (values right-trimmed of SL's char padding)."""

    cpny_id: str
    cpny_name: str
    company_ids: tuple[str, ...]  # active companies of this application database (vs_Company)
    base_cury_id: str
    ledger_id: str
    gl_per_nbr: str  # GLSetup.PerNbr: current GL period 'YYYYPP'
    ar_per_nbr: str  # ARSetup.PerNbr: current AR period
    ar_account: Account  # ARSetup.ArAcct/ArSub: default A/R
    checking_account: Account | None  # ARSetup.ChkAcct/ChkSub: default cash account for payments
    refund_account: Account | None  # ARSetup.RfndAcct/RfndSub
    prepay_account: Account | None
    discount_account: Account | None
    ar_last_bat_nbr: str  # ARSetup.LastBatNbr (width matters: '000100' → next '000101')
    ar_last_ref_nbr: str
    ar_auto_ref: bool
    gl_last_bat_nbr: str
    cury_dec_pl: int  # Currncy.DecPl of the base currency; 2 when the row is absent
    fiscal: FiscalCalendar
    mc_active: bool = False
    multi_cpny_db: bool = False
    gl_last_close_per_nbr: str = ""  # GLSetup.LastClosePerNbr: last closed GL period ("" = none)

    def period_for(self, day: Any) -> str:
        """Fiscal ``PerPost`` for a date (shortcut to :meth:`FiscalCalendar.period_for`)."""
        return self.fiscal.period_for(day)


_GL_REQUIRED = (
    "CpnyId",
    "CpnyName",
    "BaseCuryId",
    "LedgerID",
    "PerNbr",
    "NbrPer",
    "BegFiscalYr",
    "LastBatNbr",
)
_GL_OPTIONAL = ("MCActive", "Mult_Cpny_Db", "LastClosePerNbr")
_AR_REQUIRED = ("ArAcct", "ArSub", "PerNbr", "LastBatNbr")
_AR_OPTIONAL = (
    "ChkAcct",
    "ChkSub",
    "RfndAcct",
    "RfndSub",
    "PrePayAcct",
    "PrePaySub",
    "DiscAcct",
    "DiscSub",
    "LastRefNbr",
    "AutoRef",
)


def _text(value: Any) -> str:
    return "" if value is None else str(value).rstrip()


def _account(row: dict[str, Any], acct: str, sub: str) -> Account | None:
    a, s = _text(row.get(acct)).strip(), _text(row.get(sub)).strip()
    return Account(a, s) if a else None


def _read_setup_row(
    conn: sa.Connection,
    live: dict[str, str],
    tbl: sa.Table,
    setup_id: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
) -> dict[str, Any]:
    if tbl.name.lower() not in live:
        raise SLSetupError(f"SL table {tbl.name} does not exist in this database")
    present = {str(c["name"]).lower() for c in sa.inspect(conn).get_columns(live[tbl.name.lower()])}
    missing = [c for c in ("SetupId", *required) if c.lower() not in present]
    if missing:
        raise SLSetupError(f"SL table {tbl.name} lacks column(s) {', '.join(missing)}")
    names = [c for c in (*required, *optional) if c.lower() in present and c in tbl.c]
    row = conn.execute(sa.select(*(tbl.c[n] for n in names)).where(tbl.c.SetupId == setup_id)).first()
    if row is None:
        raise SLSetupError(f"SL setup row {tbl.name} SetupId='{setup_id}' is missing (run SL's setup screen)")
    return dict(zip(names, row, strict=True))


def _fiscal_calendar(conn: sa.Connection, live: dict[str, str], gl: dict[str, Any]) -> FiscalCalendar:
    present = {str(c["name"]).lower() for c in sa.inspect(conn).get_columns(live["glsetup"])}
    nbr_per = int(gl["NbrPer"])
    names = [f"FiscalPerEnd{i:02d}" for i in range(nbr_per)]
    missing = [n for n in names if n.lower() not in present]
    if missing:
        raise SLSetupError(f"SL table GLSetup lacks column(s) {', '.join(missing)} (NbrPer={nbr_per})")
    tbl = catalog.GLSetup
    row = conn.execute(sa.select(*(tbl.c[n] for n in names)).where(tbl.c.SetupId == "GL")).one()
    try:
        return FiscalCalendar(
            nbr_per=nbr_per,
            period_ends=tuple(_text(v).strip() for v in row),
            beg_fiscal_yr=int(gl["BegFiscalYr"]),
        )
    except FiscalCalendarError as exc:
        raise SLSetupError(f"SL GLSetup fiscal calendar is invalid: {exc}") from exc


def _companies(conn: sa.Connection, live: dict[str, str]) -> list[tuple[str, str, int]]:
    if "vs_company" not in live:
        return []
    tbl = catalog.vs_Company
    rows = conn.execute(sa.select(tbl.c.CpnyID, tbl.c.CpnyName, tbl.c.Active)).all()
    return [(_text(r[0]).strip(), _text(r[1]), int(r[2])) for r in rows]


def _decimals(conn: sa.Connection, live: dict[str, str], cury_id: str) -> int:
    if "currncy" not in live:
        return DEFAULT_DECIMALS
    tbl = catalog.Currncy
    value = conn.execute(sa.select(tbl.c.DecPl).where(tbl.c.CuryId == cury_id)).scalar()
    return DEFAULT_DECIMALS if value is None else int(value)


def load_sl_setup(conn: sa.Connection, cpny_id: str | None = None) -> SLSetup:
    """Read the SL setup for ``cpny_id`` (default: ``GLSetup.CpnyId``, else the only active company).

    Raises :class:`SLSetupError` when a setup row/column is missing, a required value is blank, or
    ``cpny_id`` is not an active company of this database.
    """
    live = live_table_names(conn)
    gl = _read_setup_row(conn, live, catalog.GLSetup, "GL", _GL_REQUIRED, _GL_OPTIONAL)
    ar = _read_setup_row(conn, live, catalog.ARSetup, "AR", _AR_REQUIRED, _AR_OPTIONAL)
    companies = _companies(conn, live)
    active = [c for c in companies if c[2]]

    chosen = (cpny_id or _text(gl["CpnyId"])).strip()
    if not chosen and len(active) == 1:
        chosen = active[0][0]
    if not chosen:
        raise SLSetupError(
            "no company: GLSetup.CpnyId is blank and vs_Company does not have exactly one active row"
        )
    cpny_name = _text(gl["CpnyName"])
    if companies:
        match = [c for c in companies if c[0] == chosen]
        if not match:
            raise SLSetupError(
                f"company {chosen!r} is not in vs_Company (known: {', '.join(c[0] for c in companies)})"
            )
        if not match[0][2]:
            raise SLSetupError(f"company {chosen!r} is inactive in vs_Company (Active=0)")
        cpny_name = match[0][1] or cpny_name

    for table_name, row, column in (
        ("GLSetup", gl, "BaseCuryId"),
        ("GLSetup", gl, "LedgerID"),
        ("GLSetup", gl, "PerNbr"),
        ("ARSetup", ar, "PerNbr"),
        ("ARSetup", ar, "ArAcct"),
    ):
        if not _text(row[column]).strip():
            raise SLSetupError(f"SL setup value {table_name}.{column} is blank")

    ar_account = _account(ar, "ArAcct", "ArSub")
    assert ar_account is not None  # checked non-blank above
    base_cury = _text(gl["BaseCuryId"]).strip()
    return SLSetup(
        cpny_id=chosen,
        cpny_name=cpny_name,
        company_ids=tuple(c[0] for c in active) or (chosen,),
        base_cury_id=base_cury,
        ledger_id=_text(gl["LedgerID"]).strip(),
        gl_per_nbr=_text(gl["PerNbr"]).strip(),
        ar_per_nbr=_text(ar["PerNbr"]).strip(),
        ar_account=ar_account,
        checking_account=_account(ar, "ChkAcct", "ChkSub"),
        refund_account=_account(ar, "RfndAcct", "RfndSub"),
        prepay_account=_account(ar, "PrePayAcct", "PrePaySub"),
        discount_account=_account(ar, "DiscAcct", "DiscSub"),
        ar_last_bat_nbr=_text(ar["LastBatNbr"]).strip(),
        ar_last_ref_nbr=_text(ar.get("LastRefNbr")).strip(),
        ar_auto_ref=bool(int(ar.get("AutoRef") or 0)),
        gl_last_bat_nbr=_text(gl["LastBatNbr"]).strip(),
        cury_dec_pl=_decimals(conn, live, base_cury),
        fiscal=_fiscal_calendar(conn, live, gl),
        mc_active=bool(int(gl.get("MCActive") or 0)),
        multi_cpny_db=bool(int(gl.get("Mult_Cpny_Db") or 0)),
        gl_last_close_per_nbr=_text(gl.get("LastClosePerNbr")).strip(),
    )
