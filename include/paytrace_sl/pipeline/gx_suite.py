"""The Great Expectations side of the checks: the GX import and File context (cached per directory), the
expectation suite generated from a data contract, and the validation definition and checkpoint that run
it (created once per context, reused unchanged when the stored ones already match).

:mod:`paytrace_sl.pipeline.checks` builds the scrubbed frame, runs the checkpoint and turns results into
dead letters or a table-level failure.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from paytrace_sl.pipeline.contracts import Contract, FieldRule

log = logging.getLogger(__name__)

ROW_COLUMN = "_row"
VALUE_SUFFIX = "__value"
PAN_MARK = "[PAN REDACTED]"
SITE_NAME = "paytrace_sl"
DATA_DOCS_INDEX_LIMIT = 50  # runs listed on the Data Docs index page

# ---------------------------------------------------------------------------------------------
# GX import and context (lazy, quiet, cached)

_gx_lock = threading.Lock()
_contexts: dict[Path, Any] = {}


def _gx() -> Any:
    """Import GX with its log noise and analytics off (must happen before the first import)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # GX makes no calls without it; be explicit anyway
    for name in ("great_expectations", "great_expectations.core", "great_expectations.expectations"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def _context(gx_root: Path) -> Any:
    """A cached File context under ``gx_root`` with our Data Docs site at ``gx_root/data_docs``."""
    root = gx_root.resolve()
    with _gx_lock:
        if root in _contexts:
            return _contexts[root]
        gx = _gx()
        root.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(root))
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        site_config = {
            "class_name": "SiteBuilder",
            # the index re-reads every listed validation result on each build: cap it so a run's cost
            # does not grow with the number of past runs (older result pages stay on disk)
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": DATA_DOCS_INDEX_LIMIT,
            },
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(root / "data_docs"),
            },
        }
        if SITE_NAME in context.get_site_names():
            context.update_data_docs_site(SITE_NAME, site_config)
        else:
            context.add_data_docs_site(SITE_NAME, site_config)
        _contexts[root] = context
        return context


# ---------------------------------------------------------------------------------------------
# the suite's columns


def _is_free_text(rule: FieldRule) -> bool:
    return (
        rule.type == "string" and rule.allowed_values is None and rule.pattern is None and not rule.sensitive
    )


def expected_columns(contract: Contract) -> list[str]:
    cols = [ROW_COLUMN]
    for rule in contract.fields:
        cols.append(rule.name)
        if rule.type in ("integer", "decimal") and (rule.minimum is not None or rule.maximum is not None):
            cols.append(rule.name + VALUE_SUFFIX)
    return cols


# ---------------------------------------------------------------------------------------------
# suite generation


ROW_COUNT_MIN = "row_count_min"
ROW_COUNT_MAX = "row_count_max"
_NO_LIMIT = 10**12


def build_expectations(contract: Contract) -> list[Any]:
    """Contract field rules → GX expectation objects.

    The row-count bounds change every run, so they are suite *parameters* filled in at run time; the
    suite itself only changes when the contract does (GX's suite update is slow: it compares every
    expectation pairwise).
    """
    gxe = _gx().expectations
    out: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=expected_columns(contract), exact_match=True),
        gxe.ExpectTableRowCountToBeBetween(
            min_value={"$PARAMETER": ROW_COUNT_MIN},
            max_value={"$PARAMETER": ROW_COUNT_MAX},
            notes="bounds from the recent windows' row counts (median × / ÷ anomaly factor)",
        ),
    ]
    for rule in contract.fields:
        col = rule.name
        meta = {"contract": contract.suite_name, "field": col}
        if rule.required:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=col, meta=meta))
        if rule.text_pattern:
            out.append(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=col, regex=rule.text_pattern, meta=meta, notes=f"value must be a {rule.type}"
                )
            )
        if rule.allowed_values is not None:
            out.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=col, value_set=[str(v) for v in rule.allowed_values], meta=meta
                )
            )
        if rule.pattern:
            out.append(gxe.ExpectColumnValuesToMatchRegex(column=col, regex=rule.pattern, meta=meta))
        if rule.min_length is not None or rule.max_length is not None:
            out.append(
                gxe.ExpectColumnValueLengthsToBeBetween(
                    column=col, min_value=rule.min_length, max_value=rule.max_length, meta=meta
                )
            )
        if rule.minimum is not None or rule.maximum is not None:
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col + VALUE_SUFFIX,
                    min_value=float(rule.minimum) if rule.minimum is not None else None,
                    max_value=float(rule.maximum) if rule.maximum is not None else None,
                    meta=meta,
                )
            )
        if _is_free_text(rule):
            out.append(
                gxe.ExpectColumnValuesToNotMatchRegex(
                    column=col,
                    regex=re.escape(PAN_MARK),
                    meta=meta,
                    notes="free text must not contain a card number",
                )
            )
    for name in contract.primary_key:
        if not contract.field(name).unique:
            out.append(gxe.ExpectColumnValuesToBeUnique(column=name))
    for rule in contract.fields:
        if rule.unique:
            out.append(gxe.ExpectColumnValuesToBeUnique(column=rule.name, meta={"field": rule.name}))
    return out


_checkpoints: dict[tuple[int, str, str], Any] = {}


def _checkpoint(context: Any, contract: Contract) -> Any:
    """Suite, asset, batch definition, validation definition and checkpoint: created once per context."""
    key = (id(context), contract.suite_name, contract.version)
    with _gx_lock:
        if key in _checkpoints:
            return _checkpoints[key]
        gx = _gx()
        suite_name = contract.suite_name
        suite = gx.ExpectationSuite(
            name=suite_name,
            expectations=build_expectations(contract),
            meta={"contract": contract.name, "version": contract.version, "source": contract.source.name},
        )
        stored = _stored_suite(context, suite)
        if stored is not None:
            suite = stored  # the stored suite is the one the contract generates: reuse it as is
        else:
            try:
                context.suites.delete(suite_name)  # regenerate from the contract: one source of truth
            except Exception:  # noqa: S110 - absent on first use
                pass
            suite = context.suites.add(suite)
        # get-or-add, never add_or_update: replacing the data source would drop the other contracts'
        # assets and break their cached checkpoints (and a File context keeps them across processes)
        try:
            source = context.data_sources.get("paytrace_sl")
        except (KeyError, ValueError, LookupError):
            source = context.data_sources.add_pandas(name="paytrace_sl")
        try:
            asset = source.get_asset(contract.name)
        except LookupError:
            asset = source.add_dataframe_asset(name=contract.name)
        try:
            batch_def = asset.get_batch_definition("window")
        except (KeyError, ValueError, LookupError):
            batch_def = asset.add_batch_definition_whole_dataframe("window")
        result_format = {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [ROW_COLUMN],
            "partial_unexpected_count": 20,
        }
        # GX's add_or_update compares every expectation pairwise (seconds per window): when the stored
        # validation definition and checkpoint already are what we would write, use them unchanged
        validation = _stored_validation(context, f"{suite_name}.window", suite, batch_def)
        if validation is None:
            validation = context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=f"{suite_name}.window", data=batch_def, suite=suite)
            )
        checkpoint = _stored_checkpoint(context, f"{suite_name}.checkpoint", validation, result_format)
        if checkpoint is None:
            checkpoint = context.checkpoints.add_or_update(
                gx.Checkpoint(
                    name=f"{suite_name}.checkpoint",
                    validation_definitions=[validation],
                    actions=[],  # Data Docs are built from the escaped copy: gx_docs.publish
                    result_format=result_format,
                )
            )
        _checkpoints[key] = checkpoint
        return checkpoint


def _expectation_configs(suite: Any) -> list[dict[str, Any]]:
    """The suite's expectations as comparable dicts (without GX's generated ids)."""
    out = []
    for expectation in suite.expectations:
        config = expectation.configuration.to_json_dict()
        config.pop("id", None)
        out.append(config)
    return out


def _stored_suite(context: Any, suite: Any) -> Any | None:
    """The stored suite of that name when it holds exactly ``suite``'s expectations and meta, else None."""
    try:
        stored = context.suites.get(suite.name)
    except Exception:  # absent (first use) or unreadable: regenerate
        return None
    if any(stored.meta.get(k) != v for k, v in suite.meta.items()):
        return None
    if _expectation_configs(stored) != _expectation_configs(suite):
        return None
    return stored


def _stored_validation(context: Any, name: str, suite: Any, batch_def: Any) -> Any | None:
    """The stored validation definition when it already pairs this suite with this batch definition."""
    try:
        stored = context.validation_definitions.get(name)
    except Exception:
        return None
    try:
        same = (
            stored.suite.name == suite.name
            and stored.suite.id == suite.id
            and stored.data.id == batch_def.id
            and stored.data.name == batch_def.name
        )
    except AttributeError:
        return None
    return stored if same else None


def _stored_checkpoint(context: Any, name: str, validation: Any, result_format: dict[str, Any]) -> Any | None:
    """The stored checkpoint when it runs exactly ``validation``, without actions, in our format."""
    try:
        stored = context.checkpoints.get(name)
    except Exception:
        return None
    try:
        actions = [
            (type(a).__name__, a.name, list(getattr(a, "site_names", None) or [])) for a in stored.actions
        ]
        stored_format = stored.result_format
        if hasattr(stored_format, "model_dump"):
            stored_format = stored_format.model_dump()
        same = (
            [(v.name, v.id) for v in stored.validation_definitions] == [(validation.name, validation.id)]
            and actions == []
            and stored_format == result_format
        )
    except AttributeError:
        return None
    return stored if same else None
