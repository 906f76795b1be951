"""Data Docs through the Airflow UI plugin, offline: real GX site, real HTTP server, real headless Chromium.

The site a validation publishes is served by the plugin's FastAPI app (uvicorn on 127.0.0.1, port 0) and
opened in Chromium driven over the DevTools protocol. Chromium's only route to any other host is a
recording proxy that answers nothing, so the machine being online or not changes nothing. The test
checks that every request the pages make goes to 127.0.0.1 (DevTools' network log, and the proxy saw
nothing), that Bootstrap and Font Awesome are applied (computed styles, the icon font loaded), and that
jQuery and bootstrap-table ran. Skipped only when the chromium binary is absent (CI installs it).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from test_pipeline_gx_checks import CONTRACT, WINDOW, records

from paytrace_sl.pipeline.checks import validate_window
from paytrace_sl.pipeline.gx_docs import CDN_ASSETS, VENDOR_DIR, localize_html

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium binary not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Data Docs site with one failed validation (an unexpected-values table, GX's navbar and icons)."""
    gx_root = tmp_path_factory.mktemp("gx")
    rows = records(6)
    rows[2]["transaction_type"] = "NotAType"
    validate_window(pd.DataFrame(rows), contract=CONTRACT, run_id="run-docs", gx_root=gx_root, window=WINDOW)
    docs = gx_root / "data_docs"
    assert (docs / "index.html").is_file()
    return docs


def _pages(site: Path) -> list[Path]:
    return [p for p in site.rglob("*.html") if VENDOR_DIR not in p.as_posix()]


def _app(site: Path, tmp: Path, *, require_login: bool = False) -> Any:
    from paytrace_sl_airflow.ui_plugin import create_app

    return create_app(
        sl_url=f"sqlite:///{tmp / 'missing' / 'sl.db'}",
        reports_dir=tmp / "reports",
        docs_dir=site,
        require_login=require_login,
    )


# ----------------------------------------------------------------------------------- without browser


def test_published_pages_reference_no_outside_asset(site: Path) -> None:
    for page in _pages(site):
        text = page.read_text(encoding="utf-8")
        for url in CDN_ASSETS:
            assert f'"{url}"' not in text, f"{page.name} still loads {url}"
        assert "amazonaws.com" not in text and "data_context_id" not in text
    assert (site / VENDOR_DIR / "bootstrap" / "bootstrap.min.css").is_file()


def test_localize_rewrites_every_cdn_asset_and_blanks_unknown_ones() -> None:
    raw = "".join(f'<script src="{u}"></script><link rel="stylesheet" href="{u}"/>' for u in CDN_ASSETS)
    raw += (
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=ab-12">'
    )
    raw += '<script src="https://evil.example/x.js"></script><a href="https://greatexpectations.io">GX</a>'
    out = localize_html(raw, depth=2)
    assert "https://" not in out.replace('href="https://greatexpectations.io"', "")  # a link stays a link
    assert '<img src="../../static/images/logo-long.png">' in out and "ab-12" not in out
    assert '<script src="data:,"></script>' in out
    assert f'src="../../{VENDOR_DIR}/jquery/jquery.min.js"' in out
    assert localize_html(out, depth=2) == out


def test_plugin_serves_docs_and_nothing_outside(site: Path, tmp_path: Path) -> None:
    (site.parent / "secret.txt").write_text("outside the docs folder")
    client = TestClient(_app(site, tmp_path))
    index = client.get("/data-docs/")
    assert index.status_code == 200 and "static/vendor/bootstrap/bootstrap.min.css" in index.text
    assert "default-src 'none'" in index.headers["content-security-policy"]
    assert client.get("/data-docs", follow_redirects=False).headers["location"] == "data-docs/index.html"
    css = client.get(f"/data-docs/{VENDOR_DIR}/bootstrap/bootstrap.min.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    font = client.get(f"/data-docs/{VENDOR_DIR}/fontawesome/webfonts/fa-solid-900.woff2")
    assert font.status_code == 200 and font.headers["content-type"] == "font/woff2"
    for bad in (
        "/data-docs/../secret.txt",
        "/data-docs/%2e%2e/secret.txt",
        "/data-docs/static/%2e%2e/%2e%2e/secret.txt",
        "/data-docs/static/..%2f..%2fsecret.txt",
        "/data-docs/%2Fetc%2Fpasswd",
        f"/data-docs/{VENDOR_DIR}/../../../secret.txt",
        f"/data-docs/{VENDOR_DIR}/.paytrace-sl-assets",
        "/data-docs/static",  # a folder
        "/data-docs/nope.html",
    ):
        response = client.get(bad)
        assert response.status_code == 404 and "outside the docs" not in response.text, bad
    (site / "static" / "escape").symlink_to(site.parent / "secret.txt")
    try:
        assert client.get("/data-docs/static/escape").status_code == 404
    finally:
        (site / "static" / "escape").unlink()


def test_old_site_gets_vendored_assets_from_the_package(site: Path, tmp_path: Path) -> None:
    """A site published before the assets were vendored: pages localized as served, assets from the wheel."""
    old = tmp_path / "old"
    shutil.copytree(site, old, ignore=shutil.ignore_patterns("vendor"))
    raw = (
        (old / "index.html")
        .read_text()
        .replace(f"{VENDOR_DIR}/jquery/jquery.min.js", "https://code.jquery.com/jquery-3.7.1.min.js")
    )
    (old / "index.html").write_text(raw)
    client = TestClient(_app(old, tmp_path))
    page = client.get("/data-docs/index.html").text
    assert "code.jquery.com" not in page and f"{VENDOR_DIR}/jquery/jquery.min.js" in page
    assert client.get(f"/data-docs/{VENDOR_DIR}/jquery/jquery.min.js").status_code == 200


def test_docs_need_login_and_page_links_them(site: Path, tmp_path: Path) -> None:
    client = TestClient(_app(site, tmp_path, require_login=True))
    for path in ("/data-docs/", "/data-docs/index.html", f"/data-docs/{VENDOR_DIR}/jquery/jquery.min.js"):
        assert client.get(path).status_code in (401, 403), path
    page = TestClient(_app(site, tmp_path)).get("/").text
    assert "href='data-docs/'" in page
    empty = TestClient(_app(tmp_path / "no-docs", tmp_path)).get("/").text
    assert "No Data Docs yet" in empty and "href='data-docs/'" not in empty


def test_report_links_to_data_docs_work_through_the_plugin(site: Path, tmp_path: Path) -> None:
    """The report links Data Docs pages relative to its folder (right on disk); served under
    ``reports/<name>/`` they are pointed at the plugin's ``data-docs/`` route, which serves them."""
    from paytrace_sl.reconcile.report import Table, _html_table

    page = next(p for p in _pages(site) if "validations" in p.parts)
    reports = tmp_path / "reports"
    out = reports / "2025-04-10"
    out.mkdir(parents=True)
    import os

    rel = os.path.relpath(page, out)
    table = Table("data_quality", "Data quality", ("run_id", "data_docs"), (("run-docs", rel),), "")
    (out / "report.html").write_text(f"<html><body>{_html_table(table)}</body></html>")
    client = TestClient(_app(site, tmp_path))
    served = client.get("/reports/2025-04-10/report.html").text
    link = f"../../data-docs/{page.relative_to(site).as_posix()}"
    assert f'href="{link}"' in served and f'href="{rel}"' not in served
    target = "/reports/2025-04-10/" + link  # what the browser resolves
    resolved = os.path.normpath(target)
    assert client.get(resolved).status_code == 200


# ------------------------------------------------------------------------------------ real browser


# the browser's own background requests (its updater, Google account check) that flags do not stop
_CHROMIUM_SERVICE = re.compile(r"^\S+ (?:https?://)?(?:update\.googleapis\.com|accounts\.google\.com)[:/]")


class _RecordingProxy:
    """Chromium's proxy for every host but loopback: records what was asked for, answers nothing."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.requests.append(conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1"))
                    conn.sendall(
                        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def served(site: Path, tmp_path: Path) -> Iterator[str]:
    """The plugin app on http://127.0.0.1:<port 0>/ (uvicorn in a thread)."""
    import uvicorn

    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app(site, tmp_path), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()


class _Browser:
    """Headless Chromium over the DevTools protocol (one page)."""

    def __init__(self, profile: Path, proxy_port: int) -> None:
        assert CHROMIUM is not None
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-client-side-phishing-detection",
                "--disable-domain-reliability",
                "--no-pings",
                "--disable-features=AutofillServerCommunication,NetworkTimeServiceQuerying,"
                "OptimizationHints,MediaRouter,Translate,CertificateTransparencyComponentUpdater,"
                "SigninInterceptBubble,DialMediaRouteProvider,InterestFeedContentSuggestions",
                "--disable-sync",
                "--disable-default-apps",
                f"--user-data-dir={profile}",
                f"--proxy-server=http://127.0.0.1:{proxy_port}",
                "--proxy-bypass-list=<-loopback>;127.0.0.1",  # only our own server is reached directly
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert time.monotonic() < deadline and self.proc.poll() is None, "chromium did not start"
            time.sleep(0.1)
        devtools = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{devtools}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        from websockets.sync.client import connect

        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None))
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return dict(msg.get("result", {}))
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def settle(self, seconds: float) -> None:
        """Collect events for ``seconds`` (late fetches: fonts, images)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                return

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.settle(1.5)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def requested(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        self.stack.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


STYLE_PROBE = """(async () => {
  await document.fonts.ready;
  const navbar = document.querySelector('nav.navbar');
  const icon = document.querySelector('i.fas, i.fa, .fas');
  return {
    navbarDisplay: navbar ? getComputedStyle(navbar).display : null,
    bodyFont: getComputedStyle(document.body).fontFamily,
    iconFont: icon ? getComputedStyle(icon).fontFamily : null,
    faLoaded: document.fonts.check('900 16px "Font Awesome 6 Free"'),
    sheets: Array.from(document.styleSheets).map(s => [s.href, s.cssRules.length]),
    jquery: typeof window.jQuery === 'function',
    bootstrapTable: !!(window.jQuery && window.jQuery.fn.bootstrapTable),
    tables: document.querySelectorAll('.bootstrap-table').length,
  };
})()"""


@needs_chromium
def test_data_docs_render_offline_through_the_plugin(site: Path, served: str, tmp_path: Path) -> None:
    proxy = _RecordingProxy()
    browser = _Browser(tmp_path / "profile", proxy.port)
    try:
        browser.call("Network.enable")
        browser.call("Page.enable")
        validation = next(p for p in _pages(site) if "validations" in p.parts).relative_to(site).as_posix()
        for path in ("data-docs/", f"data-docs/{validation}"):
            browser.open(f"{served}/{path}")
            probe = browser.evaluate(STYLE_PROBE)
            requested = browser.requested()
            assert requested and requested[0].startswith(f"{served}/"), requested
            outside = [u for u in requested if not u.startswith((f"{served}/", "data:"))]
            assert outside == [], f"{path} requested outside hosts: {outside}"
            sheets = {href.rsplit("/", 1)[-1]: rules for href, rules in probe["sheets"] if href}
            assert sheets.get("bootstrap.min.css", 0) > 100 and sheets.get("all.min.css", 0) > 100, probe
            assert probe["navbarDisplay"] == "flex", probe  # Bootstrap's .navbar, not the UA's block
            assert probe["iconFont"] and "Font Awesome" in probe["iconFont"], probe
            assert probe["faLoaded"], probe
            assert probe["jquery"] and probe["bootstrapTable"], probe
        # Chromium's own services (component updater, account check) are the browser's, not the pages'
        pages_traffic = [r for r in proxy.requests if not _CHROMIUM_SERVICE.search(r)]
        assert pages_traffic == [], f"requests sent towards outside hosts: {pages_traffic}"
    finally:
        browser.close()
        proxy.close()


@needs_chromium
def test_the_offline_check_can_fail(served: str, tmp_path: Path) -> None:
    """The same browser set-up does see a page that loads a CDN asset: the check is not blind."""
    proxy = _RecordingProxy()
    browser = _Browser(tmp_path / "profile", proxy.port)
    try:
        browser.call("Network.enable")
        browser.call("Page.enable")
        page = "data:text/html,<link rel=stylesheet href='https://cdn.jsdelivr.net/npm/x@1/x.css'><p>x</p>"
        browser.open(page)
        assert any("cdn.jsdelivr.net" in u for u in browser.requested())
        assert any("cdn.jsdelivr.net" in r for r in proxy.requests), proxy.requests
    finally:
        browser.close()
        proxy.close()
