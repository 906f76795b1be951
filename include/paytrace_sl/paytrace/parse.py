"""Raw PayTrace v1 JSON → the typed records in :mod:`paytrace_sl.paytrace.records`.

Parsing is strict and explains itself: a record that cannot be normalized raises
:class:`RecordParseError` naming the transaction id and the field (never the offending value, which
could be card data). The caller decides what to do with it (the pipeline dead-letters it); nothing is
dropped silently.

Field names of the batch exports are inferred (reference §3.3, [I]); they live in :data:`BATCH_FIELDS`
and :data:`BRAND_FIELDS` only, so one real sandbox call can fix them in one place.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from paytrace_sl.paytrace.errors import RecordParseError
from paytrace_sl.paytrace.records import (
    BrandTotals,
    SettlementBatch,
    Transaction,
    TransactionState,
    VaultCustomer,
)
from paytrace_sl.paytrace.timefmt import parse_paytrace_datetime
from paytrace_sl.redaction import contains_pan, mask_pans

# The checks below read PayTrace values strictly (ASCII digits, ranges of the columns they land in, no
# characters a database refuses): a value that passes cannot fail a later step, so one bad record is
# one dead letter, never a failed day.

CENT = Decimal("0.01")

# Inferred v1 names for batch summaries (reference §3.3: legacy BATCHNUM, WHEN, TRANXCOUNT, …).
# Our record field → PayTrace JSON key. Only ``number`` and the ``batches``/``batch`` keys are [C-3p].
BATCH_FIELDS: dict[str, str] = {
    "number": "number",
    "created_at": "created",
    "transaction_count": "transaction_count",
    "net_amount": "net_amount",
    "sales_count": "sales_count",
    "sales_amount": "sales_amount",
    "refund_count": "refund_count",
    "refund_amount": "refund_amount",
}
# Per-brand breakdown keys inside ``batches/export_one``'s ``batch`` object (legacy VISA|MASTERCARD|…).
BRAND_KEYS: tuple[str, ...] = ("visa", "mastercard", "amex", "discover", "diners", "jcb", "private")
BRAND_FIELDS: dict[str, str] = {
    "sales_count": "sales_count",
    "sales_amount": "sales_amount",
    "refund_count": "refund_count",
    "refund_amount": "refund_amount",
}
# Vault customer export (``customers[]``): field names beyond ``customer_id`` are [I].
CUSTOMER_FIELDS: dict[str, str] = {
    "customer_id": "customer_id",
    "name": "billing_address.name",
    "email": "email",
    "card_masked": "credit_card.masked_number",
    "created_at": "created.at",
}

# PayTrace transaction_type export filters (reference §2.1).
DECLINED_FILTER = "DECLINED"
RESPONSE_CODE_DECLINED = 102

_MASK_CHARS = frozenset("*xX")
_GB = re.compile(r"^GB\s*([0-9]+)$", re.IGNORECASE)
_TRAILING_DIGITS = re.compile(r"([0-9]+)\s*$")
_ASCII_INT = re.compile(r"[0-9]{1,30}")  # longer is out of every range (and int() refuses > 4300 digits)
# PayTrace amounts as text: ASCII digits, an optional leading minus (net batch totals can be negative)
# and at most two decimals. No grouping (``1,234``: ``12,50`` must not become 1250), no ``_``, no
# exponent, no other digits (``١٢``, ``１２``), no spaces.
_AMOUNT_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]{1,2})?")
# characters no database column takes (NUL) or UTF-8 cannot encode (unpaired surrogates)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# C0 controls and DEL: never part of an id
_CONTROL = re.compile("[\x00-\x1f\x7f]")

# Ranges of the columns a PayTrace number lands in (the catalog, docs/sl-schema.md):
MAX_TRANSACTION_ID = 9_999_999_999  # str(id) is SL's ARDoc/ARTran.RefNbr, char(10)
MAX_BATCH_NUMBER = 999_999_999_999_999  # "PayTrace batch <n>" within GLTran's 30-char description
MAX_COUNT = 2_147_483_647  # xPTRecon.paytrace_count, int


def _txid_label(raw: Mapping[str, Any]) -> object:
    """The transaction id for error messages, only if it is a valid id (never echo junk or a PAN)."""
    value = raw.get("transaction_id") if isinstance(raw, Mapping) else None
    if isinstance(value, str) and _ASCII_INT.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TRANSACTION_ID:
        return value
    return "<unknown>"


def _get_path(raw: Mapping[str, Any], path: str) -> Any:
    if "." not in path:
        return raw.get(path)
    node: Any = raw
    for part in path.split("."):
        if not (type(node) is dict or isinstance(node, Mapping)):
            return None
        node = node.get(part)
    return node


# Integer digits a money amount may have: SL's float columns hold cents exactly up to ~2**53.
MAX_AMOUNT_DIGITS = 13


def parse_amount(
    value: Any, txid: object = "<unknown>", field: str = "amount", *, required: bool = True
) -> Decimal:
    """A money amount as ``Decimal`` with 2 places, from a JSON number or a string.

    Built from ``str(value)`` so a float never leaks binary noise in; NaN, infinities, booleans and
    more than 2 significant decimals (PayTrace is USD-only) are rejected rather than rounded.
    """
    if value is None or value == "":
        if required:
            raise RecordParseError(txid, field, "missing")
        return Decimal("0.00")
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise RecordParseError(
            txid, field, f"expected a number or numeric string, got {type(value).__name__}"
        )
    if isinstance(value, str) and not _AMOUNT_TEXT.fullmatch(value):
        raise RecordParseError(
            txid, field, "not a plain decimal amount (ASCII digits, '.', at most 2 decimals, e.g. '8.10')"
        )
    text = str(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise RecordParseError(txid, field, "not a number") from None
    if not amount.is_finite():
        raise RecordParseError(txid, field, "not a finite number")
    if amount.adjusted() >= MAX_AMOUNT_DIGITS:
        # SL stores money in float columns: beyond ~13 integer digits cents are no longer exact.
        raise RecordParseError(txid, field, f"out of range (more than {MAX_AMOUNT_DIGITS} integer digits)")
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise RecordParseError(txid, field, "more than 2 decimal places")
    return quantized


def _parse_int(value: Any, txid: object, field: str, maximum: int = MAX_COUNT, minimum: int = 0) -> int:
    """A non-negative integer from a JSON number or ASCII digits, within the range of its column.

    ``str.isdigit`` would accept ``"²"`` (and ``int`` then raise outside the per-record error path).
    """
    if isinstance(value, bool):
        raise RecordParseError(txid, field, "expected an integer, got a boolean")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _ASCII_INT.fullmatch(value.strip()):
        number = int(value.strip())
    elif isinstance(value, (float, Decimal)) and math.isfinite(value):
        if abs(Decimal(value)) > maximum:  # before int(): Decimal("1e999999") would make a million digits
            raise RecordParseError(txid, field, f"out of range ({minimum} to {maximum})")
        if value == int(value):
            number = int(value)
    if number is None:
        raise RecordParseError(
            txid, field, "missing or not an integer" if value in (None, "") else "not an integer"
        )
    if not minimum <= number <= maximum:
        raise RecordParseError(txid, field, f"out of range ({minimum} to {maximum})")
    return number


def _check_text(text: str, txid: object, field: str) -> str:
    """``text`` if every database can store it (no NUL, no unpaired surrogate)."""
    if _UNSTORABLE.search(text):
        raise RecordParseError(txid, field, "contains a NUL or an unpaired surrogate; no database stores it")
    return text


def _parse_id_text(raw: Mapping[str, Any], path: str, txid: object) -> str:
    """An id (customer, invoice): text as :func:`_parse_text`, and no control character or card number
    (an id is matched against SL, so masking one would only post it to the wrong place)."""
    text = _parse_text(raw, path, txid, mask=False)
    if _CONTROL.search(text):
        raise RecordParseError(txid, path, "contains a control character")
    if len(text) >= 13 and contains_pan(text):
        raise RecordParseError(txid, path, "contains a card number; refused")
    return text


def _parse_text(raw: Mapping[str, Any], path: str, txid: object, *, mask: bool = True) -> str:
    """An optional text field: None → "", numbers → str; any embedded full card number is masked."""
    value = _get_path(raw, path)
    if value is None:
        return ""
    if type(value) is str:
        text = _check_text(value, txid, path)
    elif isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordParseError(txid, path, f"expected text, got {type(value).__name__}")
    else:
        text = str(value)
    return mask_pans(text) if mask and len(text) >= 13 and contains_pan(text) else text


def _parse_stamp(value: Any, tz: ZoneInfo, txid: object, field: str, *, required: bool) -> dt.datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordParseError(txid, field, "missing")
        return None
    if not isinstance(value, str):
        raise RecordParseError(
            txid, field, f"expected a 'M/D/YYYY h:mm:ss AM/PM' string, got {type(value).__name__}"
        )
    try:
        return parse_paytrace_datetime(value, tz)
    except ValueError:
        raise RecordParseError(txid, field, "not a 'M/D/YYYY h:mm:ss AM/PM' timestamp") from None


def parse_masked_card(value: Any, txid: object, field: str = "credit_card.masked_number") -> str:
    """The masked card number, or "" when absent. Anything that looks like a full PAN is refused."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise RecordParseError(
            txid, field, f"expected a masked card number string, got {type(value).__name__}"
        )
    if not any(c in _MASK_CHARS for c in value):
        # PayTrace masks with '*' (or 'x'): a value without one is no masked number, maybe a PAN in a
        # form no detector knows; refused whatever it looks like (paytrace-api.md §3.1, §8)
        raise RecordParseError(txid, field, "has no mask characters ('*' or 'x'); refused")
    _check_text(value, txid, field)
    if contains_pan(value):
        raise RecordParseError(txid, field, "contains a full card number; refused")
    return value


def transaction_state(
    status_code: str, status_message: str, *, declined_hint: bool = False
) -> tuple[TransactionState, int | None]:
    """Map PayTrace's ``status_code``/``status_message`` (reference §3.2) to (state, batch number).

    Raises ValueError for anything unknown: an unrecognized state must stop the record, not guess.
    """
    if declined_hint:
        return TransactionState.DECLINED, None
    code = status_code.strip()
    gb = _GB.match(code)
    if gb:
        return TransactionState.SETTLED, int(gb.group(1))
    if "settled" in code.lower():
        digits = _TRAILING_DIGITS.search(code)
        return TransactionState.SETTLED, int(digits.group(1)) if digits else None
    if code.upper() == "Y":
        return TransactionState.PENDING, None
    if code.upper() == "N":
        message = status_message.upper()
        if "VOID" in message:
            return TransactionState.VOIDED, None
        if "DECL" in message:
            return TransactionState.DECLINED, None
        if "AUTH" in message:
            return TransactionState.AUTHORIZED, None
        raise ValueError("status 'N' with a message that says neither VOID, DECL nor AUTH")
    raise ValueError("unknown status_code")


def parse_transaction(raw: Any, tz: ZoneInfo, *, export_filter: str | None = None) -> Transaction:
    """Normalize one record of ``transactions[]`` (reference §3.1).

    ``export_filter`` is the ``transaction_type`` filter the record was exported under; a record from
    the ``DECLINED`` export (or with response code 102) is declined whatever its status says.
    """
    if not isinstance(raw, Mapping):
        raise RecordParseError("<unknown>", "<record>", f"expected a JSON object, got {type(raw).__name__}")
    txid = _txid_label(raw)
    transaction_id = _parse_int(raw.get("transaction_id"), txid, "transaction_id", MAX_TRANSACTION_ID, 1)
    ttype = raw.get("transaction_type")
    if not isinstance(ttype, str) or not ttype.strip():
        raise RecordParseError(txid, "transaction_type", "missing or not text")
    _check_text(ttype, txid, "transaction_type")
    status_code = _parse_text(raw, "status_code", txid)
    status_message = _parse_text(raw, "status_message", txid)
    declined = (export_filter or "").upper() == DECLINED_FILTER or raw.get("response_code") in (
        RESPONSE_CODE_DECLINED,
        str(RESPONSE_CODE_DECLINED),
    )
    try:
        state, batch_number = transaction_state(status_code, status_message, declined_hint=declined)
    except ValueError as exc:
        raise RecordParseError(txid, "status_code", str(exc)) from None
    if batch_number is not None and not 1 <= batch_number <= MAX_BATCH_NUMBER:
        raise RecordParseError(txid, "status_code", f"batch number out of range (1 to {MAX_BATCH_NUMBER})")
    created = raw.get("created")
    if created is not None and not isinstance(created, Mapping):
        raise RecordParseError(txid, "created", "expected an object")
    created_at = _parse_stamp(_get_path(raw, "created.at"), tz, txid, "created.at", required=True)
    assert created_at is not None
    settled_at = _parse_stamp(raw.get("settled"), tz, txid, "settled", required=False)
    card = raw.get("credit_card")
    if card is not None and not isinstance(card, Mapping):
        raise RecordParseError(txid, "credit_card", "expected an object")
    return Transaction(
        transaction_id=transaction_id,
        transaction_type=ttype.strip().upper(),
        status=state,
        batch_number=batch_number,
        amount=parse_amount(raw.get("amount"), txid, "amount"),
        tax_amount=parse_amount(raw.get("tax_amount"), txid, "tax_amount", required=False),
        created_at=created_at,
        settled_at=settled_at,
        customer_id=_parse_id_text(raw, "customer_id", txid),
        invoice_id=_parse_id_text(raw, "invoice_id", txid),
        card_masked=parse_masked_card(_get_path(raw, "credit_card.masked_number"), txid),
        status_code=status_code,
        status_message=status_message,
        description=_parse_text(raw, "description", txid),
        customer_reference_id=_parse_text(raw, "customer_reference_id", txid),
        approval_code=_parse_text(raw, "approval_code", txid),
        created_through=_parse_text(raw, "created.through", txid),
        created_by=_parse_text(raw, "created.by", txid),
        billing_name=_parse_text(raw, "billing_address.name", txid),
        avs_response=_parse_text(raw, "avs_response", txid),
        csc_response=_parse_text(raw, "csc_response", txid),
        created_from_ip=_parse_text(raw, "created.from_ip", txid),
    )


def _batch_label(raw: Mapping[str, Any]) -> str:
    number = raw.get(BATCH_FIELDS["number"])
    valid = isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= MAX_BATCH_NUMBER
    return f"batch {number}" if valid and not contains_pan(str(number)) else "batch <unknown>"


def parse_brand_totals(raw: Any, brand: str, label: object) -> BrandTotals:
    if not isinstance(raw, Mapping):
        raise RecordParseError(label, brand, "expected an object")
    return BrandTotals(
        brand=brand,
        sales_count=_parse_int(raw.get(BRAND_FIELDS["sales_count"], 0), label, f"{brand}.sales_count"),
        sales_amount=parse_amount(
            raw.get(BRAND_FIELDS["sales_amount"]), label, f"{brand}.sales_amount", required=False
        ),
        refund_count=_parse_int(raw.get(BRAND_FIELDS["refund_count"], 0), label, f"{brand}.refund_count"),
        refund_amount=parse_amount(
            raw.get(BRAND_FIELDS["refund_amount"]), label, f"{brand}.refund_amount", required=False
        ),
    )


def parse_batch(raw: Any, tz: ZoneInfo) -> SettlementBatch:
    """Normalize one ``batches[]`` element or the ``batch`` object of ``export_one``.

    Totals absent from a record are derived from the per-brand breakdown when there is one (export_one
    may only carry brands); ``net_amount`` defaults to sales - refunds.
    """
    if not isinstance(raw, Mapping):
        raise RecordParseError(
            "batch <unknown>", "<record>", f"expected a JSON object, got {type(raw).__name__}"
        )
    label = _batch_label(raw)
    f = BATCH_FIELDS
    number = _parse_int(raw.get(f["number"]), label, f["number"], MAX_BATCH_NUMBER, 1)
    created_at = _parse_stamp(raw.get(f["created_at"]), tz, label, f["created_at"], required=True)
    assert created_at is not None
    brands = tuple(parse_brand_totals(raw[b], b, label) for b in BRAND_KEYS if raw.get(b) is not None)

    def count(name: str, from_brands: int) -> int:
        value = raw.get(f[name])
        return from_brands if value is None else _parse_int(value, label, f[name])

    def money(name: str, from_brands: Decimal) -> Decimal:
        value = raw.get(f[name])
        return from_brands if value is None else parse_amount(value, label, f[name])

    sales_count = count("sales_count", sum(b.sales_count for b in brands))
    refund_count = count("refund_count", sum(b.refund_count for b in brands))
    sales_amount = money("sales_amount", sum((b.sales_amount for b in brands), Decimal("0.00")))
    refund_amount = money("refund_amount", sum((b.refund_amount for b in brands), Decimal("0.00")))
    return SettlementBatch(
        number=number,
        created_at=created_at,
        transaction_count=count("transaction_count", sales_count + refund_count),
        net_amount=money("net_amount", sales_amount - refund_amount),
        sales_count=sales_count,
        sales_amount=sales_amount,
        refund_count=refund_count,
        refund_amount=refund_amount,
        brands=brands,
    )


def parse_customer(raw: Any, tz: ZoneInfo) -> VaultCustomer:
    """Normalize one ``customers[]`` element of ``customer/export`` (names in :data:`CUSTOMER_FIELDS`)."""
    if not isinstance(raw, Mapping):
        raise RecordParseError(
            "customer <unknown>", "<record>", f"expected a JSON object, got {type(raw).__name__}"
        )
    f = CUSTOMER_FIELDS
    customer_id = _get_path(raw, f["customer_id"])
    if isinstance(customer_id, bool) or not isinstance(customer_id, (str, int)) or str(customer_id) == "":
        raise RecordParseError("customer <unknown>", f["customer_id"], "missing or not text")
    shown = str(customer_id)
    plain = len(shown) <= 50 and not _CONTROL.search(shown) and not _UNSTORABLE.search(shown)
    label = f"customer {shown}" if plain and not contains_pan(shown) else "customer <unknown>"
    return VaultCustomer(
        customer_id=str(customer_id),
        name=_parse_text(raw, f["name"], label),
        email=_parse_text(raw, f["email"], label),
        card_masked=parse_masked_card(_get_path(raw, f["card_masked"]), label, f["card_masked"]),
        created_at=_parse_stamp(_get_path(raw, f["created_at"]), tz, label, f["created_at"], required=False),
    )
