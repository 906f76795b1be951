"""What each step returns: one frozen dataclass per step summary, JSON in and out.

A summary is small and card-free (counts, ids, labels): it is the Airflow task's return value (XCom),
the ``<step>.json`` file in the landing area that later steps read, and a log line. Reading is strict:
:meth:`StepSummary.from_json` raises :class:`SummaryError` on an unknown or missing key or a value of
the wrong kind, so a renamed key fails loudly instead of becoming zero (and mypy strict catches a
renamed attribute, ``tests/unit/pipeline/test_pipeline_summaries.py``).

The field order is the JSON key order the steps always produced.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from paytrace_sl.errors import PaytraceSlError


class SummaryError(PaytraceSlError, ValueError):
    """A step summary does not have the fields its step writes (renamed, missing or foreign key)."""


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _check(cls: type, name: str, hint: Any, value: Any) -> Any:
    """``value`` as field ``name`` of ``cls`` holds it; raises SummaryError when its kind is wrong."""
    origin = typing.get_origin(hint) or hint
    ok: bool
    if hint is Any:
        return value
    if origin is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif origin in (str, bool):
        ok = isinstance(value, origin)
    elif origin is dict:
        ok = isinstance(value, Mapping)
        value = dict(value) if ok else value
    elif origin is tuple:
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        kind = args[0] if args else int
        ok = isinstance(value, list | tuple) and all(
            isinstance(v, kind) and not (kind is int and isinstance(v, bool)) for v in value
        )
        value = tuple(value) if ok else value
    elif origin in (typing.Union, types.UnionType):
        ok = any(_fits(h, value) for h in typing.get_args(hint))
    else:  # pragma: no cover - a field type this module does not use
        raise TypeError(f"{cls.__name__}.{name}: unsupported summary field type {hint!r}")
    if not ok:
        raise SummaryError(f"{cls.__name__}: field {name!r} holds {type(value).__name__}, expected {hint}")
    return value


def _fits(hint: Any, value: Any) -> bool:
    if hint is type(None):
        return value is None
    try:
        _check(object, "", hint, value)
    except SummaryError:
        return False
    return True


@dataclass(frozen=True)
class StepSummary:
    """Base of the step summaries: ``to_json`` / strict ``from_json``."""

    STEP: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        if not isinstance(data, Mapping):
            raise SummaryError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise SummaryError(
                f"{cls.__name__} ({cls.STEP or 'summary'}): "
                + "; ".join(
                    part
                    for part in (
                        f"unknown key(s) {unknown}" if unknown else "",
                        f"missing key(s) {missing}" if missing else "",
                    )
                    if part
                )
            )
        hints = _hints(cls)
        return cls(**{n: _check(cls, n, hints[n], data[n]) for n in names})


# -------------------------------------------------------------------------------------- payments


@dataclass(frozen=True)
class ExtractSummary(StepSummary):
    STEP: ClassVar[str] = "extract"

    window: str
    fetched: int
    transactions: int
    in_window: int
    lookback_only: int
    outside_range: int  # listed for the requested days, created outside the fetch range: processed
    parse_rejected: int
    duplicate_conflicts: int
    dead_letters_new: int
    declined: int


@dataclass(frozen=True)
class ValidateSummary(StepSummary):
    STEP: ClassVar[str] = "validate"

    checked: int
    passed: int
    dead_lettered: int
    dead_letters_new: int
    data_docs: str


@dataclass(frozen=True)
class TransformSummary(StepSummary):
    STEP: ClassVar[str] = "transform"

    records: int
    planned_documents: int
    planned_batches: int
    posted: int
    already_posted: int
    skipped: dict[str, int]
    review: int
    fraud_held: int  # of ``review``: kept out of SL by a fraud alert the mapping holds (fraud.hold)


@dataclass(frozen=True)
class FraudSummary(StepSummary):
    """``score_fraud``: what was scored and alerted (docs/fraud.md); zeros when the mapping turns it off."""

    STEP: ClassVar[str] = "score_fraud"

    enabled: bool
    scored: int
    alerts: int
    alerts_new: int
    held: int
    by_pattern: dict[str, int]
    model_version: int | None
    model_fitted: int | None  # the version this run fitted, if any
    history_added: int
    seconds: dict[str, float]
    notified: dict[str, str]  # channel → outcome ("none" when nothing passed its threshold)


@dataclass(frozen=True)
class WriteCounts(StepSummary):
    """The SL writer's result as counts (shared by ``load`` and ``settle_load``)."""

    posted: int
    already_posted: int
    removed: int
    writer_review: int
    writer_conflicts: int
    period_refused: int  # late_items: refuse — planned but not written (in review)
    period_refused_new: int
    moved_to_current_period: int  # late items posted in the current period (sl/periods.py)
    sl_batches: int


@dataclass(frozen=True)
class LoadSummary(WriteCounts):
    STEP: ClassVar[str] = "load"

    skips_new: int
    reviews_new: int
    declines_notified: int


@dataclass(frozen=True)
class PreflightSummary(StepSummary):
    STEP: ClassVar[str] = "preflight"

    batches_checked: int
    findings: int


@dataclass(frozen=True)
class SummarizeSummary(StepSummary):
    STEP: ClassVar[str] = "summarize"

    window: str
    transactions: int
    in_window: int
    outside_range: int
    checked: int
    posted: int
    already_posted: int
    skipped: int
    skipped_by_reason: dict[str, int]
    review: int
    posted_with_note: int  # of ``review``: posted to SL with a note (writer review items)
    dead_letter: int
    sl_batches: int
    sl_documents_new: int
    moved_to_current_period: int
    declines_notified: int
    review_new: int
    dead_letter_new: int
    needs_person: str  # the Airflow run note (paytrace_sl_airflow.run_notes); "" when nobody is needed


# ----------------------------------------------------------------------------------- settlements


@dataclass(frozen=True)
class SettleExtractSummary(StepSummary):
    STEP: ClassVar[str] = "settle_extract"

    window: str
    settlement_batches: int
    outside_range: int
    batch_transactions: int
    parse_rejected: int
    duplicate_conflicts: int
    dead_letters_new: int


@dataclass(frozen=True)
class SettleTransformSummary(StepSummary):
    STEP: ClassVar[str] = "settle_transform"

    settlement_batches: int
    planned_entries: int
    not_planned: int
    empty_batches: int
    empty_batch_numbers: tuple[int, ...]
    settlement_planned: bool


@dataclass(frozen=True)
class SettleLoadSummary(WriteCounts):
    STEP: ClassVar[str] = "settle_load"

    reviews_new: int
    not_written: int
    backstop: dict[str, Any]  # paytrace_sl.pipeline.backstop.Backstop.counts()


@dataclass(frozen=True)
class ReconcileSummary(StepSummary):
    STEP: ClassVar[str] = "reconcile"

    settlement_batches: int
    reconciled: int
    difference: int
    pending: int
    difference_cents: int


@dataclass(frozen=True)
class SettleSummarizeSummary(StepSummary):
    STEP: ClassVar[str] = "settle_summarize"

    window: str
    settlement_batches: int
    settlement_entries_posted: int
    sl_batches: int
    reconciled: int
    difference: int
    pending: int
    review: int  # not planned + not written + refused: each an open review item
    empty_batches: int
    dead_letter: int
    unexplained: int  # batches with a difference our tables do not explain (run_history.unexplained_batches)
    needs_person: str  # the Airflow run note; "" when nobody is needed


@dataclass(frozen=True)
class ReportSummary(StepSummary):
    """The settlement summary travels on through the report (the last step of a settlement run);
    flat in JSON: the settlement summary's keys (when the run has one), ``report``, ``report_tables``."""

    STEP: ClassVar[str] = "report"

    report: str
    report_tables: int
    reports_brought_up_to_date: tuple[str, ...] = ()  # other days' stale reports rewritten by this run
    settlement: SettleSummarizeSummary | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        head = self.settlement.to_json() if self.settlement is not None else {}
        return {
            **head,
            "report": self.report,
            "report_tables": self.report_tables,
            "reports_brought_up_to_date": list(self.reports_brought_up_to_date),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        if not isinstance(data, Mapping):
            raise SummaryError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        mine = ("report", "report_tables", "reports_brought_up_to_date")
        rest = {k: v for k, v in data.items() if k not in mine}
        own = _Report.from_json({k: data[k] for k in mine if k in data})
        return cls(
            report=own.report,
            report_tables=own.report_tables,
            reports_brought_up_to_date=own.reports_brought_up_to_date,
            settlement=SettleSummarizeSummary.from_json(rest) if rest else None,
        )


@dataclass(frozen=True)
class _Report(StepSummary):
    report: str
    report_tables: int
    reports_brought_up_to_date: tuple[str, ...]


# ------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class ReplaySummary(StepSummary):
    """What a replay did over all its windows (the replay DAG's XCom, ``paytrace-sl replay``)."""

    STEP: ClassVar[str] = "replay"

    transactions: int
    posted: int
    already_posted: int
    skipped: int
    review: int
    dead_letter: int
    windows: int
    dead_letters_closed: int
    reviews_closed: int
    not_replayable: tuple[int, ...]
    already_closed: tuple[int, ...]


STEP_SUMMARIES: dict[str, type[StepSummary]] = {
    cls.STEP: cls
    for cls in (
        ExtractSummary,
        ValidateSummary,
        FraudSummary,
        TransformSummary,
        LoadSummary,
        PreflightSummary,
        SummarizeSummary,
        SettleExtractSummary,
        SettleTransformSummary,
        SettleLoadSummary,
        ReconcileSummary,
        SettleSummarizeSummary,
        ReportSummary,
    )
}
"""Step name → its summary class (``<step>.json`` in the landing area)."""
