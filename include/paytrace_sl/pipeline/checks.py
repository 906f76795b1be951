"""Data-quality checks of an extracted window with Great Expectations 1.x, generated from contracts.

One source of truth: each contract field rule becomes expectations (not null, type, in set, regex,
lengths, range, unique). The GX validation of a run is recorded in a File context with a Data Docs
site (what auditors read); the row-level failures it reports (by a ``_row`` index column) become
dead letters, the rest of the window proceeds. Table-level failures (schema drift, duplicate ids,
a row count far outside the recent pattern, totals that do not add up) stop the run with
:class:`TableCheckError`.

PCI: GX stores unexpected values in its results and Data Docs, so the frame GX sees is scrubbed
first: a ``sensitive`` field value that does not match its mask pattern, and any card number in free
text (:mod:`paytrace_sl.pan_detector`: 13–19 digits, any separators, Luhn-valid), are replaced by a
redaction marker before GX ever sees them. What GX stores and renders is then cut and HTML-escaped
(:mod:`paytrace_sl.pipeline.gx_docs`): record text never becomes markup in Data Docs.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.pan_detector import PAN_HINT as _PAN_RUN  # a cheap pre-filter: 13+ digits/separators
from paytrace_sl.pan_detector import mask_pans
from paytrace_sl.pipeline.contracts import Contract, FieldRule
from paytrace_sl.pipeline.gx_docs import publish
from paytrace_sl.pipeline.gx_lock import gx_dir_lock
from paytrace_sl.pipeline.gx_suite import (
    _NO_LIMIT,
    PAN_MARK,
    ROW_COLUMN,
    ROW_COUNT_MAX,
    ROW_COUNT_MIN,
    SITE_NAME,
    VALUE_SUFFIX,
    _checkpoint,
    _context,
    _gx,
    _gx_lock,
    build_expectations,
)
from paytrace_sl.pipeline.gx_suite import _checkpoints as _checkpoints  # re-exported: tests reset the caches
from paytrace_sl.pipeline.gx_suite import _contexts as _contexts

__all__ = [
    "CheckResult",
    "DeadLetterRow",
    "FailedExpectation",
    "TableCheckError",
    "build_expectations",
    "check_settlement_totals",
    "validate_window",
]

log = logging.getLogger(__name__)

TABLE_LEVEL = (
    "expect_table_columns_to_match_set",
    "expect_column_values_to_be_unique",
    "expect_table_row_count_to_be_between",
)


class TableCheckError(PaytraceSlError, RuntimeError):
    """The window as a whole is wrong: nothing from it may be posted. The message says where to look."""

    def __init__(self, message: str, *, data_docs_index: Path | None = None) -> None:
        self.data_docs_index = data_docs_index
        where = f" (Data Docs: {data_docs_index})" if data_docs_index else ""
        super().__init__(message + where)


@dataclass(frozen=True, slots=True)
class FailedExpectation:
    expectation: str  # e.g. expect_column_values_to_be_in_set
    field: str
    value: str  # PCI-safe summary of the offending value


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    row: int  # position in the validated frame
    record_key: str  # transaction id text ("" when even that is unreadable)
    failures: tuple[FailedExpectation, ...]

    @property
    def reason(self) -> str:
        return "; ".join(f"{f.field}: {f.expectation} (value {f.value})" for f in self.failures)


@dataclass(frozen=True)
class CheckResult:
    run_id: str
    window: str
    total_rows: int
    dead_letters: tuple[DeadLetterRow, ...]
    data_docs_index: Path | None
    summary: str
    elapsed_seconds: float
    statistics: dict[str, Any] = field(default_factory=dict)
    records: pd.DataFrame | None = field(default=None, repr=False, compare=False)  # the validated frame

    @property
    def dead_lettered(self) -> int:
        return len(self.dead_letters)

    @property
    def valid(self) -> pd.DataFrame:
        """Rows that passed: original columns, original index. Selected when asked (the validate step
        streams the landing file instead): at 1M rows the copy alone is hundreds of MB."""
        if self.records is None:
            return pd.DataFrame()
        mask = pd.Series(True, index=range(len(self.records)))
        mask.iloc[[d.row for d in self.dead_letters]] = False
        return self.records[mask.to_numpy()]


# ---------------------------------------------------------------------------------------------
# the frame GX sees


def _scrub_pan(text: str) -> str:
    """Card numbers (the one detector: any separators, Luhn-checked) replaced by :data:`PAN_MARK`."""
    return mask_pans(text, marker=PAN_MARK)


def _as_text(series: pd.Series) -> pd.Series:
    """Text form of any column (ints stay ints even in float columns with NaN); nulls stay null."""
    if pd.api.types.is_bool_dtype(series):
        return series.map(lambda v: None if pd.isna(v) else str(bool(v))).astype("str")
    if pd.api.types.is_integer_dtype(series):
        return series.astype("Int64").astype("str").where(series.notna(), None)
    if pd.api.types.is_float_dtype(series):
        present = series.dropna()
        if bool((present == present.round()).all()) and bool((present.abs() < 2**53).all()):
            # whole numbers (an integer column with nulls): what ``fmt`` gives, without a call per value
            return series.astype("Int64").astype("str").where(series.notna(), None)

        def fmt(v: float) -> str | None:
            if pd.isna(v):
                return None
            return str(int(v)) if float(v).is_integer() else repr(float(v))

        return series.map(fmt).astype("str")

    if pd.api.types.infer_dtype(series, skipna=True) == "string":
        # all text (JSON strings) with maybe nulls: what ``_value_text`` gives, without a Python call
        # per value (nulls stay null; the text is unchanged)
        return series.astype("str")

    return series.map(_value_text).astype("str")


def _value_text(v: Any) -> str | None:
    """One value of an object column as text (``None`` for nulls, ISO dates); :func:`_as_text`'s rule."""
    if v is None or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
        return None
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return str(v)


def _categorical(text: pd.Series) -> pd.Series:
    """``text`` as a categorical of its values in order of appearance (``astype("category")`` would sort
    a million strings to order the categories, which nothing here needs); nulls stay null."""
    codes, uniques = pd.factorize(text, sort=False)
    return pd.Series(pd.Categorical.from_codes(codes, categories=uniques), index=text.index, name=text.name)


def _scrubbed(text: pd.Series, rule: FieldRule | None) -> pd.Series:
    """``text`` as GX may see it: a sensitive value off its mask pattern redacted, card numbers in any
    other text replaced by :data:`PAN_MARK` (value by value, so it applies to a column or to the
    distinct values of a categorical alike)."""
    if rule is not None and rule.sensitive and rule.pattern:
        ok = text.isna() | text.str.fullmatch(rule.pattern).fillna(False).astype(bool)
        return text.where(ok, text.map(lambda v: f"[REDACTED len={len(v)}]" if isinstance(v, str) else v))
    if rule is None or rule.type == "string":  # scrub every text column; only free text gets the PAN rule
        # a 13–19 digit run needs 13 characters: run the regex on the (few) values that long only
        long_enough = text.str.len().ge(13).fillna(False).astype(bool)
        has_digits = pd.Series(False, index=text.index)
        if long_enough.any():
            found = text[long_enough].str.contains(_PAN_RUN, regex=True).fillna(False).astype(bool)
            has_digits[long_enough] = found
        if has_digits.any():
            text = text.where(~has_digits, text.map(lambda v: _scrub_pan(v) if isinstance(v, str) else v))
    return text


def _appearance_ordered(column: pd.Series) -> bool:
    """Whether a categorical's categories are all used and in order of first appearance (what
    :func:`_categorical` makes, and the validate step's landing frame holds)."""
    codes = column.cat.codes.to_numpy()
    first = pd.unique(codes[codes >= 0])
    return len(first) == len(column.cat.categories) and bool((first == np.arange(len(first))).all())


def _has_numeric_companion(rule: FieldRule | None) -> bool:
    return (
        rule is not None
        and rule.type in ("integer", "decimal")
        and (rule.minimum is not None or rule.maximum is not None)
    )


def _gx_frame(df: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The scrubbed text view GX validates: one text column per field + numeric companions + _row.

    Text columns are *categorical* (the same values, nulls stay null): GX's pandas path filters the
    whole frame by each column's nulls several times per expectation (``df[df[col].notnull()]``) and
    asks ``isna`` of a column hundreds of times per run; on codes both are array operations instead of
    a pass over a million Python strings, and repeated values (states, codes, names) are stored once.

    A column that already is such a categorical (the validate step's landing frame) is converted,
    scrubbed and parsed once per *distinct* value, its codes carried over: the same GX frame as from
    the plain column, without a million-value text column in between.
    """
    rules = {r.name: r for r in contract.fields}
    columns: dict[str, pd.Series] = {ROW_COLUMN: pd.Series(range(len(df)), dtype="int64")}
    for name in df.columns:
        rule = rules.get(name)
        source = df[name].reset_index(drop=True)
        if isinstance(source.dtype, pd.CategoricalDtype) and _appearance_ordered(source):
            codes = source.cat.codes.to_numpy()
            text = _scrubbed(_as_text(pd.Series(source.cat.categories.to_numpy(dtype=object))), rule)
            new_codes, uniques = pd.factorize(text, sort=False)  # scrubbing may make two values one
            if len(uniques) == len(new_codes):  # one text per value (new_codes is 0, 1, 2, …): same codes
                mapped = codes
            else:
                mapped = np.append(new_codes, -1)[codes]  # code -1 (null) stays -1
            columns[str(name)] = pd.Series(
                pd.Categorical.from_codes(mapped, categories=uniques, validate=False), name=source.name
            )
            if _has_numeric_companion(rule):
                numbers = pd.to_numeric(text, errors="coerce").astype("float64").to_numpy()
                columns[name + VALUE_SUFFIX] = pd.Series(np.append(numbers, np.nan)[codes], dtype="float64")
            continue
        if isinstance(source.dtype, pd.CategoricalDtype):  # any other categorical: as its plain values
            source = source.astype(object).where(source.notna(), None)
        text = _scrubbed(_as_text(source), rule)
        columns[str(name)] = _categorical(text)
        if _has_numeric_companion(rule):
            columns[name + VALUE_SUFFIX] = pd.to_numeric(text, errors="coerce").astype("float64")
    # the columns as they are (a copy of all of them was ~100 MB more at 1M rows; GX does not write)
    return pd.DataFrame(columns, copy=False)


# ---------------------------------------------------------------------------------------------
# table-level helpers


def row_count_range(
    recent_counts: Sequence[int] | None, *, factor: float, min_history: int, floor: int
) -> tuple[int, int] | None:
    """Acceptable row-count range from recent windows' counts: median / factor … median × factor."""
    if not recent_counts or len(recent_counts) < min_history:
        return None
    median = statistics.median(recent_counts)
    low = 0 if median / factor < floor else int(median / factor)
    high = max(int(median * factor) + 1, floor)
    return low, high


def _value_summary(rule: FieldRule | None, value: Any) -> str:
    """A PCI-safe short description of an offending value (GX saw only the scrubbed frame)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "null"
    text = str(value)
    if rule is not None and rule.sensitive:
        return f"<redacted, {len(text)} chars>" if not text.startswith("[REDACTED") else text
    text = _scrub_pan(text)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _decimal_sum(series: pd.Series) -> Decimal:
    if isinstance(series.dtype, pd.CategoricalDtype):  # its values as the plain column holds them
        series = series.astype(object).where(series.notna(), None)
    total = Decimal(0)
    for value in series:
        try:
            total += Decimal(str(value))
        except (InvalidOperation, ValueError):
            continue
    return total


def _window_label(window: Any) -> str:
    if isinstance(window, tuple) and len(window) == 2:
        return f"{window[0].isoformat()} .. {window[1].isoformat()}"
    return str(window)


# ---------------------------------------------------------------------------------------------
# the entry point


def validate_window(
    records_df: pd.DataFrame,
    *,
    contract: Contract,
    run_id: str,
    gx_root: Path,
    window: tuple[dt.datetime, dt.datetime] | str,
    recent_counts: Sequence[int] | None = None,
    expected_count: int | None = None,
    expected_amount_total: Decimal | None = None,
    amount_column: str = "amount",
    anomaly_factor: float = 5.0,
    anomaly_min_history: int = 5,
    anomaly_floor: int = 20,
) -> CheckResult:
    """Validate one window against ``contract``; record it in GX; split good rows from dead letters.

    ``recent_counts`` (row counts of recent windows) enables the row-count anomaly check;
    ``expected_count``/``expected_amount_total`` (the extract's own summary) enable the totals check.
    Raises :class:`TableCheckError` for table-level failures, after the validation is recorded.
    """
    started = time.perf_counter()
    _gx()
    from great_expectations.core.run_identifier import RunIdentifier

    # parallel runs (other processes, other workers) may be creating the same context or suite
    with gx_dir_lock(Path(gx_root)):
        context = _context(Path(gx_root))
        checkpoint = _checkpoint(context, contract)
    key = contract.primary_key[0] if contract.primary_key else None
    rc_range = row_count_range(
        recent_counts, factor=anomaly_factor, min_history=anomaly_min_history, floor=anomaly_floor
    )
    frame = _gx_frame(records_df, contract)
    low, high = rc_range if rc_range is not None else (0, _NO_LIMIT)
    with _gx_lock:
        run = checkpoint.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters={ROW_COUNT_MIN: low, ROW_COUNT_MAX: high},
            run_id=RunIdentifier(run_name=run_id),
        )
        publish(context, run.run_results, SITE_NAME)
    index_file = Path(gx_root).resolve() / "data_docs" / "index.html"
    docs_index = index_file if index_file.exists() else None
    validation_result = next(iter(run.run_results.values()))

    rules = {r.name: r for r in contract.fields}
    table_problems: list[str] = []
    row_failures: dict[int, list[FailedExpectation]] = {}
    evaluated = len(validation_result.results)
    failed_count = 0
    for result in validation_result.results:
        if result.success:
            continue
        failed_count += 1
        config = result.expectation_config
        etype = config.type
        column = str(config.kwargs.get("column", ""))
        field_name = column.removesuffix(VALUE_SUFFIX)
        if result.exception_info and result.exception_info.get("raised_exception"):
            if etype == "expect_table_columns_to_match_set" or field_name not in frame.columns:
                continue  # reported by the schema-drift check below
            table_problems.append(
                f"{etype} on {field_name!r} could not run: "
                f"{result.exception_info.get('exception_message', '')[:200]}"
            )
            continue
        res = result.result or {}
        if etype in TABLE_LEVEL:
            if etype == "expect_table_row_count_to_be_between":
                table_problems.append(
                    f"row count {len(frame)} is outside the recent pattern {rc_range} "
                    f"(median of last {len(recent_counts or [])} windows × / ÷ {anomaly_factor}): "
                    "check the PayTrace extract window and the merchant's activity"
                )
            elif etype == "expect_column_values_to_be_unique":
                dupes = sorted({str(v) for v in res.get("partial_unexpected_list", [])})[:10]
                table_problems.append(
                    f"duplicate {field_name} values in the window ({res.get('unexpected_count')} rows), e.g. "
                    f"{', '.join(dupes)}: the extract returned a record twice; check the pagination/window "
                    "overlap in the extract"
                )
            continue
        for entry in res.get("unexpected_index_list") or []:
            row = int(entry[ROW_COLUMN]) if isinstance(entry, dict) else int(entry)
            value = (
                frame.at[row, field_name]
                if column.endswith(VALUE_SUFFIX)
                else (entry.get(column) if isinstance(entry, dict) else None)
            )
            row_failures.setdefault(row, []).append(
                FailedExpectation(etype, field_name, _value_summary(rules.get(field_name), value))
            )

    missing = [c for c in contract.field_names if c not in records_df.columns]
    extra = [c for c in records_df.columns if c not in rules]
    if missing or extra:
        table_problems.insert(
            0,
            (
                f"schema drift against contract {contract.suite_name}: missing columns {missing or 'none'}, "
                f"unexpected columns {extra or 'none'}; the extract format changed "
                "(PayTrace API or parse.py) "
                f"or the contract {contract.source.name} needs a new version"
            ),
        )

    if expected_count is not None and expected_count != len(records_df):
        table_problems.append(
            f"row count {len(records_df)} != {expected_count} announced by the extract summary: "
            "records were lost or duplicated between extract and check"
        )
    if expected_amount_total is not None and amount_column in records_df.columns:
        actual = _decimal_sum(records_df[amount_column])
        if actual != expected_amount_total:
            table_problems.append(
                f"sum of {amount_column} {actual} != {expected_amount_total} announced by the extract "
                "summary: compare the landing file with the PayTrace export"
            )

    elapsed = time.perf_counter() - started
    label = _window_label(window)
    if table_problems:
        log.error("table-level check failed for %s window %s", contract.suite_name, label)
        raise TableCheckError(
            f"{contract.suite_name} window {label}: " + " | ".join(table_problems), data_docs_index=docs_index
        )

    bad_rows = sorted(row_failures)
    # the key text of the failed rows only (value by value the same text as of the whole column): a
    # million-value text column here was the step's peak at 1M rows
    key_text = (
        _as_text(records_df[key].iloc[bad_rows].reset_index(drop=True))
        if key and key in records_df.columns
        else None
    )
    dead = tuple(
        DeadLetterRow(
            row=row,
            record_key=str(key_text.iloc[i]) if key_text is not None and pd.notna(key_text.iloc[i]) else "",
            failures=tuple(row_failures[row]),
        )
        for i, row in enumerate(bad_rows)
    )
    summary = (
        f"{contract.suite_name} window {label}: {len(records_df)} rows, "
        f"{len(records_df) - len(dead)} passed, "
        f"{len(dead)} dead-lettered; {evaluated} expectations, {failed_count} failed; {elapsed:.2f}s"
    )
    if dead:
        first = dead[0]
        summary += f"; e.g. row {first.row} (id {first.record_key or '?'}): {first.reason}"
    return CheckResult(
        run_id=run_id,
        window=label,
        total_rows=len(records_df),
        dead_letters=dead,
        data_docs_index=docs_index,
        summary=summary,
        elapsed_seconds=elapsed,
        statistics=dict(validation_result.statistics),
        records=records_df,
    )


def check_settlement_totals(batches: pd.DataFrame) -> None:
    """Table-level invariants of settlement batch summaries (contract ``paytrace_settlement_batch``).

    ``net_amount = sales_amount - refund_amount`` and ``transaction_count = sales_count + refund_count``
    for every batch; a batch that breaks them must not be turned into a deposit entry.
    """
    problems: list[str] = []
    for row in batches.itertuples(index=False):
        try:
            sales, refunds, net = (
                Decimal(str(v)) for v in (row.sales_amount, row.refund_amount, row.net_amount)
            )
        except (InvalidOperation, ValueError):
            problems.append(f"batch {row.number}: amounts are not decimals")
            continue
        if sales - refunds != net:
            problems.append(f"batch {row.number}: net_amount {net} != sales {sales} - refunds {refunds}")
        if int(row.sales_count) + int(row.refund_count) != int(row.transaction_count):
            problems.append(
                f"batch {row.number}: transaction_count {row.transaction_count} != sales_count "
                f"{row.sales_count} + refund_count {row.refund_count}"
            )
    if problems:
        raise TableCheckError(
            "settlement batch totals do not add up (compare with PayTrace's batch report): "
            + "; ".join(problems)
        )
