"""A large window streams in bounded memory: the CLI server in its own process, its peak RSS measured."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TX_PER_DAY, DAYS = 30_000, 4  # 120k records, ~108 MB of JSON


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read peak RSS")
def test_large_export_streams_in_bounded_memory() -> None:
    exe = Path(sys.executable).with_name("paytrace-sl")
    proc = subprocess.Popen(
        [
            str(exe),
            "sandbox",
            "serve",
            "--port",
            "0",
            "--seed",
            "5",
            "--days",
            str(DAYS),
            "--tx-per-day",
            str(TX_PER_DAY),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:")
        session = requests.Session()
        token = session.post(
            f"{url}/oauth/token",
            data={"grant_type": "password", "username": "sandbox", "password": "sandbox-password"},
            timeout=10,
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        baseline = _peak_rss_mb(proc.pid)
        started = time.monotonic()
        resp = session.post(
            f"{url}/v1/transactions/export/by_date_range",
            headers=headers,
            stream=True,
            json={"start_date": "04/01/2025", "end_date": "04/04/2025"},
            timeout=120,
        )
        assert resp.status_code == 200 and resp.headers["Transfer-Encoding"] == "chunked"
        size = records = 0
        tail = b""
        for chunk in resp.iter_content(chunk_size=1 << 16):
            size += len(chunk)
            records += chunk.count(b'"transaction_id":')
            tail = (tail + chunk)[-64:]
        elapsed = time.monotonic() - started
        peak = _peak_rss_mb(proc.pid)
        assert tail.endswith(b'],"external_transaction_id":""}')
        assert records >= DAYS * TX_PER_DAY
        # The body is ~108 MB; a server that built it (or the record list) in memory would exceed this.
        assert size > 100 * 1024 * 1024
        assert peak - baseline < 80, f"server RSS grew {peak - baseline:.0f} MB (peak {peak:.0f} MB)"
        print(
            f"\nstreamed {records} records / {size / 1e6:.0f} MB in {elapsed:.1f}s "
            f"({records / elapsed:.0f} rec/s); server peak RSS {peak:.0f} MB (baseline {baseline:.0f} MB)"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=15) == 0  # clean shutdown on SIGTERM
        finally:
            if proc.poll() is None:
                proc.kill()
