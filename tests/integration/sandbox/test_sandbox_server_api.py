"""The sandbox over real HTTP: auth, exports, processing rules and PayTrace's error shapes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal

import pytest
import requests
from sandbox_http import Api

from paytrace_sl_sandbox import shapes
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

EXPORT = "/v1/transactions/export/by_date_range"
WEEK = {"start_date": "04/01/2025", "end_date": "04/07/2025"}
VISA = {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030}


def _cents(v: object) -> int:
    return int(Decimal(str(v)) * 100)


# ----------------------------------------------------------------------------------- auth
def test_token_is_a_password_grant(paytrace_sandbox: SandboxServer) -> None:
    resp = requests.post(
        f"{paytrace_sandbox.url}/oauth/token",
        data="grant_type=password&username=sandbox&password=sandbox-password",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8", "Accept": "*/*"},
        timeout=10,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 7200
    assert body["access_token"].count(":") == 2


def test_token_request_as_json_is_tolerated(paytrace_sandbox: SandboxServer) -> None:
    body = {"grant_type": "password", "username": "sandbox", "password": "sandbox-password"}
    resp = requests.post(f"{paytrace_sandbox.url}/oauth/token", json=body, timeout=10)
    assert resp.status_code == 200 and resp.json()["token_type"] == "bearer"


def test_bad_credentials_are_invalid_grant(paytrace_sandbox: SandboxServer) -> None:
    resp = requests.post(
        f"{paytrace_sandbox.url}/oauth/token",
        data={"grant_type": "password", "username": "sandbox", "password": "nope"},
        timeout=10,
    )
    assert resp.status_code == 401
    assert resp.json() == {"error": "invalid_grant", "error_description": shapes.INVALID_GRANT_DESCRIPTION}
    resp = requests.post(
        f"{paytrace_sandbox.url}/oauth/token", data={"grant_type": "client_credentials"}, timeout=10
    )
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"


def test_api_calls_need_a_valid_token(paytrace_sandbox: SandboxServer) -> None:
    url = f"{paytrace_sandbox.url}{EXPORT}"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        resp = requests.post(url, json=WEEK, headers=headers, timeout=10)
        assert resp.status_code == 401
        assert resp.json()["error"] == "invalid_token"
    ping = requests.post(f"{paytrace_sandbox.url}/v1/ping", timeout=10)
    assert ping.status_code == 200 and ping.json()["success"] is True


def test_expired_token_is_invalid_token(
    make_sandbox: Callable[..., SandboxServer], api_for: Callable[[SandboxServer], Api]
) -> None:
    server = make_sandbox(SandboxConfig(MerchantConfig(seed=1, days=1, tx_per_day=5), token_ttl=0))
    api = api_for(server)
    api.login()
    resp = api.post(EXPORT, {"start_date": "04/01/2025", "end_date": "04/01/2025"})
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_token"


def test_integrator_id_checked_only_when_required(
    make_sandbox: Callable[..., SandboxServer], api_for: Callable[[SandboxServer], Api]
) -> None:
    server = make_sandbox(SandboxConfig(MerchantConfig(days=1, tx_per_day=5), require_integrator_id=True))
    api = api_for(server)
    body = {"start_date": "04/01/2025", "end_date": "04/01/2025"}
    assert list(api.post(EXPORT, body).json()["errors"]) == ["981"]
    assert api.post(EXPORT, {**body, "integrator_id": "SANDBOXINT01"}).json()["success"] is True


# ----------------------------------------------------------------------------------- exports
def test_export_serves_exactly_the_generated_records(api: Api) -> None:
    resp = api.post(EXPORT, WEEK)
    assert resp.status_code == 200
    assert resp.headers["Transfer-Encoding"] == "chunked"
    body = resp.json()
    assert body["success"] is True and body["response_code"] == 1
    assert body["status_message"] == shapes.EXPORT_OK_MESSAGE
    sim = api.server.sim
    expected = [r for i in range(7) for r in sim.transactions_for_day(dt.date(2025, 4, 1) + dt.timedelta(i))]
    assert body["transactions"] == expected
    # The exact bytes of a record: JSON number amount, string tax_amount.
    raw = resp.text
    assert '"amount":' in raw and '"tax_amount":"' in raw


def test_dates_are_inclusive_merchant_local_days(api: Api) -> None:
    one = api.post(EXPORT, {"start_date": "04/03/2025", "end_date": "04/03/2025"}).json()["transactions"]
    assert one and all(r["created"]["at"].startswith("4/3/2025 ") for r in one)
    two = api.post(EXPORT, {"start_date": "04/03/2025", "end_date": "04/04/2025"}).json()["transactions"]
    assert len(two) > len(one)
    outside = api.post(EXPORT, {"start_date": "01/01/2020", "end_date": "01/31/2020"}).json()
    assert outside["success"] is True and outside["transactions"] == []


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        ({}, {shapes.ERR_START_DATE[0], shapes.ERR_END_DATE[0]}),
        ({"start_date": "2025-04-01", "end_date": "04/07/2025"}, {shapes.ERR_START_DATE[0]}),
        ({"start_date": "04/01/2025", "end_date": "13/45/2025"}, {shapes.ERR_END_DATE[0]}),
        ({"start_date": "04/01/2025"}, {shapes.ERR_END_DATE[0]}),
    ],
)
def test_bad_dates_are_400_with_error_codes(api: Api, body: dict, codes: set[str]) -> None:
    resp = api.post(EXPORT, body)
    assert resp.status_code == 400
    out = resp.json()
    assert out["success"] is False and out["response_code"] == 1
    assert out["status_message"] == shapes.ERROR_MESSAGE
    assert set(out["errors"]) == codes and all(isinstance(v, list) for v in out["errors"].values())


def test_type_filters(api: Api) -> None:
    def fetch(t: str) -> list[dict]:
        resp = api.post(EXPORT, {**WEEK, "transaction_type": t})
        assert resp.status_code == 200, resp.text
        return resp.json()["transactions"]

    assert all(r["transaction_type"] == "SALE" and r["status_message"] != "Declined" for r in fetch("SALE"))
    assert all(r["transaction_type"] == "REFUND" for r in fetch("REFUND"))
    assert all(r["status_code"].startswith("GB") for r in fetch("SETTLED"))
    assert all(r["status_code"] == "Y" for r in fetch("PENDING"))
    declined = fetch("DECLINED")
    assert declined and all(r["status_message"] == "Declined" for r in declined)
    assert all(r["transaction_type"] == "VOID" or r["status_message"] == "Voided" for r in fetch("VOID"))
    assert fetch("STR/FWD") == []
    assert api.post(EXPORT, {**WEEK, "transaction_type": "BOGUS"}).status_code == 400


def test_id_customer_and_bin_filters(api: Api) -> None:
    all_recs = api.post(EXPORT, WEEK).json()["transactions"]
    target = next(r for r in all_recs if r["customer_id"])
    by_id = api.post(EXPORT, {**WEEK, "transaction_id": target["transaction_id"]}).json()["transactions"]
    assert by_id == [target]
    by_cust = api.post(EXPORT, {**WEEK, "customer_id": target["customer_id"]}).json()["transactions"]
    assert by_cust and all(r["customer_id"] == target["customer_id"] for r in by_cust)
    with_bin = api.post(EXPORT, {**WEEK, "include_bin": True}).json()["transactions"]
    assert [r["credit_card"]["masked_number"][-4:] for r in with_bin] == [
        r["credit_card"]["masked_number"][-4:] for r in all_recs
    ]
    assert all(r["credit_card"]["masked_number"][:6].isdigit() for r in with_bin)
    assert all(r["credit_card"]["masked_number"].startswith("*") for r in all_recs)


def test_export_by_id(api: Api) -> None:
    rec = api.post(EXPORT, WEEK).json()["transactions"][10]
    out = api.post("/v1/transactions/export/by_id", {"transaction_id": rec["transaction_id"]}).json()
    assert out["success"] is True and out["transactions"] == [rec]
    missing = api.post("/v1/transactions/export/by_id", {"transaction_id": 12345})
    assert missing.status_code == 400 and "58" in missing.json()["errors"]


def test_batches_agree_with_their_transactions(api: Api) -> None:
    batches = api.post("/v1/batches/export", WEEK).json()["batches"]
    assert [b["number"] for b in batches] == list(range(501, 508))
    for b in batches:
        txs = api.post("/v1/batches/transaction_list", {"batch_number": b["number"]}).json()["transactions"]
        assert all(t["status_code"] == f"GB{b['number']}" for t in txs)
        assert b["transaction_count"] == len(txs)
        sales = sum(_cents(t["amount"]) for t in txs if t["transaction_type"] != "REFUND")
        refunds = sum(_cents(t["amount"]) for t in txs if t["transaction_type"] == "REFUND")
        assert (_cents(b["sales_amount"]), _cents(b["refund_amount"])) == (sales, refunds)
        assert _cents(b["net_amount"]) == sales - refunds
    one = api.post("/v1/batches/export_one", {"batch_number": 503}).json()["batch"]
    assert one["number"] == 503 and set(shapes.BATCH_BRANDS) <= set(one)
    assert sum(one[b]["sales_count"] for b in shapes.BATCH_BRANDS) == one["sales_count"]
    latest = api.post("/v1/batches/export_one", {}).json()["batch"]
    assert latest["number"] == 507
    assert api.post("/v1/batches/export_one", {"batch_number": 99}).status_code == 400
    assert api.post("/v1/batches/transaction_list", {}).status_code == 400
    assert api.post("/v1/batches/export", {}).status_code == 400


def test_customer_export(api: Api) -> None:
    customers = api.post("/v1/customer/export", {}).json()["customers"]
    assert len(customers) == 50
    assert customers[0]["customer_id"] == api.server.sim.customers()[0].customer_id
    one = api.post("/v1/customer/export", {"customer_id": customers[3]["customer_id"]}).json()["customers"]
    assert one == [customers[3]]
    missing = api.post("/v1/customer/export", {"customer_id": "NOPE"})
    assert missing.status_code == 400 and "30" in missing.json()["errors"]


# ----------------------------------------------------------------------------------- processing
def _sale(
    api: Api, amount: float, path: str = "/v1/transactions/sale/keyed", **extra: object
) -> requests.Response:
    return api.post(path, {"amount": amount, "credit_card": VISA, "csc": "999", **extra})


def test_keyed_sale_then_refund_rules(api: Api) -> None:
    sale = _sale(api, 12.34, invoice_id="INV-1")
    assert sale.status_code == 200
    body = sale.json()
    assert body["response_code"] == 101 and body["masked_card_number"] == "xxxxxxxxxxxx1111"
    tid = body["transaction_id"]
    assert tid > max(r["transaction_id"] for r in api.post(EXPORT, WEEK).json()["transactions"])
    refund = api.post("/v1/transactions/refund/for_transaction", {"transaction_id": tid})
    assert refund.status_code == 400 and list(refund.json()["errors"]) == ["817"]
    settle = api.post("/v1/transactions/settle", {}).json()
    assert settle["success"] is True and settle["batch_number"] == 508
    void = api.post("/v1/transactions/void", {"transaction_id": tid})
    assert void.status_code == 400 and list(void.json()["errors"]) == ["818"]
    part = api.post("/v1/transactions/refund/for_transaction", {"transaction_id": tid, "amount": 2.34}).json()
    assert part["response_code"] == 106 and part["transaction_id"] != tid
    rest = api.post("/v1/transactions/refund/for_transaction", {"transaction_id": tid}).json()
    assert rest["response_code"] == 106
    too_much = api.post("/v1/transactions/refund/for_transaction", {"transaction_id": tid, "amount": 1})
    assert too_much.status_code == 400
    today = dt.datetime.now(api.server.sim.tz).date().strftime("%m/%d/%Y")
    recs = api.post(EXPORT, {"start_date": today, "end_date": today}).json()["transactions"]
    refunds = [r for r in recs if r["transaction_type"] == "REFUND"]
    assert [r["amount"] for r in refunds] == [2.34, 10]
    assert all(r["invoice_id"] == "INV-1" for r in refunds)
    original = next(r for r in recs if r["transaction_id"] == tid)
    assert original["status_code"] == "GB508" and original["settled"]
    batch = api.post("/v1/batches/export_one", {}).json()["batch"]
    assert batch["number"] == 508 and batch["sales_amount"] >= 12.34


def test_magic_amount_declines_with_a_transaction_id(api: Api) -> None:
    resp = _sale(api, 0.29)
    assert resp.status_code == 400
    body = resp.json()
    assert body["success"] is False and body["response_code"] == 102
    assert body["approval_message"] == "EXPIRED CARD - Expired card"
    assert isinstance(body["transaction_id"], int)
    today = dt.datetime.now(api.server.sim.tz).date().strftime("%m/%d/%Y")
    declined = api.post(EXPORT, {"start_date": today, "end_date": today, "transaction_type": "DECLINED"})
    assert [r["transaction_id"] for r in declined.json()["transactions"]] == [body["transaction_id"]]


def test_void_before_settlement(api: Api) -> None:
    tid = _sale(api, 50).json()["transaction_id"]
    void = api.post("/v1/transactions/void", {"transaction_id": tid}).json()
    assert void["response_code"] == 109
    again = api.post("/v1/transactions/void", {"transaction_id": tid})
    assert again.status_code == 400 and again.json()["response_code"] == 110
    rec = api.post("/v1/transactions/export/by_id", {"transaction_id": tid}).json()["transactions"][0]
    assert (rec["status_code"], rec["status_message"]) == shapes.STATUS_VOIDED
    today = dt.datetime.now(api.server.sim.tz).date().strftime("%m/%d/%Y")
    voids = api.post(EXPORT, {"start_date": today, "end_date": today, "transaction_type": "VOID"}).json()
    assert {r["transaction_type"] for r in voids["transactions"]} == {"SALE", "VOID"}


def test_void_and_settle_of_generated_pending_records(api: Api) -> None:
    pending = api.post(EXPORT, {**WEEK, "transaction_type": "PENDING"}).json()["transactions"]
    assert pending
    first = pending[0]["transaction_id"]
    assert api.post("/v1/transactions/void", {"transaction_id": first}).json()["response_code"] == 109
    settled = api.post(EXPORT, {**WEEK, "transaction_type": "SETTLED"}).json()["transactions"]
    old_settled = api.post(
        "/v1/transactions/refund/for_transaction",
        {"transaction_id": settled[0]["transaction_id"], "amount": 0.01},
    )
    assert old_settled.json()["response_code"] == 106
    result = api.post("/v1/transactions/settle", {}).json()
    assert result["transaction_count"] == len(pending) - 1 + 1  # the rest of the pending + the new refund
    after = api.post(EXPORT, {**WEEK, "transaction_type": "PENDING"}).json()["transactions"]
    assert after == []
    batch = api.post("/v1/batches/transaction_list", {"batch_number": result["batch_number"]}).json()
    assert len(batch["transactions"]) == result["transaction_count"]


def test_authorization_capture(api: Api) -> None:
    auth = api.post("/v1/transactions/authorization/keyed", {"amount": 5, "credit_card": VISA}).json()
    assert auth["response_code"] == 101
    tid = auth["transaction_id"]
    rec = api.post("/v1/transactions/export/by_id", {"transaction_id": tid}).json()["transactions"][0]
    assert (rec["status_code"], rec["status_message"]) == shapes.STATUS_AUTH_ONLY
    assert (
        api.post("/v1/transactions/authorization/capture", {"transaction_id": tid, "amount": 6}).status_code
        == 400
    )
    cap = api.post("/v1/transactions/authorization/capture", {"transaction_id": tid, "amount": 2}).json()
    assert cap["response_code"] == 112 and cap["transaction_id"] == tid
    rec = api.post("/v1/transactions/export/by_id", {"transaction_id": tid}).json()["transactions"][0]
    assert rec["amount"] == 2 and rec["status_code"] == "Y" and rec["transaction_type"] == "AUTHORIZATION"
    assert api.post("/v1/transactions/authorization/capture", {"transaction_id": tid}).status_code == 400


def test_customers_create_duplicate_and_charge(api: Api) -> None:
    new = {"customer_id": "NEW-1", "credit_card": VISA, "billing_address": {"name": "Pat New"}}
    created = api.post("/v1/customer/create", new).json()
    assert created["response_code"] == 160 and created["customer_id"] == "NEW-1"
    dup = api.post("/v1/customer/create", new)
    assert dup.status_code == 400 and list(dup.json()["errors"]) == ["171"]
    existing = api.server.sim.customers()[0].customer_id
    assert list(api.post("/v1/customer/create", {**new, "customer_id": existing}).json()["errors"]) == ["171"]
    sale = api.post("/v1/transactions/sale/by_customer", {"amount": 9.99, "customer_id": "NEW-1"}).json()
    assert sale["response_code"] == 101
    auth = api.post("/v1/transactions/authorization/by_customer", {"amount": 1, "customer_id": existing})
    assert auth.json()["response_code"] == 101
    unknown = api.post("/v1/transactions/sale/by_customer", {"amount": 1, "customer_id": "NOPE"})
    assert list(unknown.json()["errors"]) == ["30"]
    exported = api.post("/v1/customer/export", {"customer_id": "NEW-1"}).json()["customers"]
    assert exported[0]["credit_card"]["masked_number"] == "************1111"


def test_invalid_card_errors_together(api: Api) -> None:
    resp = api.post(
        "/v1/transactions/sale/keyed",
        {
            "amount": 1,
            "credit_card": {"number": "54545454545454", "expiration_month": 14, "expiration_year": 2030},
        },
    )
    assert resp.status_code == 400
    assert set(resp.json()["errors"]) == {"35", "43"}
    assert api.post("/v1/transactions/sale/keyed", {"amount": "abc", "credit_card": VISA}).status_code == 400


def test_the_pan_and_csc_are_never_kept(api: Api) -> None:
    pan = "4012000098765439"
    card = {"number": pan, "expiration_month": 1, "expiration_year": 2031}
    responses = [
        api.post("/v1/transactions/sale/keyed", {"amount": 3, "credit_card": card, "csc": "987"}).text,
        api.post("/v1/customer/create", {"customer_id": "PCI-1", "credit_card": card, "csc": "987"}).text,
    ]
    today = dt.datetime.now(api.server.sim.tz).date().strftime("%m/%d/%Y")
    responses.append(api.post(EXPORT, {"start_date": today, "end_date": today, "include_bin": True}).text)
    responses.append(api.post("/v1/customer/export", {"customer_id": "PCI-1", "include_bin": True}).text)
    state = json.dumps(dataclasses.asdict(api.server.config), default=str) + repr(vars(api.server._overlay))
    for text in [*responses, state]:
        assert pan not in text and "987" not in text.replace("0987", "")
    assert "401200******5439" in responses[2]


def test_admin_stats_and_reset(api: Api) -> None:
    api.post(EXPORT, WEEK)
    _sale(api, 1)
    stats = requests.get(f"{api.url}/_sandbox/stats", timeout=10).json()
    assert stats["paths"][EXPORT] == 1 and stats["overlay_records"] == 1
    assert requests.post(f"{api.url}/_sandbox/reset", timeout=10).json() == {"ok": True}
    assert requests.get(f"{api.url}/_sandbox/stats", timeout=10).json()["requests"] == 0
    # Tokens were forgotten too.
    assert api.post(EXPORT, WEEK).status_code == 401


def test_keep_alive_reuses_one_connection(api: Api) -> None:
    api.login()
    for _ in range(5):
        assert api.post(EXPORT, {"start_date": "04/01/2025", "end_date": "04/01/2025"}).status_code == 200
    pool = api.session.get_adapter(api.url).poolmanager
    conns = [p for p in pool.pools._container.values()]
    assert len(conns) == 1 and conns[0].num_connections == 1


# ----------------------------------------------------------------------------------- clock
def test_clock_dates_processing_calls(api: Api) -> None:
    """``POST /_sandbox/clock``: sales, captures, refunds, voids and settlements on chosen days."""

    def at(when: str | None) -> None:
        resp = requests.post(f"{api.url}/_sandbox/clock", json={"now": when}, timeout=10)
        assert resp.status_code == 200 and resp.json()["ok"] is True

    def on(day: str) -> list[dict]:
        return api.post(EXPORT, {"start_date": day, "end_date": day}).json()["transactions"]

    at("2025-05-01T09:30:00")
    sale = _sale(api, 40, invoice_id="INV-CLOCK").json()["transaction_id"]
    auth = _sale(api, 25, path="/v1/transactions/authorization/keyed").json()["transaction_id"]
    voided = _sale(api, 5).json()["transaction_id"]
    at("2025-05-02T10:00:00")
    assert api.post("/v1/transactions/void", {"transaction_id": voided}).json()["response_code"] == 109
    settled = api.post("/v1/transactions/settle", {}).json()["batch_number"]
    at("2025-05-06T08:00:00")
    refund = api.post(
        "/v1/transactions/refund/for_transaction", {"transaction_id": sale, "amount": 15}
    ).json()
    assert (
        api.post("/v1/transactions/authorization/capture", {"transaction_id": auth}).json()["response_code"]
        == 112
    )
    late = api.post("/v1/transactions/settle", {}).json()["batch_number"]

    first = {r["transaction_id"]: r for r in on("05/01/2025")}
    assert set(first) == {sale, auth, voided}
    assert first[sale]["created"]["at"] == "5/1/2025 9:30:00 AM"
    assert (
        first[sale]["status_code"] == f"GB{settled}"
        and first[voided]["status_message"] == shapes.STATUS_VOIDED[1]
    )
    # a capture keeps its authorization's created.at; it settles in the later batch
    assert first[auth]["status_code"] == f"GB{late}" and first[auth]["created"]["at"] == "5/1/2025 9:30:00 AM"
    assert [r["transaction_id"] for r in on("05/06/2025")] == [refund["transaction_id"]]
    batches = api.post("/v1/batches/export", {"start_date": "05/01/2025", "end_date": "05/31/2025"}).json()
    assert {b["number"]: b["created"] for b in batches["batches"]} == {
        settled: "5/2/2025 10:00:00 AM",
        late: "5/6/2025 8:00:00 AM",
    }
    assert (
        requests.get(f"{api.url}/_sandbox/stats", timeout=10).json()["clock"] == "2025-05-06T08:00:00-07:00"
    )
    bad = requests.post(f"{api.url}/_sandbox/clock", json={"now": "tomorrow"}, timeout=10)
    assert bad.status_code == 400
    at(None)
    assert api.server.clock() is None
