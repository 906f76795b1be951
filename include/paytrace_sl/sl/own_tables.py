"""Our integration tables inside the SL application database, and their versioned installer.

Why inside SL's database: the ledger row that makes a posting exactly-once must commit in the *same*
transaction as the SL batch it describes — a second database would need two-phase commit. Names use SL's
custom-table prefix ``x`` (SL upgrades leave ``x*`` tables alone) plus ``PT`` for PayTrace.

Naming follows the catalog: table names keep their mixed case but render unquoted (``xPTLedger`` is
``xptledger`` on PostgreSQL), columns and index names are lower-case snake_case, every name ≤ 30 chars.
Types are portable: ``Unicode``/``UnicodeText`` become NVARCHAR on SQL Server; timestamps are stored as
UTC (:class:`UTCDateTime`), amounts as ``NUMERIC(18,2)``.

:func:`install` creates or upgrades these tables — and only these: it refuses any name not starting with
``xPT`` and never creates, alters or drops an SL table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.sl.catalog import live_table_names

OWN_PREFIX = "xPT"


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC on every dialect and returned zone-aware (UTC).

    Naive datetimes are refused on write: the project's rule is that time is always zone-aware.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "mssql":
            return dialect.type_descriptor(mssql.DATETIME2())  # DATETIME rounds to 1/300 s
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} written to a UTC column; pass a zone-aware value")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# JSON and long text: NVARCHAR(max) on SQL Server (UnicodeText would render the deprecated NTEXT).
_LongText = sa.UnicodeText().with_variant(mssql.NVARCHAR(), "mssql")

# Surrogate keys: BIGINT identity on PostgreSQL/SQL Server, INTEGER PRIMARY KEY (rowid) on SQLite.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

own_metadata = sa.MetaData()


def _since(version: int) -> dict[str, int]:
    """Column ``info`` marking the schema version that added it (absent = version 1)."""
    return {"since": version}


def _run_id() -> sa.Column[str]:
    return sa.Column("run_id", sa.String(250), nullable=True)


xPTSchemaVer = sa.Table(
    "xPTSchemaVer",
    own_metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Unicode(200), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
    quote=False,
)

xPTLedger = sa.Table(
    "xPTLedger",
    own_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("ledger_key", sa.String(100), nullable=False),  # "paytrace:81234567:payment"
    sa.Column("transaction_id", sa.BigInteger, nullable=True),  # None for non-transaction keys (settlements)
    sa.Column("kind", sa.String(20), nullable=False),  # payment | refund | void | settlement
    sa.Column("cpny_id", sa.String(10), nullable=False),
    sa.Column("module", sa.String(2), nullable=False),  # AR | GL
    sa.Column("bat_nbr", sa.String(10), nullable=False),
    sa.Column("doc_type", sa.String(2), nullable=False),
    sa.Column("ref_nbr", sa.String(10), nullable=False),
    sa.Column("cust_id", sa.String(15), nullable=False),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("cury_id", sa.String(4), nullable=False),
    sa.Column("per_post", sa.String(6), nullable=False),
    sa.Column("paytrace_state", sa.String(40), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),  # what was posted; changes → review
    sa.Column("status", sa.String(12), nullable=False),  # posted | removed | superseded
    _run_id(),
    sa.Column("posted_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("note", sa.Unicode(255), nullable=True),
    # v2: PayTrace settlement batch the transaction settled in (links ledger rows to xPTRecon)
    sa.Column("settle_batch_nbr", sa.BigInteger, nullable=True, info=_since(2)),
    # v3: one posting per PayTrace transaction id whatever its type. Set (= transaction_id) on the
    # payment/refund row; a filtered unique index makes a second posting of the id impossible, even
    # from a concurrent writer. Void and settlement rows leave it NULL.
    sa.Column("posted_txn_id", sa.BigInteger, nullable=True, info=_since(3)),
    # v3: what PayTrace said when we posted (type, and a digest of its customer id — never the value),
    # so a later copy that differs is a review item instead of "already posted"
    sa.Column("paytrace_type", sa.String(20), nullable=True, info=_since(3)),
    sa.Column("customer_digest", sa.String(64), nullable=True, info=_since(3)),
    quote=False,
)

xPTReview = sa.Table(
    "xPTReview",
    own_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("transaction_id", sa.BigInteger, nullable=True),
    sa.Column("ledger_key", sa.String(100), nullable=True),
    sa.Column("reason_code", sa.String(40), nullable=False),
    sa.Column("reason", sa.Unicode(500), nullable=False),
    sa.Column("details", _LongText, nullable=True),  # JSON, PCI-safe
    _run_id(),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("resolution", sa.Unicode(500), nullable=True),
    sa.Column("resolved_by", sa.Unicode(60), nullable=True),
    # v6 (review workbench): how the item was closed (resolved | dismissed | replayed | posted), why (a
    # person's text, kept for the auditor) and what a resolve chose (SL customer, invoice)
    sa.Column("closed_how", sa.String(12), nullable=True, info=_since(6)),
    sa.Column("closed_why", sa.Unicode(500), nullable=True, info=_since(6)),
    sa.Column("resolved_cust_id", sa.String(15), nullable=True, info=_since(6)),
    sa.Column("resolved_ref_nbr", sa.String(10), nullable=True, info=_since(6)),
    quote=False,
)

xPTDeadLetter = sa.Table(
    "xPTDeadLetter",
    own_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("transaction_id", sa.BigInteger, nullable=True),
    sa.Column("source", sa.String(40), nullable=False),  # "paytrace-transaction", "paytrace-batch", …
    sa.Column("payload", _LongText, nullable=False),  # JSON, already PCI-safe (masked card only)
    sa.Column("payload_hash", sa.String(64), nullable=True),
    sa.Column("reason", sa.Unicode(500), nullable=False),
    sa.Column("failed_checks", _LongText, nullable=True),  # JSON list
    _run_id(),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("replayed_at", UTCDateTime, nullable=True),
    sa.Column("replay_run_id", sa.String(250), nullable=True),
    quote=False,
)

# One row per attempt of a run: (DAG, run id, try). Until v4 the key was the run id alone and a re-run
# overwrote the first attempt's counts; v4 rebuilds the table keyed by all three (old rows become try 1).
xPTRun = sa.Table(
    "xPTRun",
    own_metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("dag_id", sa.String(250), nullable=False, primary_key=True, info={"pk_since": 4}),
    sa.Column("try_number", sa.Integer, primary_key=True, autoincrement=False, info=_since(4)),
    sa.Column("window_start", UTCDateTime, nullable=True),
    sa.Column("window_end", UTCDateTime, nullable=True),
    sa.Column("counts", _LongText, nullable=True),  # JSON
    sa.Column("status", sa.String(20), nullable=False),  # running | success | failed | partial
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("error", sa.Unicode(1000), nullable=True),
    # v4: what the attempt left for a person, one line ("3 review items (1 new)"); NULL when nothing
    sa.Column("attention", sa.Unicode(500), nullable=True, info=_since(4)),
    quote=False,
)

# v4: auditor reports a later run made out of date (look-back, replay, review resolution). One row per
# report directory (``<day>`` or ``<first>_<last>``) while stale; the settlement report step rewrites
# the oldest few per run and deletes their rows.
xPTReportStale = sa.Table(
    "xPTReportStale",
    own_metadata,
    sa.Column("report_name", sa.String(40), primary_key=True),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
    sa.Column("reason", sa.Unicode(500), nullable=False),
    sa.Column("marked_by", sa.String(250), nullable=True),  # the run whose change made it stale
    sa.Column("marked_at", UTCDateTime, nullable=False),
    info=_since(4),
    quote=False,
)

xPTSkip = sa.Table(
    "xPTSkip",
    own_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("transaction_id", sa.BigInteger, nullable=False),
    sa.Column("reason_code", sa.String(40), nullable=False),
    sa.Column("reason", sa.Unicode(500), nullable=False),
    sa.Column("paytrace_state", sa.String(40), nullable=True),
    _run_id(),
    sa.Column("created_at", UTCDateTime, nullable=False),
    quote=False,
)

xPTCustXref = sa.Table(
    "xPTCustXref",
    own_metadata,
    sa.Column("paytrace_customer_id", sa.Unicode(100), primary_key=True),
    sa.Column("cust_id", sa.String(15), nullable=False),  # SL Customer.CustId
    sa.Column("source", sa.String(20), nullable=False),  # manual | sandbox | import
    sa.Column("active", sa.SmallInteger, nullable=False, server_default=sa.text("1")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    quote=False,
)

xPTRecon = sa.Table(
    "xPTRecon",
    own_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("batch_number", sa.BigInteger, nullable=False),  # PayTrace settlement batch
    sa.Column("cpny_id", sa.String(10), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),  # balanced | difference | pending
    sa.Column("paytrace_count", sa.Integer, nullable=False),
    sa.Column("paytrace_total", sa.Numeric(18, 2), nullable=False),
    sa.Column("posted_count", sa.Integer, nullable=False),
    sa.Column("posted_total", sa.Numeric(18, 2), nullable=False),
    sa.Column("difference_cents", sa.BigInteger, nullable=False),
    sa.Column("explanation", _LongText, nullable=True),  # JSON
    _run_id(),
    sa.Column("created_at", UTCDateTime, nullable=False),
    quote=False,
)

# v5: PayTrace vault profiles (customer/export) and the SL customer each is linked to. PCI: the card is
# the last four digits only ("xxxxxxxxxxxx1234") with its expiry; never a full number, CVV or token.
xPTVaultProfile = sa.Table(
    "xPTVaultProfile",
    own_metadata,
    sa.Column("paytrace_customer_id", sa.Unicode(100), primary_key=True),
    sa.Column("name", sa.Unicode(60), nullable=False),
    sa.Column("street", sa.Unicode(60), nullable=False),
    sa.Column("street2", sa.Unicode(60), nullable=False),
    sa.Column("city", sa.Unicode(30), nullable=False),
    sa.Column("state", sa.Unicode(3), nullable=False),
    sa.Column("postal_code", sa.Unicode(10), nullable=False),
    sa.Column("country", sa.Unicode(3), nullable=False),
    sa.Column("email", sa.Unicode(80), nullable=False),
    sa.Column("phone", sa.Unicode(30), nullable=False),
    sa.Column("masked_card", sa.String(20), nullable=False),
    sa.Column("exp_month", sa.SmallInteger, nullable=True),
    sa.Column("exp_year", sa.SmallInteger, nullable=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # link to SL: cust_id with how it was found (exact | xref | fuzzy | created | manual) or NULL + a
    # suggestion waiting on the workbench (suggested_cust_id, score, the fields that agreed)
    sa.Column("cust_id", sa.String(15), nullable=True),
    sa.Column("link_source", sa.String(10), nullable=True),
    sa.Column("suggested_cust_id", sa.String(15), nullable=True),
    sa.Column("score", sa.Numeric(5, 4), nullable=True),
    sa.Column("agreed", sa.Unicode(100), nullable=True),  # "name,email,postal_code"
    sa.Column("active", sa.SmallInteger, nullable=False),  # 0 = no longer in the vault export
    _run_id(),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    quote=False,
)

# v7 (fraud alerts, docs/fraud.md): one alert per transaction, the model versions, the rolling history the
# rules match refunds against, and the merchant's own profiles (amounts per customer, hours).
xPTFraudAlert = sa.Table(
    "xPTFraudAlert",
    own_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("transaction_id", sa.BigInteger, nullable=False),
    sa.Column("pattern", sa.String(40), nullable=False),  # first named pattern, or "model"
    sa.Column("patterns", sa.Unicode(400), nullable=False),  # comma list of every pattern that fired
    sa.Column("score", sa.Float, nullable=False),  # 0..1; 1.0 for a rule
    sa.Column("reasons", _LongText, nullable=False),  # JSON list of texts a person reads
    sa.Column("features", _LongText, nullable=False),  # JSON {feature: value} that drove it (no card data)
    sa.Column("model_version", sa.Integer, nullable=True),
    sa.Column("held", sa.SmallInteger, nullable=False),  # 1: kept out of SL (mapping fraud.hold)
    sa.Column("created_at", UTCDateTime, nullable=False),  # the transaction's time
    _run_id(),
    sa.Column("scored_at", UTCDateTime, nullable=False),
    info=_since(7),
    quote=False,
)

xPTFraudModel = sa.Table(
    "xPTFraudModel",
    own_metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("algorithm", sa.String(40), nullable=False),
    sa.Column("params", _LongText, nullable=False),  # JSON (library version, seed, trees, threshold, …)
    sa.Column("features", _LongText, nullable=False),  # JSON list of feature names
    sa.Column("sample", _LongText, nullable=False),  # JSON training rows (features only, no ids)
    sa.Column("n_train", sa.Integer, nullable=False),
    sa.Column("data_through", UTCDateTime, nullable=False),
    sa.Column("fitted_at", UTCDateTime, nullable=False),
    info=_since(7),
    quote=False,
)

xPTFraudHist = sa.Table(
    "xPTFraudHist",
    own_metadata,
    sa.Column("transaction_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("transaction_type", sa.String(20), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("card_masked", sa.String(25), nullable=False),
    sa.Column("customer_id", sa.Unicode(50), nullable=False),
    sa.Column("holder", sa.Unicode(100), nullable=False),  # billing name, lower case (refund matching)
    sa.Column("invoice_id", sa.Unicode(50), nullable=False),
    info=_since(7),
    quote=False,
)

xPTFraudProfile = sa.Table(
    "xPTFraudProfile",
    own_metadata,
    sa.Column("kind", sa.String(20), primary_key=True),  # customer | hour | merchant | state
    sa.Column("pkey", sa.Unicode(50), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("total", sa.Float, nullable=False),  # sum of log(amount) (or 0)
    sa.Column("total_sq", sa.Float, nullable=False),
    sa.Column("at", UTCDateTime, nullable=True),  # state: watermark / history start
    info=_since(7),
    quote=False,
)

# v8: chargeback and retrieval cases from the processor's files (docs/accounting.md §9), one row per
# (case, disputed PayTrace transaction, stage), written in the same transaction as its SL documents.
xPTChargeback = sa.Table(
    "xPTChargeback",
    own_metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("case_number", sa.String(40), nullable=False),
    sa.Column("transaction_id", sa.BigInteger, nullable=False),  # the disputed PayTrace transaction
    sa.Column("stage", sa.String(12), nullable=False),  # retrieval | chargeback | won | lost
    sa.Column("case_date", sa.Date, nullable=False),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("fee", sa.Numeric(18, 2), nullable=False),
    sa.Column("reason_code", sa.Unicode(40), nullable=True),
    sa.Column("cpny_id", sa.String(10), nullable=False),
    sa.Column("cust_id", sa.String(15), nullable=False),
    sa.Column("ledger_key", sa.String(100), nullable=False),
    sa.Column("outcome", sa.String(12), nullable=False),  # posted | review | recorded
    sa.Column("ar_bat_nbr", sa.String(10), nullable=False),  # "" when the stage writes no AR document
    sa.Column("doc_type", sa.String(2), nullable=False),
    sa.Column("ref_nbr", sa.String(10), nullable=False),
    sa.Column("gl_bat_nbr", sa.String(10), nullable=False),  # the chargeback fee entry, "" when none
    sa.Column("source_file", sa.Unicode(255), nullable=False),
    sa.Column("file_row", sa.Integer, nullable=False),
    _run_id(),
    sa.Column("created_at", UTCDateTime, nullable=False),
    quote=False,
)

# Recurring billing (issue 16 §3; schema v9): PayTrace schedules, linked to their SL customer, and the
# approved payments of each. Informational only: the charges themselves post through the normal payment
# path (one xPTLedger posting per transaction id), never from here.
xPTRecurSched = sa.Table(
    "xPTRecurSched",
    own_metadata,
    sa.Column("recurrence_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("paytrace_customer_id", sa.Unicode(100), nullable=False),
    sa.Column("cust_id", sa.String(15), nullable=True),  # SL Customer.CustId; None = not linked
    sa.Column("link_source", sa.String(20), nullable=False),  # exact | xref | unlinked
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("frequency", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("next_date", sa.Date, nullable=True),
    sa.Column("total_count", sa.Integer, nullable=False),  # 0 = until cancelled
    sa.Column("current_count", sa.Integer, nullable=False),
    sa.Column("description", sa.Unicode(200), nullable=False),
    sa.Column("card_masked", sa.String(25), nullable=False),  # masked only
    sa.Column("last_txn_id", sa.BigInteger, nullable=True),
    sa.Column("last_result_at", UTCDateTime, nullable=True),
    sa.Column("last_failed", sa.SmallInteger, nullable=False),
    sa.Column("last_message", sa.Unicode(200), nullable=False),
    _run_id(),
    sa.Column("refreshed_at", UTCDateTime, nullable=False),
    quote=False,
)

xPTRecurPay = sa.Table(
    "xPTRecurPay",
    own_metadata,
    sa.Column("transaction_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("recurrence_id", sa.BigInteger, nullable=False),
    sa.Column("paytrace_customer_id", sa.Unicode(100), nullable=False),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    _run_id(),
    sa.Column("refreshed_at", UTCDateTime, nullable=False),
    quote=False,
)

OWN_TABLES: dict[str, sa.Table] = {t.name: t for t in own_metadata.sorted_tables}


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str  # lower-case, ≤ 30 chars, unique in the database
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    not_null_only: bool = False  # filtered index (WHERE <columns> IS NOT NULL): PG, SQLite, SQL Server
    since: int = 1  # schema version that added it


INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec("xptledger_ux_key", "xPTLedger", ("ledger_key",), unique=True),
    IndexSpec("xptledger_ix_txn", "xPTLedger", ("transaction_id",)),
    IndexSpec("xptledger_ix_batch", "xPTLedger", ("module", "bat_nbr")),
    IndexSpec("xptreview_ix_txn", "xPTReview", ("transaction_id",)),
    IndexSpec("xptreview_ix_open", "xPTReview", ("resolved_at",)),
    IndexSpec("xptdeadletter_ix_txn", "xPTDeadLetter", ("transaction_id",)),
    IndexSpec("xptskip_ix_txn", "xPTSkip", ("transaction_id",)),
    IndexSpec("xptcustxref_ix_custid", "xPTCustXref", ("cust_id",)),
    IndexSpec("xptrecon_ix_batch", "xPTRecon", ("batch_number",)),
    IndexSpec("xptledger_ix_settle", "xPTLedger", ("settle_batch_nbr",)),
    IndexSpec(
        "xptledger_ux_posted", "xPTLedger", ("posted_txn_id",), unique=True, not_null_only=True, since=3
    ),
    IndexSpec(
        "xptchargeback_ux_case",
        "xPTChargeback",
        ("case_number", "transaction_id", "stage"),
        unique=True,
        since=8,
    ),
    IndexSpec("xptchargeback_ix_date", "xPTChargeback", ("case_date",), since=8),
    IndexSpec("xptskip_ux_txn_reason", "xPTSkip", ("transaction_id", "reason_code"), unique=True, since=3),
    IndexSpec("xptvault_ix_custid", "xPTVaultProfile", ("cust_id",), since=5),
    IndexSpec("xptfraudalert_ux_txn", "xPTFraudAlert", ("transaction_id",), unique=True, since=7),
    IndexSpec("xptfraudalert_ix_at", "xPTFraudAlert", ("created_at",), since=7),
    IndexSpec("xptfraudhist_ix_card", "xPTFraudHist", ("card_masked",), since=7),
    IndexSpec("xptfraudhist_ix_inv", "xPTFraudHist", ("invoice_id",), since=7),
    IndexSpec("xptfraudhist_ix_at", "xPTFraudHist", ("created_at",), since=7),
    IndexSpec("xptrecursched_ix_cust", "xPTRecurSched", ("cust_id",), since=9),
    IndexSpec("xptrecurpay_ix_recur", "xPTRecurPay", ("recurrence_id",), since=9),
)


# --------------------------------------------------------------------------------------------- install


class InstallError(PaytraceSlError, RuntimeError):
    """The install cannot proceed (not an SL database, newer schema than this code, unsafe name)."""


@dataclass(frozen=True, slots=True)
class InstallResult:
    from_version: int
    to_version: int
    applied: tuple[str, ...] = ()  # "v2: …" descriptions of the migrations run now
    created_tables: tuple[str, ...] = ()
    added_columns: tuple[str, ...] = ()  # "xPTLedger.settle_batch_nbr"

    @property
    def changed(self) -> bool:
        return bool(self.applied)


@dataclass
class _StepLog:
    created_tables: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)


def _assert_ours(name: str) -> None:
    if not name.startswith(OWN_PREFIX) or len(name) > 30:
        raise InstallError(f"refusing to touch table {name!r}: install only manages {OWN_PREFIX}* tables")


def _table_as_of(tbl: sa.Table, version: int) -> sa.Table:
    """A copy of ``tbl`` with only the columns that existed at schema ``version``."""
    cols = []
    for column in tbl.columns:
        if int(column.info.get("since", 1)) > version:
            continue
        copy = column._copy()
        if int(column.info.get("pk_since", 1)) > version:
            copy.primary_key = False  # part of the key only from a later version (xPTRun.dag_id)
        cols.append(copy)
    return sa.Table(tbl.name, sa.MetaData(), *cols, quote=False)


def _create_table(conn: sa.Connection, name: str, version: int, log: _StepLog) -> None:
    """Create ``name`` in its shape at ``version`` (if absent) with that version's indexes."""
    _assert_ours(name)
    if name.lower() in live_table_names(conn):
        return
    shaped = _table_as_of(OWN_TABLES[name], version)
    conn.execute(CreateTable(shaped))
    log.created_tables.append(name)
    present = {c.name for c in shaped.columns}
    for spec in INDEXES:
        if spec.table == name and set(spec.columns) <= present and spec.since <= version:
            _create_index(conn, spec)


def _existing_indexes(conn: sa.Connection, table_name: str) -> set[str]:
    live = live_table_names(conn)[table_name.lower()]
    return {str(ix["name"]).lower() for ix in sa.inspect(conn).get_indexes(live) if ix.get("name")}


def _create_index(conn: sa.Connection, spec: IndexSpec) -> None:
    _assert_ours(spec.table)
    if spec.name.lower() in _existing_indexes(conn, spec.table):
        return
    tbl = OWN_TABLES[spec.table]
    where: dict[str, Any] = {}
    if spec.not_null_only:
        condition = sa.and_(*(tbl.c[c].isnot(None) for c in spec.columns))
        where = {f"{d}_where": condition for d in ("postgresql", "sqlite", "mssql")}
    index = sa.Index(spec.name, *(tbl.c[c] for c in spec.columns), unique=spec.unique, **where)
    conn.execute(CreateIndex(index))


def _add_column(conn: sa.Connection, table_name: str, column_name: str, log: _StepLog) -> None:
    """``ALTER TABLE … ADD`` a nullable column if missing (portable: PG, SQLite and SQL Server accept it)."""
    _assert_ours(table_name)
    live = live_table_names(conn)[table_name.lower()]
    existing = {str(c["name"]).lower() for c in sa.inspect(conn).get_columns(live)}
    if column_name.lower() in existing:
        return
    column = OWN_TABLES[table_name].c[column_name]
    if not column.nullable:
        raise InstallError(f"{table_name}.{column_name}: columns added by a migration must be nullable")
    type_sql = column.type.compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE {table_name} ADD {column_name} {type_sql} NULL"))
    log.added_columns.append(f"{table_name}.{column_name}")


def _v1(conn: sa.Connection, log: _StepLog) -> None:
    for name in ("xPTLedger", "xPTReview", "xPTDeadLetter", "xPTRun", "xPTSkip", "xPTCustXref"):
        _create_table(conn, name, 1, log)


def _v2(conn: sa.Connection, log: _StepLog) -> None:
    _create_table(conn, "xPTRecon", 2, log)
    _add_column(conn, "xPTLedger", "settle_batch_nbr", log)
    _create_index(conn, next(s for s in INDEXES if s.name == "xptledger_ix_settle"))


POSTING_KINDS = ("payment", "refund")  # the ledger kinds that are *the* SL posting of a transaction id


def _v3(conn: sa.Connection, log: _StepLog) -> None:
    """One posting per transaction id; one skip row per (id, reason). Works on a live install:
    existing postings are back-filled (a second posting of an id made before v3 stays unmarked and
    gets a review item), repeated skip rows are reduced to the first one."""
    for column in ("posted_txn_id", "paytrace_type", "customer_digest"):
        _add_column(conn, "xPTLedger", column, log)
    ledger, review, skip = xPTLedger, xPTReview, xPTSkip
    postings = sa.and_(ledger.c.kind.in_(POSTING_KINDS), ledger.c.transaction_id.isnot(None))
    # set-based (a live ledger has millions of rows): the first posting row of each id is its one posting
    first_ids = sa.select(sa.func.min(ledger.c.id)).where(postings).group_by(ledger.c.transaction_id)
    conn.execute(
        sa.update(ledger).where(ledger.c.id.in_(first_ids)).values(posted_txn_id=ledger.c.transaction_id)
    )
    # a second posting of an id made before v3 (the bug v3 closes): kept unmarked, with a review item
    seconds = conn.execute(
        sa.select(ledger.c.transaction_id, ledger.c.ledger_key, ledger.c.kind)
        .where(postings, ledger.c.posted_txn_id.is_(None))
        .order_by(ledger.c.id)
    ).all()
    first_kind = (
        {
            int(txid): str(kind)
            for txid, kind in conn.execute(
                sa.select(ledger.c.posted_txn_id, ledger.c.kind).where(
                    ledger.c.posted_txn_id.in_(sorted({int(r[0]) for r in seconds}))
                )
            )
        }
        if seconds
        else {}
    )
    now = utcnow()
    for txid, key, kind in seconds:
        conn.execute(
            sa.insert(review).values(
                transaction_id=int(txid),
                ledger_key=key,
                reason_code="posted_twice",
                reason=(
                    f"transaction {txid} was posted to SL twice before schema v3 (as "
                    f"{first_kind.get(int(txid), '?')} and as {kind}); reverse the second posting "
                    f"({key}) in SL by hand"
                ),
                details="{}",
                run_id=None,
                created_at=now,
            )
        )
    keep = sa.select(sa.func.min(skip.c.id)).group_by(skip.c.transaction_id, skip.c.reason_code)
    conn.execute(sa.delete(skip).where(skip.c.id.not_in(keep)))
    for name in ("xptledger_ux_posted", "xptskip_ux_txn_reason"):
        _create_index(conn, next(s for s in INDEXES if s.name == name))


def _rename_table(conn: sa.Connection, old: str, new: str) -> None:
    _assert_ours(old)
    _assert_ours(new)
    live = live_table_names(conn)[old.lower()]
    if conn.dialect.name == "mssql":
        conn.execute(sa.text("EXEC sp_rename :old, :new"), {"old": live, "new": new})
    else:
        conn.execute(sa.text(f"ALTER TABLE {live} RENAME TO {new}"))


def _v4(conn: sa.Connection, log: _StepLog) -> None:
    """xPTRun keyed by (dag_id, run_id, try_number), every attempt kept; xPTReportStale.

    The key of a table cannot be changed portably in place: the v3 table is renamed, the v4 table created,
    every old row copied as try 1 (one row per run id before v4), and the old table dropped — in the
    migration's transaction, so a failure leaves v3 intact.
    """
    old = "xPTRunV3"
    if "xptrun" in live_table_names(conn):
        _rename_table(conn, "xPTRun", old)
    _create_table(conn, "xPTRun", 4, log)
    if old.lower() in live_table_names(conn):
        names = [c.name for c in _table_as_of(xPTRun, 3).columns]
        cols = ", ".join(names)
        conn.execute(sa.text(f"INSERT INTO xPTRun ({cols}, try_number) SELECT {cols}, 1 FROM {old}"))
        conn.execute(sa.text(f"DROP TABLE {old}"))
    _create_table(conn, "xPTReportStale", 4, log)


def _v5(conn: sa.Connection, log: _StepLog) -> None:
    _create_table(conn, "xPTVaultProfile", 5, log)


REVIEW_CLOSURE_COLUMNS = ("closed_how", "closed_why", "resolved_cust_id", "resolved_ref_nbr")


def _v6(conn: sa.Connection, log: _StepLog) -> None:
    """Review workbench: how/why an item was closed and what its resolve chose. Items closed before v6
    were closed by a replay that posted their document (the only way to close one then)."""
    for column in REVIEW_CLOSURE_COLUMNS:
        _add_column(conn, "xPTReview", column, log)
    review = xPTReview
    conn.execute(
        sa.update(review)
        .where(review.c.resolved_at.isnot(None), review.c.closed_how.is_(None))
        .values(closed_how="replayed")
    )


FRAUD_TABLES = ("xPTFraudAlert", "xPTFraudModel", "xPTFraudHist", "xPTFraudProfile")


def _v7(conn: sa.Connection, log: _StepLog) -> None:
    for name in FRAUD_TABLES:
        _create_table(conn, name, 7, log)


def _v8(conn: sa.Connection, log: _StepLog) -> None:
    """Chargeback and retrieval cases (a new table only: nothing existing changes)."""
    _create_table(conn, "xPTChargeback", 8, log)


def _v9(conn: sa.Connection, log: _StepLog) -> None:
    """Recurring billing: schedules (xPTRecurSched) and their approved payments (xPTRecurPay)."""
    for name in ("xPTRecurSched", "xPTRecurPay"):
        _create_table(conn, name, 9, log)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sa.Connection, _StepLog], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "ledger, review, dead-letter, run, skip and customer cross-reference tables", _v1),
    Migration(2, "settlement reconciliation table xPTRecon; xPTLedger.settle_batch_nbr", _v2),
    Migration(
        3,
        "one posting per PayTrace id (xPTLedger.posted_txn_id, paytrace_type, customer_digest); "
        "one xPTSkip row per (id, reason)",
        _v3,
    ),
    Migration(
        4,
        "run history: xPTRun keyed by (dag_id, run_id, try_number), every attempt kept; xPTRun.attention; "
        "stale auditor reports (xPTReportStale)",
        _v4,
    ),
    Migration(5, "PayTrace vault profiles and their SL customer links (xPTVaultProfile)", _v5),
    Migration(
        6,
        "review workbench: xPTReview.closed_how, closed_why, resolved_cust_id, resolved_ref_nbr",
        _v6,
    ),
    Migration(7, "fraud alerts: xPTFraudAlert, xPTFraudModel, xPTFraudHist, xPTFraudProfile", _v7),
    Migration(8, "chargeback and retrieval cases (xPTChargeback)", _v8),
    Migration(9, "recurring billing: xPTRecurSched schedules, xPTRecurPay approved payments", _v9),
)
"""Ordered, append-only. A new version adds a step; never edit a released one."""

SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(conn: sa.Connection) -> int:
    """The installed version of our tables (0 when ``xPTSchemaVer`` does not exist)."""
    if xPTSchemaVer.name.lower() not in live_table_names(conn):
        return 0
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(xPTSchemaVer.c.version), 0))).scalar_one())


_SL_MARKER_TABLES = ("glsetup", "arsetup", "batch")


def install(
    engine: sa.Engine, *, target_version: int | None = None, require_sl: bool = True
) -> InstallResult:
    """Create or upgrade our ``xPT*`` tables to ``target_version`` (default: latest). Idempotent.

    Each migration runs in its own transaction together with its ``xPTSchemaVer`` row, so a failed step
    leaves the previous version intact (PostgreSQL and SQL Server DDL is transactional). With
    ``require_sl`` (default) the target must look like an SL application database (GLSetup, ARSetup and
    Batch exist) — a guard against installing into the wrong database.
    """
    target = SCHEMA_VERSION if target_version is None else target_version
    if not 1 <= target <= SCHEMA_VERSION:
        raise InstallError(f"target version {target} outside 1..{SCHEMA_VERSION}")
    with engine.connect() as conn:
        live = live_table_names(conn)
        if require_sl and not all(t in live for t in _SL_MARKER_TABLES):
            missing = [t for t in _SL_MARKER_TABLES if t not in live]
            raise InstallError(
                f"{engine.url.render_as_string(hide_password=True)} does not look like an SL application "
                f"database (missing tables: {', '.join(missing)})"
            )
        start = current_version(conn)
    if start > SCHEMA_VERSION:
        raise InstallError(f"installed schema version {start} is newer than this code ({SCHEMA_VERSION})")
    log = _StepLog()
    applied: list[str] = []
    for migration in MIGRATIONS:
        if migration.version <= start or migration.version > target:
            continue
        with engine.begin() as conn:
            if migration.version == 1:
                _create_schema_version_table(conn, log)
            migration.apply(conn, log)
            conn.execute(
                sa.insert(xPTSchemaVer).values(
                    version=migration.version, description=migration.description, applied_at=utcnow()
                )
            )
        applied.append(f"v{migration.version}: {migration.description}")
    with engine.connect() as conn:
        end = current_version(conn)
    return InstallResult(
        from_version=start,
        to_version=end,
        applied=tuple(applied),
        created_tables=tuple(log.created_tables),
        added_columns=tuple(log.added_columns),
    )


def _create_schema_version_table(conn: sa.Connection, log: _StepLog) -> None:
    _assert_ours(xPTSchemaVer.name)
    if xPTSchemaVer.name.lower() not in live_table_names(conn):
        conn.execute(CreateTable(xPTSchemaVer))
        log.created_tables.append(xPTSchemaVer.name)


def own_table_names() -> Sequence[str]:
    """Names of all our tables (for docs and checks)."""
    return list(OWN_TABLES)
