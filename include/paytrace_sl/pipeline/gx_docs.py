"""Publishing a GX validation to Data Docs without turning record text into markup.

GX 1.x renders the cells of its unexpected-values tables as raw HTML (only string-template params
are escaped), and the values there are ours: descriptions, ids, names straight from PayTrace. A
``<script>`` in a description would run in the auditor's browser. So the validation result that GX
stores and renders is a copy in which every string of every expectation's ``result`` (unexpected
values, their counts, index rows, observed values) and every exception message is cut to
:data:`DOCS_VALUE_LIMIT` characters and HTML-escaped. The in-memory result (dead-letter reasons) is
untouched. GX's own ``UpdateDataDocsAction`` would render the unsanitized stored result, so the
checkpoint has no actions and :func:`publish` stores the safe copy and builds the site itself.
"""

from __future__ import annotations

import copy
import hashlib
import html
from typing import Any

DOCS_VALUE_LIMIT = 120  # characters of a value shown in Data Docs; longer ones are cut and tagged


def docs_safe_text(value: str) -> str:
    """``value`` cut to :data:`DOCS_VALUE_LIMIT` characters, then HTML-escaped.

    A cut value keeps a short digest of the whole, so two long values that share a prefix stay
    distinct (GX joins its count and index tables on the value).
    """
    if len(value) > DOCS_VALUE_LIMIT:
        digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        value = f"{value[:DOCS_VALUE_LIMIT]}… [{len(value)} chars, #{digest}]"
    return html.escape(value, quote=True)


def _safe(obj: Any) -> Any:
    """Every string leaf of ``obj`` made safe; dict keys (column names, GX's own keys) kept."""
    if isinstance(obj, str):
        return docs_safe_text(obj)
    if isinstance(obj, dict):
        return {k: _safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_safe(v) for v in obj)
    return obj


def docs_safe_result(suite_result: Any) -> Any:
    """A copy of an ``ExpectationSuiteValidationResult`` whose record-derived text is safe to render."""
    safe = copy.copy(suite_result)
    results = []
    for evr in suite_result.results:
        clone = copy.copy(evr)
        clone.result = _safe(evr.result or {})
        if evr.exception_info:
            clone.exception_info = _safe(copy.deepcopy(evr.exception_info))
        results.append(clone)
    safe.results = results
    return safe


def publish(context: Any, run_results: dict[Any, Any], site_name: str) -> None:
    """Store the safe copy of each validation result (replacing GX's) and render it into ``site_name``.

    What ``UpdateDataDocsAction`` does, with the safe copy: GX builds pages from the stored result.
    """
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    store = context.validation_results_store
    for identifier, result in run_results.items():
        suite_id = ExpectationSuiteIdentifier(name=result.suite_name)
        store.store_validation_results(
            suite_validation_result=docs_safe_result(result),
            suite_validation_result_identifier=identifier,
            expectation_suite_identifier=suite_id,
        )
        context.build_data_docs(site_names=[site_name], resource_identifiers=[identifier, suite_id])
