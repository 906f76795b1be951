"""Publishing a GX validation to Data Docs without turning record text into markup.

GX 1.x renders the cells of its unexpected-values tables as raw HTML (only string-template params
are escaped), and the values there are ours: descriptions, ids, names straight from PayTrace. A
``<script>`` in a description would run in the auditor's browser. So the validation result that GX
stores and renders is a copy in which every string of every expectation's ``result`` (unexpected
values, their counts, index rows, observed values) and every exception message is cut to
:data:`DOCS_VALUE_LIMIT` characters and HTML-escaped. The in-memory result (dead-letter reasons) is
untouched. GX's own ``UpdateDataDocsAction`` would render the unsanitized stored result, so the
checkpoint has no actions and :func:`publish` stores the safe copy and builds the site itself.

GX's pages also load Bootstrap, jQuery, Font Awesome, Vega… from public CDNs and GX's logo from an S3
bucket with the data-context id appended: offline they render unstyled, online they tell an outside
host who looked. :func:`localize_site` (run by :func:`publish`) copies the vendored copies shipped in
``data_docs_assets/`` (versions and licenses: its ``SOURCES.md``) into the site as ``static/vendor/``
and points every page at them; any other outside script, stylesheet or image is blanked.
"""

from __future__ import annotations

import copy
import hashlib
import html
import os
import re
import shutil
import time
from importlib import resources
from pathlib import Path
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


VENDOR_DIR = "static/vendor"  # inside a Data Docs site
# The outside URLs GX 1.x Data Docs pages load → the vendored file (relative to data_docs_assets/).
_UNPKG_BT = "https://unpkg.com/bootstrap-table@"
_BT_FILTER = "dist/extensions/filter-control/bootstrap-table-filter-control"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs/"
_JSDELIVR = "https://cdn.jsdelivr.net/npm/"
CDN_ASSETS: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/bootstrap.min.js",
    f"{_UNPKG_BT}1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    f"{_UNPKG_BT}1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    f"{_UNPKG_BT}1.19.0/{_BT_FILTER}.css": (
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    f"{_UNPKG_BT}1.19.0/{_BT_FILTER}.min.css": (
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    f"{_UNPKG_BT}1.19.1/{_BT_FILTER}.min.js": (
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    f"{_CDNJS}bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/bootstrap-datepicker.min.css"
    ),
    f"{_CDNJS}bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/bootstrap-datepicker.min.js"
    ),
    f"{_JSDELIVR}@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark/bootstrap-prefers-dark.min.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    f"{_CDNJS}popper.js/1.12.9/umd/popper.min.js": "popper/popper.min.js",
    f"{_CDNJS}font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    f"{_JSDELIVR}vega@5": "vega/vega.min.js",
    f"{_JSDELIVR}vega-lite@5": "vega/vega-lite.min.js",
    f"{_JSDELIVR}vega-embed@6": "vega/vega-embed.min.js",
}
# GX's images on S3 (the logo, with ``?d=<data-context id>``): GX puts the same files in static/images/.
_GX_IMAGE = re.compile(
    r"https?://great-expectations-web-assets\.s3[.a-z0-9-]*\.amazonaws\.com/([A-Za-z0-9._-]+)(?:\?[^\"'\s>]*)?"
)
# What a browser fetches by itself: <script src>, <img src>, <link href> (stylesheets, icons, preloads).
_FETCHED = re.compile(
    r"(<(?:script|img|link|source|iframe|embed)\b[^>]*?\b(?:src|href)\s*=\s*)([\"'])(https?:)?//[^\"']*\2",
    re.IGNORECASE,
)
_STAMP = ".paytrace-sl-assets"  # in static/vendor/: digest of the copied assets


def assets_dir() -> Path:
    """The vendored Data Docs assets shipped with the library (package data)."""
    folder = resources.files("paytrace_sl.pipeline") / "data_docs_assets"
    if not isinstance(folder, Path):  # a zip import: never the case for our wheel
        raise RuntimeError("paytrace_sl is not installed as files: Data Docs assets unavailable")
    return folder


def _assets_digest(folder: Path) -> str:
    return hashlib.sha256((folder / "SOURCES.md").read_bytes()).hexdigest()


def install_assets(site_dir: Path) -> Path:
    """Copy the vendored assets to ``<site>/static/vendor`` (once per asset version); returns that folder."""
    source = assets_dir()
    target = Path(site_dir) / VENDOR_DIR
    stamp = target / _STAMP
    digest = _assets_digest(source)
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == digest:
        return target
    tmp = target.with_name(f".vendor-{os.getpid()}-{time.monotonic_ns()}")
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (tmp / _STAMP).write_text(digest, encoding="utf-8")
    old = target.with_name(f".vendor-old-{os.getpid()}-{time.monotonic_ns()}")
    try:
        target.rename(old)  # an outdated copy (or another process's, which is the same as ours)
    except OSError:
        pass  # none there, or another process moved it first
    try:
        tmp.rename(target)
    except OSError:  # another process installed it in between: theirs is the same
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return target


def localize_html(text: str, depth: int) -> str:
    """``text`` (a Data Docs page ``depth`` folders below the site root) with every CDN asset pointed at
    ``static/vendor/``, GX's S3 images at the site's ``static/images/``, and any other outside script,
    stylesheet or image blanked (``data:,``). Idempotent; pages stay valid when opened from disk."""
    up = "../" * depth
    for url, local in CDN_ASSETS.items():
        text = text.replace(f'"{url}"', f'"{up}{VENDOR_DIR}/{local}"')
    text = _GX_IMAGE.sub(lambda m: f"{up}static/images/{m.group(1)}", text)
    return _FETCHED.sub(lambda m: f"{m.group(1)}{m.group(2)}data:,{m.group(2)}", text)


def localize_site(site_dir: Path, *, since: float | None = None) -> int:
    """Install the assets into ``site_dir`` and localize its pages (those modified at or after ``since``,
    a ``time.time()``, or all); returns how many pages were rewritten."""
    site = Path(site_dir)
    install_assets(site)
    changed = 0
    for page in site.rglob("*.html"):
        rel = page.relative_to(site)
        if rel.parts[:2] == tuple(VENDOR_DIR.split("/")):
            continue
        if since is not None and page.stat().st_mtime < since:
            continue
        text = page.read_text(encoding="utf-8")
        new = localize_html(text, len(rel.parts) - 1)
        if new != text:
            tmp = page.with_name(f".{page.name}.{os.getpid()}.tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(page)
            changed += 1
    return changed


def publish(context: Any, run_results: dict[Any, Any], site_name: str) -> None:
    """Store the safe copy of each validation result (replacing GX's) and render it into ``site_name``.

    What ``UpdateDataDocsAction`` does, with the safe copy: GX builds pages from the stored result.
    The pages just built are then localized (:func:`localize_site`): no CDN, no outside host.
    """
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    started = time.time() - 2  # file systems with coarse mtimes
    store = context.validation_results_store
    site_dir = _site_dir(context, site_name)
    for identifier, result in run_results.items():
        suite_id = ExpectationSuiteIdentifier(name=result.suite_name)
        store.store_validation_results(
            suite_validation_result=docs_safe_result(result),
            suite_validation_result_identifier=identifier,
            expectation_suite_identifier=suite_id,
        )
        resources_ = [identifier]
        if _suite_page_stale(context, site_dir, suite_id):
            resources_.append(suite_id)
        context.build_data_docs(site_names=[site_name], resource_identifiers=resources_)
    if site_dir is not None:
        localize_site(site_dir, since=started)


def _suite_page_stale(context: Any, site_dir: Path | None, suite_id: Any) -> bool:
    """Whether the suite's Data Docs page must be rendered: missing, or older than the stored suite.

    The suite changes only with the contract, but rendering its page costs about as much as the run's
    own page: rebuilt only when the stored suite is newer (or when either file cannot be found).
    """
    if site_dir is None:
        return True
    parts = tuple(str(p) for p in suite_id.to_tuple())
    page = site_dir.joinpath("expectations", *parts).with_suffix(".html")
    stored = Path(context.root_directory).joinpath("expectations", *parts).with_suffix(".json")
    try:
        return page.stat().st_mtime <= stored.stat().st_mtime
    except (OSError, TypeError):
        return True


def _site_dir(context: Any, site_name: str) -> Path | None:
    """The local folder of Data Docs site ``site_name`` (None when it is not a filesystem site)."""
    sites = getattr(context, "variables", None)
    config = (getattr(sites, "data_docs_sites", None) or {}).get(site_name) or {}
    backend = config.get("store_backend") or {}
    base = backend.get("base_directory")
    if not base:
        return None
    path = Path(base)
    if not path.is_absolute():
        path = Path(context.root_directory) / path
    return path
