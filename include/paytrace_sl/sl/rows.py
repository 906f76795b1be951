"""Complete, checked SL rows: every column, SL's blanks, no silent truncation, smalldatetime range.

SL stores no NULLs and ARDoc/ARTran/GLTran have no DEFAULTs, so every INSERT names every column
(except ``tstamp``, and the identity ``RecordID`` where the database fills it). A value that does not
fit its column is an error that names the table, the column and the value — SQL Server would reject it
("String or binary data would be truncated") *after* half a batch was sent; we refuse before sending.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.sl import catalog

SMALLDATETIME_MIN = dt.datetime(1900, 1, 1)
SMALLDATETIME_MAX = dt.datetime(2079, 6, 6, 23, 59)
SMALLINT_RANGE = (-32768, 32767)
INT_RANGE = (-(2**31), 2**31 - 1)


class SLValueError(PaytraceSlError, ValueError):
    """A value cannot be stored in an SL column as given (too long, out of range, NULL, wrong type)."""

    def __init__(self, table: str, column: str, value: object, problem: str) -> None:
        self.table = table
        self.column = column
        self.value = value
        super().__init__(f"{table}.{column}: {problem} (value {value!r})")


def money_read(value: float | int | Decimal | None, decimals: int = 2) -> Decimal:
    """A money amount read back from one of SL's float columns, as an exact Decimal (None = 0).

    The inverse of :func:`money`: round the float to the currency's decimals first, so arithmetic on
    amounts read from SL happens in Decimal, never in float.
    """
    return Decimal(str(round(float(value or 0.0), decimals))).quantize(_quantum(decimals))


def money(amount: Decimal | int | float, decimals: int) -> float:
    """Round a money amount half-up to the currency's decimals and hand it to SL's float columns.

    Rounding happens only here, at write time: the plan carries exact Decimals.
    """
    return float(money_decimal(amount, decimals))


def money_decimal(amount: Decimal | int | float, decimals: int) -> Decimal:
    """:func:`money` before the float: the exact rounded amount, for totals kept in Decimal."""
    dec = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return dec.quantize(_quantum(decimals), rounding=ROUND_HALF_UP)


@functools.cache
def _quantum(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def to_smalldatetime(value: dt.date | dt.datetime, *, table: str = "?", column: str = "?") -> dt.datetime:
    """A naive datetime SL's ``smalldatetime`` accepts: minute precision, 1900-01-01 … 2079-06-06."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise SLValueError(table, column, value, "smalldatetime has no time zone; convert to local first")
        out = value.replace(second=0, microsecond=0)
    else:
        out = dt.datetime(value.year, value.month, value.day)
    if not SMALLDATETIME_MIN <= out <= SMALLDATETIME_MAX:
        raise SLValueError(table, column, value, "outside smalldatetime range 1900-01-01..2079-06-06")
    return out


def _coerce(table: str, column: str, kind: str, length: int | None, value: object) -> object:
    if value is None:
        raise SLValueError(table, column, value, "SL columns are NOT NULL; use the blank value")
    if kind == "char":
        if not isinstance(value, str):
            raise SLValueError(table, column, value, "char column needs a str")
        text = value.rstrip(" ")
        if text == "":
            return catalog.BLANK_CHAR
        if length is not None and len(text) > length:
            raise SLValueError(table, column, value, f"longer than char({length}) ({len(text)} characters)")
        return text
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise SLValueError(table, column, value, "float column needs a number")
        return float(value)
    if kind in ("smallint", "int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SLValueError(table, column, value, f"{kind} column needs an int")
        low, high = SMALLINT_RANGE if kind == "smallint" else INT_RANGE
        if not low <= value <= high:
            raise SLValueError(table, column, value, f"outside {kind} range {low}..{high}")
        return value
    if kind == "datetime":
        if not isinstance(value, dt.date):
            raise SLValueError(table, column, value, "smalldatetime column needs a date/datetime")
        return to_smalldatetime(value, table=table, column=column)
    raise SLValueError(table, column, value, f"column kind {kind} is never written by the pipeline")


@functools.cache
def column_kinds(tbl: sa.Table) -> dict[str, tuple[str, int | None]]:
    return {c.name: (c.info["sl_kind"], c.info["length"]) for c in tbl.columns}


@functools.cache
def blank_template(tbl: sa.Table, include_identity: bool) -> dict[str, object]:
    return catalog.blank_row(tbl, include_identity=include_identity)


def complete_row(tbl: sa.Table, values: Mapping[str, object], *, include_identity: bool) -> dict[str, object]:
    """Every writable column of ``tbl``: SL's blank overlaid with ``values``, each given value checked.

    Unknown column names are an error (a typo would otherwise silently leave a blank). The blanks come
    from the catalog and are valid by construction, so only the given values are checked (this runs
    for every row of a 100,000-payment load).
    """
    row = dict(blank_template(tbl, include_identity))
    kinds = column_kinds(tbl)
    name = tbl.name
    for key, value in values.items():
        if key not in row:
            raise SLValueError(name, key, value, "not a writable column of this table")
        kind, length = kinds[key]
        row[key] = _coerce(name, key, kind, length, value)
    return row


def fiscal_year(per_post: str) -> str:
    """``FiscYr`` = left(PerPost, 4), as SL's release writes it."""
    return per_post[:4]


def _unchanged_by_coerce(kind: str, length: int | None, value_type: type, values: list[object]) -> bool:
    """True when :func:`_coerce` would return every value as it is (checked over the whole column at once).

    False only means "check value by value" — the slow path then raises the precise error.
    """
    if kind == "float":
        return value_type is float
    if kind in ("smallint", "int") and value_type is int:
        low, high = SMALLINT_RANGE if kind == "smallint" else INT_RANGE
        return low <= min(values) and max(values) <= high  # type: ignore[type-var,operator]
    if kind == "char" and value_type is str:
        distinct: set[str] = set(values)  # type: ignore[arg-type]
        return (
            "" not in distinct
            and not any(v[-1] == " " for v in distinct)
            and (length is None or max(map(len, distinct)) <= length)
        )
    return False


def complete_columns(
    tbl: sa.Table, rows: Sequence[Mapping[str, object]], *, include_identity: bool
) -> tuple[list[tuple[str, list[object]]], dict[str, object]]:
    """:func:`complete_row` for many rows at once, column-wise: ``(given columns, SL blanks)``.

    ``given`` lists, for every column any row names, the checked value of each row (a row that does not
    name it gets the blank); ``blanks`` holds the columns no row names, once, not once per row. Values
    are the same as :func:`complete_row` would produce and the same errors are raised. Each *distinct*
    value of a column is checked once: most SL columns hold one value per batch (company, period, audit
    stamps), so a 5,000-document batch costs a few dozen checks per column instead of 5,000.
    """
    template = blank_template(tbl, include_identity)
    kinds = column_kinds(tbl)
    name = tbl.name
    first = tuple(rows[0]) if rows else ()
    if all(tuple(row) == first for row in rows):  # the usual case: one builder, same keys, same order
        names = list(first)
        columns = [list(col) for col in zip(*(row.values() for row in rows), strict=True)]
    else:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        names = list(seen)
        columns = [[row.get(key, template.get(key)) for row in rows] for key in names]
    given: list[tuple[str, list[object]]] = []
    for key, values in zip(names, columns, strict=True):
        if key not in template:
            bad = next(row[key] for row in rows if key in row)
            raise SLValueError(name, key, bad, "not a writable column of this table")
        given.append((key, _check_column(name, key, kinds[key], values)))
    blanks = {k: v for k, v in template.items() if k not in names}
    return given, blanks


def _check_column(
    table: str, key: str, kind_length: tuple[str, int | None], values: list[object]
) -> list[object]:
    """:func:`_coerce` applied to every value of one column, each distinct value checked once."""
    kind, length = kind_length
    head = values[0]
    types = set(map(type, values))
    if len(types) == 1 and values.count(head) == len(values):  # one value for every row: check once
        return [_coerce(table, key, kind, length, head)] * len(values)
    if len(types) == 1 and _unchanged_by_coerce(kind, length, next(iter(types)), values):
        return values
    if len(types) == 1:
        # One type: equal values coerce equally, so check each distinct value once.
        checked = {v: _coerce(table, key, kind, length, v) for v in dict.fromkeys(values)}
        return [checked[v] for v in values]
    # mixed types (1 == 1.0 == True): no sharing, check every value on its own
    return [_coerce(table, key, kind, length, v) for v in values]


class ColumnRows:
    """Rows of one table held column by column, as the payments path builds them (no dict per row).

    ``varying`` holds one list per column (a value per row, all the same length ``count``);
    ``constant`` one value for every row (company, period, audit stamps…). A column is in one of the two,
    never both. :meth:`rows` gives the same rows as dicts (the executemany path and tests).
    """

    __slots__ = ("constant", "count", "varying")

    def __init__(self, count: int, varying: Mapping[str, list[Any]], constant: Mapping[str, object]) -> None:
        for key, values in varying.items():
            if len(values) != count:
                raise ValueError(f"column {key}: {len(values)} values for {count} rows")
        both = set(varying) & set(constant)
        if both:
            raise ValueError(f"column(s) {', '.join(sorted(both))} both varying and constant")
        self.count = count
        self.varying: dict[str, list[Any]] = dict(varying)
        self.constant: dict[str, object] = dict(constant)

    def __len__(self) -> int:
        return self.count

    def names(self) -> list[str]:
        return [*self.varying, *self.constant]

    def set_constant(self, key: str, value: object) -> None:
        """Every row's ``key`` becomes ``value`` (e.g. ``PerEnt`` stamped after the build)."""
        self.varying.pop(key, None)
        self.constant[key] = value

    def set_varying(self, key: str, values: list[object]) -> None:
        if len(values) != self.count:
            raise ValueError(f"column {key}: {len(values)} values for {self.count} rows")
        self.constant.pop(key, None)
        self.varying[key] = values

    def distinct(self, key: str) -> set[object]:
        """The distinct values of column ``key`` (``{None}`` when no row names it)."""
        if key in self.constant:
            return {self.constant[key]}
        if key in self.varying:
            return set(self.varying[key])
        return {None}

    def column(self, key: str) -> list[object]:
        """Every row's value of ``key`` (a KeyError when no row names it)."""
        if key in self.varying:
            return self.varying[key]
        return [self.constant[key]] * self.count

    def rows(self) -> list[dict[str, object]]:
        """The same rows as one dict each (varying columns first, then the constants)."""
        keys = list(self.varying)
        if not keys:
            return [dict(self.constant) for _ in range(self.count)]
        return [
            {**dict(zip(keys, values, strict=True)), **self.constant}
            for values in zip(*self.varying.values(), strict=True)
        ]


def check_columns(
    tbl: sa.Table, rows: ColumnRows, *, include_identity: bool
) -> tuple[list[tuple[str, list[object]]], dict[str, object], dict[str, object]]:
    """:func:`complete_columns` for rows already held column-wise: ``(varying, constants, SL blanks)``.

    Varying columns are checked as :func:`complete_columns` checks them, each constant once; the values
    and the errors are those :func:`complete_row` gives for the same rows. A varying column whose values
    turn out all equal stays varying (the caller may fold it into the constants).
    """
    template = blank_template(tbl, include_identity)
    kinds = column_kinds(tbl)
    name = tbl.name
    for key in rows.names():
        if key not in template:
            bad = rows.constant[key] if key in rows.constant else rows.varying[key][0]
            raise SLValueError(name, key, bad, "not a writable column of this table")
    varying: list[tuple[str, list[object]]] = []
    constant: dict[str, object] = {}
    if rows.count == 0:
        return varying, constant, dict(template)
    for key, values in rows.varying.items():
        varying.append((key, _check_column(name, key, kinds[key], values)))
    for key, value in rows.constant.items():
        kind, length = kinds[key]
        constant[key] = _coerce(name, key, kind, length, value)
    given = set(rows.varying) | set(rows.constant)
    blanks = {k: v for k, v in template.items() if k not in given}
    return varying, constant, blanks
