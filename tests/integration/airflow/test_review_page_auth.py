"""Who may act on the review page is Airflow's own auth manager's decision (JWT cookie, SimpleAuthManager):
anonymous → 401; a viewer sees the queue read-only and a form post from them is refused (403); a user
with edit rights on the DAGs (role ``op``) acts, and the item records them as ``airflow:<name>``."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paytrace_sl.review.store import get_item
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import install, xPTReview

pytestmark = pytest.mark.integration


def _item(url: str) -> int:
    engine = create_sl_engine(url)
    install(engine)
    with engine.begin() as conn:
        item_id = conn.execute(
            sa.insert(xPTReview)
            .values(
                transaction_id=81234567,
                reason_code="unknown_customer",
                reason="PayTrace customer 'C-9' not found in SL",
                details='{"amount": "12.50", "customer_id": "C-9"}',
                run_id="test",
                created_at=dt.datetime(2025, 4, 2, 12, tzinfo=dt.UTC),
            )
            .returning(xPTReview.c.id)
        ).scalar_one()
    engine.dispose()
    return int(item_id)


def _client(app: Any, token: str | None) -> TestClient:
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    client = TestClient(app, follow_redirects=False)
    if token:
        client.cookies.set(COOKIE_NAME_JWT_TOKEN, token)
    return client


def test_only_dag_editors_act_and_are_recorded(
    airflow_db: Path, sl_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from paytrace_sl_airflow.review_page import create_review_app

    item_id = _item(sl_sqlite_url)
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(32))  # a key of proper length
    manager = create_auth_manager()
    assert isinstance(manager, SimpleAuthManager)
    viewer = manager.generate_jwt(SimpleAuthManagerUser(username="vic", role="viewer"))
    operator = manager.generate_jwt(SimpleAuthManagerUser(username="olga", role="op"))
    app = create_review_app(sl_url=sl_sqlite_url)  # the production dependency: Airflow's logged-in user

    anonymous = _client(app, None)
    assert anonymous.get("/").status_code == 401
    assert anonymous.post(f"/items/{item_id}/dismiss", data={"why": "x"}).status_code == 401

    looking = _client(app, viewer)
    page = looking.get("/")
    assert page.status_code == 200 and f"id='item-{item_id}'" in page.text
    assert "(view only)" in page.text and f"id='dismiss-{item_id}'" not in page.text
    assert looking.post(f"/items/{item_id}/dismiss", data={"why": "x"}).status_code == 403
    assert looking.post(f"/items/{item_id}/resolve", data={"customer": "C1"}).status_code == 403
    assert get_item(create_sl_engine(sl_sqlite_url), item_id).is_open

    acting = _client(app, operator)
    page = acting.get("/")
    assert f"id='dismiss-{item_id}'" in page.text and "(view only)" not in page.text
    cross_site = acting.post(
        f"/items/{item_id}/dismiss", data={"why": "x"}, headers={"origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    done = acting.post(f"/items/{item_id}/dismiss", data={"why": "card test by the merchant"})
    assert done.status_code == 303 and "dismissed" in done.headers["location"]
    item = get_item(create_sl_engine(sl_sqlite_url), item_id)
    assert (item.closed_how, item.resolved_by, item.closed_why) == (
        "dismissed",
        "airflow:olga",
        "card test by the merchant",
    )
