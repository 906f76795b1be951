"""Every fault mode, observed at the HTTP level with plain ``requests``."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
from sandbox_http import Api

from paytrace_sl_sandbox.faults import FaultConfig
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

EXPORT = "/v1/transactions/export/by_date_range"
DAY = {"start_date": "04/01/2025", "end_date": "04/01/2025"}


@pytest.mark.parametrize(("mode", "status"), [("http_429", 429), ("http_500", 500), ("http_503", 503)])
def test_status_faults(api: Api, mode: str, status: int) -> None:
    api.login()
    api.server.set_faults(FaultConfig(mode=mode, retry_after=2))  # type: ignore[arg-type]
    resp = api.post(EXPORT, DAY)
    assert resp.status_code == status
    if status in (429, 503):
        assert resp.headers["Retry-After"] == "2"
    else:
        assert "Retry-After" not in resp.headers
    api.server.set_faults(FaultConfig())
    assert api.post(EXPORT, DAY).status_code == 200


def test_retry_after_can_be_omitted(api: Api) -> None:
    api.login()
    api.server.set_faults(FaultConfig(mode="http_429", retry_after=None))
    resp = api.post(EXPORT, DAY)
    assert resp.status_code == 429 and "Retry-After" not in resp.headers


def test_slow(api: Api) -> None:
    api.login()
    api.server.set_faults(FaultConfig(mode="slow", delay=0.4))
    started = time.monotonic()
    assert api.post(EXPORT, DAY).status_code == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.post(
            f"{api.url}{EXPORT}", json=DAY, headers={"Authorization": f"Bearer {api.token}"}, timeout=0.1
        )


def test_truncated_json_small_and_streamed(api: Api) -> None:
    api.login()
    api.server.set_faults(FaultConfig(mode="truncated_json", paths=["/v1/batches/export_one"]))
    resp = api.post("/v1/batches/export_one", {})
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    api.server.set_faults(FaultConfig(mode="truncated_json"))
    # A streamed export ends without its terminating chunk: the client sees a broken body.
    with pytest.raises((requests.exceptions.ChunkedEncodingError, ValueError)):
        api.post(EXPORT, {"start_date": "04/01/2025", "end_date": "04/07/2025"}).json()


def test_invalid_json(api: Api) -> None:
    api.login()
    api.server.set_faults(FaultConfig(mode="invalid_json"))
    resp = api.post(EXPORT, DAY)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        resp.json()


def test_token_expiry_after_n_calls(api: Api) -> None:
    api.server.set_faults(FaultConfig(mode="token_expiry", expire_after_calls=2))
    api.login()
    assert api.post(EXPORT, DAY).status_code == 200
    assert api.post(EXPORT, DAY).status_code == 200
    third = api.post(EXPORT, DAY)
    assert third.status_code == 401 and third.json()["error"] == "invalid_token"
    assert api.post(EXPORT, DAY).status_code == 401  # dead for good
    api.login()  # re-authentication is the cure
    assert api.post(EXPORT, DAY).status_code == 200
    assert api.server.stats()["faults_by_mode"]["token_expiry"] == 1  # one token killed


def test_rate_is_deterministic_and_count_limits(make_sandbox: Callable[..., SandboxServer]) -> None:
    def pattern(server: SandboxServer) -> list[int]:
        api = Api(server)
        api.login()
        server.set_faults(FaultConfig(mode="http_500", rate=0.5, seed=3))
        return [api.post(EXPORT, DAY).status_code for _ in range(16)]

    cfg = SandboxConfig(MerchantConfig(days=1, tx_per_day=3))
    first, second = pattern(make_sandbox(cfg)), pattern(make_sandbox(cfg))
    assert first == second and 500 in first and 200 in first

    server = make_sandbox(cfg)
    api = Api(server)
    api.login()
    server.set_faults(FaultConfig(mode="http_503", count=2))
    assert [api.post(EXPORT, DAY).status_code for _ in range(4)] == [503, 503, 200, 200]
    assert server.stats()["faults_injected"] == 2


def test_paths_restrict_and_token_endpoint_is_spared(api: Api) -> None:
    api.server.set_faults(FaultConfig(mode="http_500"))
    api.login()  # /oauth/token is not faulted unless listed
    assert api.post(EXPORT, DAY).status_code == 500
    assert requests.post(f"{api.url}/v1/ping", timeout=5).status_code == 500
    api.server.set_faults(FaultConfig(mode="http_500", paths=["/v1/batches/export"]))
    assert api.post(EXPORT, DAY).status_code == 200
    assert api.post("/v1/batches/export", DAY).status_code == 500
    api.server.set_faults(FaultConfig(mode="http_500", paths=["/oauth/token"]))
    with pytest.raises(requests.HTTPError):
        api.login()


def test_admin_endpoints_switch_faults_at_run_time(api: Api) -> None:
    api.login()
    resp = requests.post(f"{api.url}/_sandbox/faults", json={"mode": "http_429", "count": 1}, timeout=5)
    assert resp.status_code == 200 and resp.json()["faults"]["mode"] == "http_429"
    assert requests.get(f"{api.url}/_sandbox/stats", timeout=5).status_code == 200  # never faulted
    assert api.post(EXPORT, DAY).status_code == 429
    assert api.post(EXPORT, DAY).status_code == 200
    stats = requests.get(f"{api.url}/_sandbox/stats", timeout=5).json()
    assert stats["faults_injected"] == 1 and stats["paths"][EXPORT] == 2
    bad = requests.post(f"{api.url}/_sandbox/faults", json={"mode": "explode"}, timeout=5)
    assert bad.status_code == 400
    typo = requests.post(f"{api.url}/_sandbox/faults", json={"mode": "slow", "dleay": 1}, timeout=5)
    assert typo.status_code == 400


def test_faults_from_the_constructor(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(
        SandboxConfig(MerchantConfig(days=1, tx_per_day=3), faults=FaultConfig(mode="http_503", count=1))
    )
    api = Api(server)
    api.login()
    assert api.post(EXPORT, DAY).status_code == 503
    assert api.post(EXPORT, DAY).status_code == 200
