"""Hostile text in failed values never becomes markup in Great Expectations' Data Docs.

GX renders the unexpected-values table cells as raw HTML, so a ``<script>`` in a description (or an
``onerror`` handler in a transaction type) would run in the auditor's browser. The validation page is
opened in real headless Chromium; a script that runs marks ``<body>``, which the dumped DOM would show.
Skipped only when the chromium binary is absent (CI installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from test_pipeline_gx_checks import CONTRACT, WINDOW, records

from paytrace_sl.pipeline.checks import validate_window
from paytrace_sl.pipeline.gx_docs import DOCS_VALUE_LIMIT

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MARK = "document.body.setAttribute('data-xss','ran')"
SCRIPT = f"<script>{MARK}</script>"
IMG = f'<img src=x onerror="{MARK}">'


class _Body(HTMLParser):
    """The attributes of the dumped DOM's ``<body>`` and the number of ``<img src=x>`` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.imgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.body = dict(attrs)
        elif tag == "img" and dict(attrs).get("src") == "x":
            self.imgs += 1


def _hostile_window(gx_root: Path) -> list[Path]:
    rows = records(6)
    rows[1]["description"] = SCRIPT + "x" * 600  # too long → expect_column_value_lengths_to_be_between
    rows[2]["transaction_type"] = IMG  # not in set
    rows[3]["customer_id"] = SCRIPT + "y" * 60  # too long
    rows[4]["status_code"] = "</div></td></tr></table>" + SCRIPT  # too long, closes GX's markup first
    result = validate_window(
        pd.DataFrame(rows), contract=CONTRACT, run_id="run-xss", gx_root=gx_root, window=WINDOW
    )
    assert sorted(d.row for d in result.dead_letters) == [1, 2, 3, 4]
    pages = sorted((gx_root / "data_docs" / "validations").rglob("*.html"))
    assert pages, "no validation page was rendered"
    return pages


def test_data_docs_escape_and_truncate_failed_values(tmp_path: Path) -> None:
    pages = _hostile_window(tmp_path / "gx")
    html = "\n".join(p.read_text() for p in pages)
    assert SCRIPT not in html and "<img src=x" not in html and "</table><script>" not in html
    assert "&lt;script&gt;" in html  # shown to the auditor as text
    assert "x" * (DOCS_VALUE_LIMIT + 1) not in html  # a 600-character value is cut
    stored = "\n".join(p.read_text() for p in (tmp_path / "gx").rglob("*.json"))
    assert SCRIPT not in stored  # the stored result GX re-renders (index rebuilds) is the safe one


def _dump_dom(page: Path, profile: Path) -> str:
    """The DOM after the page's scripts ran (3 s of virtual time: no network waits)."""
    assert CHROMIUM is not None
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium binary not installed (apt-get install chromium)")
def test_no_script_runs_in_chromium(tmp_path: Path) -> None:
    pages = _hostile_window(tmp_path / "gx")
    for page in pages:
        dom = _dump_dom(page, tmp_path / "profile")
        parsed = _Body()
        parsed.feed(dom)
        assert "tbody" in dom and "setAttribute(" in dom  # the page rendered our values
        assert parsed.body.get("data-xss") is None, f"a script from a failed value ran in {page.name}"
        assert parsed.imgs == 0, "an <img> from a failed value became an element"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium binary not installed (apt-get install chromium)")
def test_the_browser_check_can_fail(tmp_path: Path) -> None:
    """The same check on a page with the raw payload does see the script run."""
    page = tmp_path / "raw.html"
    page.write_text(
        f"<!DOCTYPE html><html><body><table><tr><td>{SCRIPT}{IMG}</td></tr></table></body></html>"
    )
    parsed = _Body()
    parsed.feed(_dump_dom(page, tmp_path / "profile"))
    assert parsed.body.get("data-xss") == "ran" and parsed.imgs == 1
