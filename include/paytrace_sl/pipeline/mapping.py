"""mapping.yaml: the business configuration of the PayTrace → SL transformation.

Loaded into frozen dataclasses; every value is checked and a bad file is rejected with the line and
the reason (``mapping.yaml:42: gl_accounts[1].clearing.acct: longer than 10 characters``). Unknown keys
are errors too: a typo must not silently fall back to a default. Keys: docs/mapping.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paytrace_sl.fraud.config import PATTERNS, RULE_PATTERNS, FraudConfig
from paytrace_sl.pipeline.cards import BRANDS
from paytrace_sl.pipeline.yamlsource import ConfigFileError, PathKey, YamlDocument, load_yaml_document
from paytrace_sl.plan import Account

__all__ = [
    "ChecksConfig",
    "ConfigFileError",
    "CustomerMatching",
    "GlRule",
    "Mapping",
    "default_mapping_path",
    "load_mapping",
]

TRANSACTION_ACTIONS = ("payment", "refund", "await_capture", "void_record", "ignore")
CUSTOMER_STRATEGIES = ("exact", "xref", "invoice")
INVOICE_MATCHES = ("invoice", "order")
LATE_ITEMS = ("current", "refuse")  # = paytrace_sl.sl.periods.LATE_ITEMS (no SL import here)


def default_mapping_path() -> Path:
    """``PAYTRACE_SL_MAPPING``, else ``mapping.yaml`` of the contracts folder (``paytrace_sl.settings``)."""
    from paytrace_sl import settings

    return settings.mapping_path()


@dataclass(frozen=True, slots=True)
class GlRule:
    """One ordered clearing-account rule; empty conditions match everything."""

    name: str
    clearing: Account
    brands: tuple[str, ...] = ()
    invoice_pattern: str | None = None
    channels: tuple[str, ...] = ()
    merchants: tuple[str, ...] = ()

    @property
    def is_catch_all(self) -> bool:
        return not (self.brands or self.invoice_pattern or self.channels or self.merchants)


# only payers without a PayTrace customer id go to the unidentified customer; a PayTrace customer SL does
# not know yet waits in review (unknown_customer) until its vault profile is linked
UNIDENTIFIED_WALK_INS = "unidentified_walk_ins"


@dataclass(frozen=True, slots=True)
class CustomerMatching:
    strategy: tuple[str, ...] = CUSTOMER_STRATEGIES
    unmatched: str = "review"  # review | unidentified | unidentified_walk_ins
    unidentified_customer_id: str = ""
    # vault profiles (paytrace_customers_to_sl, docs/customers.md)
    create_missing: bool = False
    customer_class: str = ""
    auto_link_threshold: float = 0.9
    suggest_threshold: float = 0.55
    expiring_days: int = 30


@dataclass(frozen=True, slots=True)
class ChecksConfig:
    row_count_anomaly_factor: float = 5.0
    row_count_min_history: int = 5
    row_count_floor: int = 20


CHARGEBACK_FIELDS = (
    "case_number",
    "transaction_id",
    "stage",
    "case_date",
    "amount",
    "fee",
    "reason_code",
    "card",
)
CHARGEBACK_STAGES = ("retrieval", "chargeback", "won", "lost")


@dataclass(frozen=True, slots=True)
class ChargebackMapping:
    """The ``chargebacks`` section: the processor's CSV layout and the accounts (docs/mapping.md)."""

    columns: MappingABC[str, str] = field(
        default_factory=lambda: MappingProxyType({f: f for f in CHARGEBACK_FIELDS})
    )
    stages: MappingABC[str, str] = field(
        default_factory=lambda: MappingProxyType({s: s for s in CHARGEBACK_STAGES})
    )
    date_format: str = "%Y-%m-%d"
    delimiter: str = ","
    debited_account: Account | None = None  # None → the catch-all clearing account
    fee_account: Account | None = None  # None → no fee entry (a fee in the file is a review item)
    fee_bank_account: Account | None = None  # None → settlement.bank_account


@dataclass(frozen=True, slots=True)
class Mapping:
    timezone: str
    merchant_id: str
    company: str  # "" → from SL setup
    transaction_types: MappingABC[str, str]
    sl_doc_types: MappingABC[str, str]
    gl_rules: tuple[GlRule, ...]
    refund_account: Account
    bank_account: Account | None
    batch_status: str
    batch_grouping: str  # day | window
    lookback_days: int
    lookback_hours: int
    schedule: str
    customers: CustomerMatching
    invoice_match: tuple[str, ...]
    checks: ChecksConfig
    source: Path | None = None
    late_items: str = "current"  # periods.late_items: current | refuse (sl/periods.py)
    # fraud: alerts, holds, notification thresholds (docs/fraud.md)
    fraud: FraudConfig = field(default_factory=FraudConfig)
    chargebacks: ChargebackMapping = field(default_factory=ChargebackMapping)
    # batches.max_documents: documents per SL batch at most; a larger group is split in transaction-id
    # order into parts of this size (0: no cap)
    batch_max_documents: int = 5000
    # sl.pending_cache: the writer reads the applications pending in unreleased AR batches once per load
    # step and carries them from batch to batch (sl/pending.py); false: read per batch, as before
    sl_pending_cache: bool = True

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def action_for(self, transaction_type: str) -> str:
        """What to do with a PayTrace type; unknown types are ``ignore`` (skipped with a reason)."""
        return self.transaction_types.get(transaction_type.upper(), "ignore")

    @property
    def settlement_planned(self) -> bool:
        """A deposit GL batch only makes sense when the bank differs from every clearing account."""
        if self.bank_account is None:
            return False
        return all(rule.clearing != self.bank_account for rule in self.gl_rules)


class _Reader:
    """Typed getters over a YamlDocument that raise line-numbered errors."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc

    def fail(self, path: PathKey, reason: str) -> ConfigFileError:
        label = ""
        for part in path:
            label += f"[{part}]" if isinstance(part, int) else (f".{part}" if label else str(part))
        return self.doc.error(path, f"{label}: {reason}" if label else reason)

    def section(self, data: Any, path: PathKey, allowed: tuple[str, ...]) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.fail(path, f"must be a mapping, got {type(data).__name__}")
        for key in data:
            if key not in allowed:
                raise self.fail((*path, key), f"unknown key (expected one of: {', '.join(allowed)})")
        return data

    def string(self, data: dict[str, Any], key: str, path: PathKey, default: str | None = None) -> str:
        if key not in data or data[key] is None:
            if default is None:
                raise self.fail((*path, key), "is required")
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail((*path, key), f"must be a string, got {type(value).__name__}")
        return str(value)

    def integer(self, data: dict[str, Any], key: str, path: PathKey, default: int, minimum: int = 0) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail((*path, key), f"must be an integer, got {value!r}")
        if value < minimum:
            raise self.fail((*path, key), f"must be >= {minimum}, got {value}")
        return value

    def number(self, data: dict[str, Any], key: str, path: PathKey, default: float, minimum: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail((*path, key), f"must be a number, got {value!r}")
        if value < minimum:
            raise self.fail((*path, key), f"must be >= {minimum}, got {value}")
        return float(value)

    def choice(
        self, data: dict[str, Any], key: str, path: PathKey, choices: tuple[str, ...], default: str
    ) -> str:
        value = self.string(data, key, path, default)
        if value not in choices:
            raise self.fail((*path, key), f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def string_list(
        self, data: dict[str, Any], key: str, path: PathKey, choices: tuple[str, ...] | None = None
    ) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail((*path, key), "must be a list")
        out: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise self.fail((*path, key, index), f"must be a string, got {item!r}")
            if choices is not None and str(item) not in choices:
                raise self.fail((*path, key, index), f"must be one of {', '.join(choices)}; got {item!r}")
            out.append(str(item))
        return tuple(out)

    def account(self, data: Any, path: PathKey) -> Account:
        section = self.section(data, path, ("acct", "sub"))
        if not section:
            raise self.fail(path, "must be a mapping with acct and sub")
        acct = self.string(section, "acct", path).strip()
        sub = self.string(section, "sub", path).strip()
        if not acct:
            raise self.fail((*path, "acct"), "must not be blank")
        if len(acct) > 10:
            raise self.fail((*path, "acct"), f"longer than 10 characters (SL Acct char(10)): {acct!r}")
        if not sub:
            raise self.fail((*path, "sub"), "must not be blank")
        if len(sub) > 24:
            raise self.fail((*path, "sub"), f"longer than 24 characters (SL Sub char(24)): {sub!r}")
        return Account(acct=acct, sub=sub)


_TOP_KEYS = (
    "version",
    "merchant",
    "company",
    "transaction_types",
    "sl_doc_types",
    "gl_accounts",
    "refund_account",
    "settlement",
    "batches",
    "window",
    "customers",
    "invoices",
    "checks",
    "periods",
    "fraud",
    "chargebacks",
    "sl",
)


def _gl_rules(reader: _Reader, data: Any) -> tuple[GlRule, ...]:
    path: PathKey = ("gl_accounts",)
    if not isinstance(data, list) or not data:
        raise reader.fail(path, "must be a non-empty list of rules")
    rules: list[GlRule] = []
    for index, raw in enumerate(data):
        rpath: PathKey = (*path, index)
        rule = reader.section(raw, rpath, ("name", "when", "clearing"))
        name = reader.string(rule, "name", rpath, f"rule-{index + 1}")
        when = reader.section(
            rule.get("when"), (*rpath, "when"), ("brand", "invoice_pattern", "channel", "merchant")
        )
        pattern = when.get("invoice_pattern")
        if pattern is not None:
            pattern = reader.string(when, "invoice_pattern", (*rpath, "when"))
            try:
                re.compile(pattern)
            except re.error as exc:
                raise reader.fail((*rpath, "when", "invoice_pattern"), f"invalid regex: {exc}") from exc
        if "clearing" not in rule:
            raise reader.fail((*rpath, "clearing"), "is required")
        rules.append(
            GlRule(
                name=name,
                clearing=reader.account(rule["clearing"], (*rpath, "clearing")),
                brands=reader.string_list(when, "brand", (*rpath, "when"), BRANDS),
                invoice_pattern=pattern,
                channels=reader.string_list(when, "channel", (*rpath, "when")),
                merchants=reader.string_list(when, "merchant", (*rpath, "when")),
            )
        )
    if not rules[-1].is_catch_all:
        raise reader.fail((*path, len(rules) - 1), "the last rule must have no 'when' (the catch-all)")
    for index, rule_obj in enumerate(rules[:-1]):
        if rule_obj.is_catch_all:
            raise reader.fail(
                (*path, index), "a rule without 'when' before the last one hides every later rule"
            )
    return tuple(rules)


_VAULT_KEYS = (
    "create_missing",
    "customer_class",
    "auto_link_threshold",
    "suggest_threshold",
    "expiring_days",
)


def _vault_options(reader: _Reader, customers: dict[str, Any]) -> dict[str, Any]:
    """The ``customers:`` keys of vault profiles (paytrace_customers_to_sl)."""
    path = ("customers",)
    create = customers.get("create_missing", False)
    if not isinstance(create, bool):
        raise reader.fail(("customers", "create_missing"), "must be true or false")
    class_id = reader.string(customers, "customer_class", path, "").strip()
    if len(class_id) > 6:
        raise reader.fail(("customers", "customer_class"), "longer than 6 characters (SL ClassId)")
    if create and not class_id:
        raise reader.fail(("customers", "customer_class"), "required when create_missing: true")
    auto = reader.number(customers, "auto_link_threshold", path, 0.9, 0.0)
    suggest = reader.number(customers, "suggest_threshold", path, 0.55, 0.0)
    if auto > 1:
        raise reader.fail(("customers", "auto_link_threshold"), f"must be <= 1, got {auto}")
    if suggest > auto:
        raise reader.fail(("customers", "suggest_threshold"), "must be <= auto_link_threshold")
    return {
        "create_missing": create,
        "customer_class": class_id,
        "auto_link_threshold": auto,
        "suggest_threshold": suggest,
        "expiring_days": reader.integer(customers, "expiring_days", path, 30, 1),
    }


def load_mapping(path: Path | str | None = None) -> Mapping:
    """Load and check ``path`` (default: :func:`default_mapping_path`). Raises ConfigFileError."""
    file_path = Path(path) if path is not None else default_mapping_path()
    doc = load_yaml_document(file_path)
    reader = _Reader(doc)
    top = reader.section(doc.data, (), _TOP_KEYS)
    if not top:
        raise doc.error((), "empty mapping file")
    version = reader.integer(top, "version", (), 1, minimum=1)
    if version != 1:
        raise reader.fail(("version",), f"unsupported mapping version {version} (this build reads 1)")

    merchant = reader.section(top.get("merchant"), ("merchant",), ("timezone", "merchant_id"))
    timezone = reader.string(merchant, "timezone", ("merchant",), "America/Los_Angeles")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise reader.fail(("merchant", "timezone"), f"unknown time zone {timezone!r}") from exc
    company = reader.string(top, "company", (), "").strip()
    if len(company) > 10:
        raise reader.fail(("company",), f"longer than 10 characters (SL CpnyID char(10)): {company!r}")

    raw_types = reader.section(top.get("transaction_types"), ("transaction_types",), _ANY_KEY)
    types = {
        str(k).upper(): reader.choice(raw_types, k, ("transaction_types",), TRANSACTION_ACTIONS, "ignore")
        for k in raw_types
    }
    if "payment" not in types.values():
        raise reader.fail(("transaction_types",), "no transaction type maps to 'payment'")

    doc_types_raw = reader.section(top.get("sl_doc_types"), ("sl_doc_types",), ("payment", "refund"))
    doc_types = {}
    for kind, default in (("payment", "PA"), ("refund", "CM")):
        value = reader.string(doc_types_raw, kind, ("sl_doc_types",), default)
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise reader.fail(("sl_doc_types", kind), f"must be a 2-letter SL DocType, got {value!r}")
        doc_types[kind] = value

    if "refund_account" not in top:
        raise reader.fail(("refund_account",), "is required")
    settlement = reader.section(top.get("settlement"), ("settlement",), ("bank_account",))
    bank = settlement.get("bank_account")
    batches = reader.section(top.get("batches"), ("batches",), ("status", "grouping", "max_documents"))
    window = reader.section(top.get("window"), ("window",), ("lookback_days", "lookback_hours", "schedule"))
    schedule = reader.string(window, "schedule", ("window",), "15 * * * *")
    if len(schedule.split()) != 5 and not schedule.startswith("@"):
        raise reader.fail(("window", "schedule"), f"not a 5-field cron expression or @preset: {schedule!r}")
    customers = reader.section(
        top.get("customers"),
        ("customers",),
        ("strategy", "unmatched", "unidentified_customer_id", *_VAULT_KEYS),
    )
    strategy = (
        reader.string_list(customers, "strategy", ("customers",), CUSTOMER_STRATEGIES) or CUSTOMER_STRATEGIES
    )
    unmatched = reader.choice(
        customers, "unmatched", ("customers",), ("review", "unidentified", UNIDENTIFIED_WALK_INS), "review"
    )
    unidentified = reader.string(customers, "unidentified_customer_id", ("customers",), "").strip()
    if unmatched != "review" and not unidentified:
        raise reader.fail(
            ("customers", "unidentified_customer_id"),
            "required when unmatched: unidentified or unidentified_walk_ins",
        )
    if len(unidentified) > 15:
        raise reader.fail(("customers", "unidentified_customer_id"), "longer than 15 characters (SL CustId)")
    invoices = reader.section(top.get("invoices"), ("invoices",), ("match",))
    periods = reader.section(top.get("periods"), ("periods",), ("late_items",))
    sl = reader.section(top.get("sl"), ("sl",), ("pending_cache",))
    pending_cache = sl.get("pending_cache", True)
    if not isinstance(pending_cache, bool):
        raise reader.fail(("sl", "pending_cache"), "must be true or false")
    checks = reader.section(
        top.get("checks"),
        ("checks",),
        ("row_count_anomaly_factor", "row_count_min_history", "row_count_floor"),
    )
    return Mapping(
        timezone=timezone,
        merchant_id=reader.string(merchant, "merchant_id", ("merchant",), ""),
        company=company,
        transaction_types=MappingProxyType(types),
        sl_doc_types=MappingProxyType(doc_types),
        gl_rules=_gl_rules(reader, top.get("gl_accounts")),
        refund_account=reader.account(top["refund_account"], ("refund_account",)),
        bank_account=reader.account(bank, ("settlement", "bank_account")) if bank is not None else None,
        batch_status=reader.choice(batches, "status", ("batches",), ("H", "B"), "H"),
        batch_grouping=reader.choice(batches, "grouping", ("batches",), ("day", "window"), "day"),
        lookback_days=reader.integer(window, "lookback_days", ("window",), 3),
        lookback_hours=reader.integer(window, "lookback_hours", ("window",), 0),
        schedule=schedule,
        customers=CustomerMatching(
            strategy=strategy,
            unmatched=unmatched,
            unidentified_customer_id=unidentified,
            **_vault_options(reader, customers),
        ),
        invoice_match=reader.string_list(invoices, "match", ("invoices",), INVOICE_MATCHES)
        or INVOICE_MATCHES,
        checks=ChecksConfig(
            row_count_anomaly_factor=reader.number(checks, "row_count_anomaly_factor", ("checks",), 5.0, 1.0),
            row_count_min_history=reader.integer(checks, "row_count_min_history", ("checks",), 5),
            row_count_floor=reader.integer(checks, "row_count_floor", ("checks",), 20),
        ),
        source=file_path,
        late_items=reader.choice(periods, "late_items", ("periods",), LATE_ITEMS, "current"),
        fraud=_fraud(reader, top.get("fraud")),
        chargebacks=_chargebacks(reader, top.get("chargebacks")),
        batch_max_documents=reader.integer(batches, "max_documents", ("batches",), 5000),
        sl_pending_cache=pending_cache,
    )


def _chargebacks(reader: _Reader, data: Any) -> ChargebackMapping:
    """The ``chargebacks`` section (all optional): column names, stage words, date format, accounts."""
    path: PathKey = ("chargebacks",)
    keys = (
        "columns",
        "stages",
        "date_format",
        "delimiter",
        "debited_account",
        "fee_account",
        "fee_bank_account",
    )
    section = reader.section(data, path, keys)
    raw_cols = reader.section(section.get("columns"), (*path, "columns"), CHARGEBACK_FIELDS)
    columns = {f: reader.string(raw_cols, f, (*path, "columns"), f).strip() for f in CHARGEBACK_FIELDS}
    for f in ("case_number", "transaction_id", "stage", "case_date", "amount"):
        if not columns[f]:
            raise reader.fail((*path, "columns", f), "must name a column (the field is required)")
    raw_stages = reader.section(section.get("stages"), (*path, "stages"), _ANY_KEY)
    stages = {s: s for s in CHARGEBACK_STAGES}
    for word in raw_stages:
        stages[str(word).strip().lower()] = reader.choice(
            raw_stages, word, (*path, "stages"), CHARGEBACK_STAGES, ""
        )
    delimiter = reader.string(section, "delimiter", path, ",")
    if len(delimiter) != 1:
        raise reader.fail((*path, "delimiter"), f"must be one character, got {delimiter!r}")

    def account(key: str) -> Account | None:
        return reader.account(section[key], (*path, key)) if section.get(key) is not None else None

    return ChargebackMapping(
        columns=MappingProxyType(columns),
        stages=MappingProxyType(stages),
        date_format=reader.string(section, "date_format", path, "%Y-%m-%d"),
        delimiter=delimiter,
        debited_account=account("debited_account"),
        fee_account=account("fee_account"),
        fee_bank_account=account("fee_bank_account"),
    )


def _fraud(reader: _Reader, data: Any) -> FraudConfig:
    """The ``fraud:`` section: on/off, patterns that hold posting, per-channel notification thresholds."""
    path: PathKey = ("fraud",)
    section = reader.section(data, path, ("enabled", "hold", "notify_min_score"))
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        raise reader.fail((*path, "enabled"), f"must be true or false, got {enabled!r}")
    hold = reader.string_list(section, "hold", path, (*RULE_PATTERNS, "model"))
    raw = section.get("notify_min_score")
    scores: dict[str, float] = {"log": 0.5}
    if raw is not None:
        from paytrace_sl.pipeline.notify import CHANNELS

        table = reader.section(raw, (*path, "notify_min_score"), CHANNELS)
        scores = {ch: reader.number(table, ch, (*path, "notify_min_score"), 0.0, 0.0) for ch in table}
    assert set(PATTERNS) >= set(hold)
    return FraudConfig(enabled=enabled, hold=hold, notify_min_score=MappingProxyType(scores))


class _AnyKey(tuple[str, ...]):
    """Sentinel 'allowed keys' that accepts every key (for the transaction_types table)."""

    def __contains__(self, item: object) -> bool:
        return True


_ANY_KEY = _AnyKey()
