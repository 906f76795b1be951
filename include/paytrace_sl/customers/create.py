"""Create the SL customer of a vault profile no SL customer matches (``customers: create_missing``).

What SL's Customer Maintenance (08.260.00) writes is not in the reference in full; what this module
does, and which parts are inferred, is listed in docs/customers.md §4:

* one ``Customer`` row with every column (the catalog's blanks, overlaid with the values below);
* class defaults (accounts, terms, currency, statement cycle, tax and pricing defaults…) copied from
  the most recently created existing customer of the class named in the mapping (``customers:
  customer_class``) [I]: the replica has no ``CustClass`` table, and a customer SL created in that class
  carries exactly the defaults the screen filled in;
* no ``AR_Balances`` row: SL's AR release creates it on the first release (dynamics-sl.md §2.6, [C]);
* never card data in SL (``CardNbr``, ``CardExpDate``, ``CardType`` stay blank).

Exactly once: the new ``CustId`` is the PayTrace customer id (upper-cased); the ``Customer`` insert, the
``xPTCustXref`` row (source ``created``) and the profile's link commit in one transaction, and the
primary key refuses a second insert. Preflight refuses, with the reason, a CustId that does not fit
(SL's char(15), letters/digits/-/_), one already taken, a class without a template customer, and class
accounts that do not exist or are inactive.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa

from paytrace_sl.customers.profiles import VaultProfile
from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTCustXref, xPTVaultProfile
from paytrace_sl.sl.rows import complete_row

# Columns a customer inherits from its class (the template customer); everything else is the profile's
# own data, the audit columns, or SL's blank.
CLASS_COLUMNS = (
    "AccrRevAcct", "AccrRevSub", "ApplFinChrg", "ArAcct", "ArSub", "AutoApply", "BillThruProject",
    "ConsolInv", "CuryId", "CuryPrcLvlRtTp", "CuryRateType", "CustFillPriority", "DocPublishingFlag",
    "DunMsg", "InvtSubst", "LanguageID", "OneDraft", "PrcLvlId", "PrePayAcct", "PrePaySub",
    "PriceClassID", "PrtMCStmt", "PrtStmt", "ShipCmplt", "ShipPctAct", "ShipPctMax", "SingleInvoice",
    "SlsAcct", "SlsSub", "SlsperId", "StmtCycleId", "StmtType", "TaxDflt", "TaxID00", "TaxID01",
    "TaxID02", "TaxID03", "TaxLocId", "Terms", "Territory", "TradeDisc",
)  # fmt: skip
_CUST_ID = re.compile(r"^[A-Z0-9_-]{1,15}$")


class CreatePreflightError(PaytraceSlError, ValueError):
    """The SL customer cannot be created; the reason says what to fix. Nothing was written."""


@dataclass(frozen=True, slots=True)
class Created:
    cust_id: str
    class_id: str
    template_cust_id: str


def new_cust_id(profile: VaultProfile) -> str:
    return profile.customer_id.strip().upper()


def _template(conn: sa.Connection, class_id: str) -> sa.Row[tuple[object, ...]]:
    c = catalog.Customer.c
    cols = [c[name] for name in CLASS_COLUMNS]
    row = conn.execute(
        sa.select(c.CustId, *cols)
        .where(c.ClassId == class_id)
        .order_by(c.Crtd_DateTime.desc(), c.CustId.desc())
        .limit(1)
    ).first()
    if row is None:
        raise CreatePreflightError(
            f"customer class {class_id!r} has no customer to take its defaults from; create one in SL "
            "(Customer Maintenance) or name another class in mapping.yaml customers.customer_class"
        )
    return row


def preflight(conn: sa.Connection, profile: VaultProfile, class_id: str) -> sa.Row[tuple[object, ...]]:
    """The checks before a customer is created; returns the class template row."""
    cust_id = new_cust_id(profile)
    if not _CUST_ID.match(cust_id):
        raise CreatePreflightError(
            f"vault customer {profile.customer_id}: not usable as an SL CustId (char(15), letters, digits, "
            "'-' and '_'); create the customer in SL and link it"
        )
    if not profile.name:
        raise CreatePreflightError(f"vault customer {cust_id}: no billing name")
    c = catalog.Customer.c
    if conn.execute(sa.select(c.CustId).where(c.CustId == cust_id)).first() is not None:
        raise CreatePreflightError(f"SL customer {cust_id} already exists; link it instead")
    template = _template(conn, class_id)
    a = catalog.Account.c
    for acct_col in ("ArAcct", "SlsAcct", "PrePayAcct"):
        acct = str(getattr(template, acct_col) or "").strip()
        if not acct:
            continue
        found = conn.execute(sa.select(a.Active).where(a.Acct == acct)).first()
        if found is None or int(found[0]) != 1:
            raise CreatePreflightError(
                f"class {class_id!r}: {acct_col} {acct} does not exist or is inactive in Account"
            )
    return template


def _current_period(conn: sa.Connection) -> str:
    s = catalog.ARSetup.c
    per = conn.execute(sa.select(s.PerNbr).limit(1)).scalar()
    return str(per or "").strip()


def create_customer(
    conn: sa.Connection,
    profile: VaultProfile,
    class_id: str,
    *,
    now: dt.datetime,
    user: str,
    program: str,
    run_id: str | None = None,
    zone: dt.tzinfo = dt.UTC,
) -> Created:
    """Insert the SL customer, its cross-reference and the profile's link (caller's transaction).

    SL's dates have no zone: ``SetupDate`` and the audit columns are ``now`` as wall time in ``zone``,
    the merchant's (the writer's audit columns are merchant-local too)."""
    template = preflight(conn, profile, class_id)
    cust_id = new_cust_id(profile)
    local = now.astimezone(zone).replace(tzinfo=None, microsecond=0)
    own = {
        "CustId": cust_id,
        "Name": profile.name,
        "BillName": profile.name,
        "Addr1": profile.street,
        "Addr2": profile.street2,
        "City": profile.city,
        "State": profile.state,
        "Zip": profile.postal_code,
        "Country": profile.country,
        "Phone": profile.phone,
        "EMailAddr": profile.email,
        "ClassId": class_id,
        "Status": "A",
        "PerNbr": _current_period(conn),
        "SetupDate": local.replace(hour=0, minute=0, second=0),
        "Crtd_DateTime": local,
        "Crtd_Prog": program,
        "Crtd_User": user,
        "LUpd_DateTime": local,
        "LUpd_Prog": program,
        "LUpd_User": user,
    }
    bill = {f"Bill{k}": own[k] for k in ("Addr1", "Addr2", "City", "State", "Zip", "Country", "Phone")}
    inherited = {name: getattr(template, name) for name in CLASS_COLUMNS}
    row = complete_row(catalog.Customer, inherited | own | bill, include_identity=False)
    conn.execute(sa.insert(catalog.Customer).values(**row))
    conn.execute(
        sa.insert(xPTCustXref).values(
            paytrace_customer_id=profile.customer_id,
            cust_id=cust_id,
            source="created",
            active=1,
            created_at=now,
            updated_at=now,
        )
    )
    conn.execute(
        sa.update(xPTVaultProfile)
        .where(xPTVaultProfile.c.paytrace_customer_id == profile.customer_id)
        .values(cust_id=cust_id, link_source="created", updated_at=now, run_id=run_id)
    )
    return Created(cust_id=cust_id, class_id=class_id, template_cust_id=str(template.CustId).strip())
