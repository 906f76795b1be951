"""Open the report in real headless Chromium: it renders, logs no console error, and its headline numbers
are the numbers in summary.csv. Skipped only when the chromium binary is absent (CI installs it)."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from reconcile_world import END, NOW, START, World

from paytrace_sl.reconcile.engine import ReconOptions
from paytrace_sl.reconcile.report import build_report

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)
CONSOLE = re.compile(r":CONSOLE[:(]|Uncaught|Failed to load resource|net::ERR_")


def _chromium(tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


class _Metrics(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs).get("data-metric")
        if found:
            self._current = found

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.values[self._current] = data.strip()
            self._current = None


@pytest.mark.skipif(CHROMIUM is None, reason="chromium binary not installed (apt-get install chromium)")
def test_console_check_catches_errors(tmp_path: Path) -> None:
    """The console check itself can fail: a page with a script error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>missing();</script></body></html>")
    result = _chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert any("Uncaught" in line for line in _console_errors(result.stderr))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium binary not installed (apt-get install chromium)")
def test_report_in_chromium(messy_world: World, tmp_path: Path) -> None:
    out = tmp_path / "report"
    build_report(
        messy_world.engine,
        START,
        END,
        out,
        landing_dir=messy_world.landing,
        gx_dir=messy_world.gx_dir,
        options=ReconOptions(expect_settlement=True),
        now=NOW,
        generated_at=dt.datetime(2025, 4, 21, tzinfo=dt.UTC),
    )
    url = (out / "report.html").as_uri()
    dom = _chromium(tmp_path, url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console_errors(dom.stderr) == []
    parser = _Metrics()
    parser.feed(dom.stdout)
    with (out / "summary.csv").open(newline="") as handle:
        expected = {row["metric"]: row["value"] for row in csv.DictReader(handle)}
    assert parser.values == expected
    assert 'data-table="exceptions"' in dom.stdout and dom.stdout.count("<svg") == 3
    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, url, f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _console_errors(result.stderr) == []
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    shutil.copy(shot, Path("/tmp/paytrace-sl-report-screenshot.png"))
