"""Airflow 3 UI page "PayTrace review": the review workbench (queue, suggestions, resolve, dismiss).

Mounted by Airflow's API server under ``/paytrace-sl-review`` and shown in the navigation. The queue is
sorted by age, then amount, and filtered by reason; each open item shows the best suggested SL customer
(with its score and the fields that agreed), a one-click "Resolve with suggestion" button that posts for
that customer, and Resolve / Dismiss forms that call the same library functions as
``paytrace-sl review resolve|dismiss``. The acting Airflow user is recorded on the item
(``airflow:<name>``). Everyone logged in may look; only users whom Airflow's own auth manager allows to
edit the project's DAGs (``PUT`` on the payments and replay DAGs) may act — others see the queue
read-only and a POST from them is refused (403).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from paytrace_sl.review.store import ReviewItem, list_items, reason_counts
from paytrace_sl.suggestion import Suggester, Suggestion
from paytrace_sl_airflow.page_support import sl_engines

URL_PREFIX = "/paytrace-sl-review"
EDIT_DAGS = ("paytrace_payments_to_sl", "paytrace_sl_replay")
PAGE_LIMIT = 200

_STYLE = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:20px;color:#222}
h1{font-size:20px}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
.status{padding:8px 12px;border-radius:4px;font-weight:bold;display:inline-block}
.ok{background:#e7f5e9;color:#1e6b2a}.bad{background:#fbeaea;color:#8a1f1f}.muted{color:#666;font-size:12px}
td.amount{text-align:right}input[type=text]{width:9em}form{display:inline-block;margin:2px 0}
nav a{margin-right:10px}
"""


@dataclass(frozen=True)
class Actor:
    """Who is looking at the page and whether Airflow lets them act."""

    name: str
    can_edit: bool


def actor_from(user: Any, auth_manager: Any, dag_ids: tuple[str, ...] = EDIT_DAGS) -> Actor:
    """An Airflow user as an :class:`Actor`: may act when the auth manager grants ``PUT`` on every DAG
    of ``dag_ids`` (edit rights, as for pausing or changing a DAG)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    can_edit = all(
        auth_manager.is_authorized_dag(method="PUT", details=DagDetails(id=dag_id), user=user)
        for dag_id in dag_ids
    )
    return Actor(name=str(user.get_name()), can_edit=bool(can_edit))


def airflow_actor() -> Callable[..., Actor]:
    """The FastAPI dependency: the logged-in Airflow user (JWT cookie or bearer token) as an Actor."""
    from airflow.api_fastapi.core_api.security import get_user

    # annotations stay resolvable for FastAPI (module-level names only): the user is Airflow's BaseUser
    def inner(user: Any = Depends(get_user)) -> Actor:  # noqa: B008
        from airflow.api_fastapi.app import get_auth_manager

        return actor_from(user, get_auth_manager())

    return inner


def _age(item: ReviewItem, now: dt.datetime) -> str:
    seconds = max(0, int(item.age(now).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60}m"


def _suggestion_text(s: Suggestion) -> str:
    return f"{s.cust_id} · score {s.score:.2f} ({s.source}; {', '.join(s.agreed)})"


def _row(item: ReviewItem, suggestions: list[Suggestion], actor: Actor, now: dt.datetime) -> str:
    payer = item.payer()
    best = suggestions[0] if suggestions else None
    amount = "" if item.amount is None else f"{item.amount:,.2f}"
    facts = [
        f"PayTrace customer {escape(payer.paytrace_customer_id or '(none)')}",
        *([escape(payer.name)] if payer.name else []),
        *([f"invoice {escape(payer.invoice)}"] if payer.invoice else []),
    ]
    if best is not None:
        others = "".join(f"<div class='muted'>{escape(_suggestion_text(s))}</div>" for s in suggestions[1:])
        hint = (
            f"<div id='suggest-{item.id}' data-cust='{escape(best.cust_id)}' data-score='{best.score:.2f}'>"
            f"{escape(_suggestion_text(best))}</div>{others}"
        )
    else:
        hint = "<span class='muted'>no suggestion</span>"
    if not actor.can_edit:
        actions = "<span class='muted'>view only: acting needs edit rights on the PayTrace DAGs</span>"
    else:
        cust = escape(best.cust_id) if best else ""
        invoice = escape(payer.invoice or "") if best is not None and "invoice" in best.agreed else ""
        resolvable = item.transaction_id is not None
        accept = (
            f"<form id='accept-{item.id}' method='post' action='items/{item.id}/resolve'>"
            f"<input type='hidden' name='customer' value='{cust}'>"
            f"<input type='hidden' name='invoice' value='{invoice}'>"
            f"<input type='hidden' name='suggested' value='1'>"
            f"<button type='submit' title='post for {cust} (score {best.score:.2f})'>"
            f"Resolve with suggestion {cust}</button></form>"
            if best is not None and resolvable
            else ""
        )
        actions = (
            accept
            + (
                f"<form id='resolve-{item.id}' method='post' action='items/{item.id}/resolve'>"
                f"<input type='text' name='customer' placeholder='SL customer' value='{cust}' required>"
                f"<input type='text' name='invoice' placeholder='invoice (optional)' value='{invoice}'>"
                f"<label><input type='checkbox' name='remember' value='1'> remember payer</label>"
                f"<button type='submit'>Resolve</button></form><br>"
                if resolvable
                else ""
            )
            + f"<form id='dismiss-{item.id}' method='post' action='items/{item.id}/dismiss'>"
            f"<input type='text' name='why' placeholder='why (for the auditor)' required>"
            f"<button type='submit'>Dismiss</button></form>"
        )
    return (
        f"<tr id='item-{item.id}' data-item='{item.id}'><td>{item.id}</td><td>{_age(item, now)}</td>"
        f"<td class='amount'>{amount}</td><td>{item.transaction_id or ''}</td>"
        f"<td><b>{escape(item.reason_code)}</b><div class='muted'>{escape(item.reason[:200])}</div></td>"
        f"<td>{'<br>'.join(facts)}</td><td>{hint}</td><td>{actions}</td></tr>"
    )


def render_queue(
    items: list[ReviewItem],
    suggestions: dict[int, list[Suggestion]],
    reasons: dict[str, int],
    actor: Actor,
    *,
    reason: str | None,
    message: str = "",
    error: str = "",
    now: dt.datetime | None = None,
) -> str:
    now = now or dt.datetime.now(dt.UTC)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>PayTrace review</title>"
        "<link rel='icon' href='data:,'>"
        f"<style>{_STYLE}</style></head><body><h1>PayTrace → SL review queue</h1>"
        f"<p class='muted'>Signed in as <b id='actor'>{escape(actor.name)}</b>"
        f"{'' if actor.can_edit else ' (view only)'}</p>"
    ]
    if message:
        parts.append(f"<p id='flash' class='status ok'>{escape(message)}</p>")
    if error:
        parts.append(f"<p id='flash' class='status bad'>{escape(error)}</p>")
    links = [f"<a href='./'{' class=current' if not reason else ''}>all ({sum(reasons.values())})</a>"]
    links += [
        f"<a href='./?{urlencode({'reason': code})}'>{escape(code)} ({n})</a>" for code, n in reasons.items()
    ]
    parts.append(f"<nav id='reasons'>{''.join(links)}</nav>")
    if not items:
        parts.append("<p id='empty' class='status ok'>No open review items.</p></body></html>")
        return "".join(parts)
    parts.append(
        "<table id='queue'><thead><tr><th>id</th><th>age</th><th>amount</th><th>PayTrace id</th>"
        "<th>reason</th><th>payer</th><th>suggested customer</th><th>action</th></tr></thead><tbody>"
    )
    parts += [_row(i, suggestions.get(i.id, []), actor, now) for i in items]
    parts.append("</tbody></table></body></html>")
    return "".join(parts)


def _same_origin(request: Request) -> None:
    """Refuse a cross-site form post (the JWT cookie is SameSite=Lax; this is a second guard)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(status_code=403, detail="cross-origin form post refused")


def create_review_app(
    *,
    sl_url: Callable[[], str] | str | None = None,
    pipeline_config: Callable[[], Any] | None = None,
    actor: Callable[..., Actor] | None = None,
    suggester: Callable[[sa.Engine], Suggester] | None = None,
) -> FastAPI:
    """The page's app. Defaults: SL URL and pipeline settings from the environment / Airflow connections
    (resolved per request), the logged-in Airflow user, :func:`paytrace_sl.review.suggest.default_suggester`.
    Tests pass ``actor`` (a dependency returning an :class:`Actor`) instead of a logged-in user."""
    from paytrace_sl.review.suggest import default_suggester
    from paytrace_sl.sl.own_tables import install

    actor_dep = actor or airflow_actor()
    build_suggester = suggester or default_suggester
    app = FastAPI(title="paytrace-sl review", docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter()
    engine = sl_engines(sl_url, prepare=install)  # the workbench writes: our tables first

    def config() -> Any:
        if pipeline_config is not None:
            return pipeline_config()
        from paytrace_sl_airflow.dag_support import pipeline_config as from_airflow

        return from_airflow("paytrace_sl_replay")

    def back(request: Request, **query: str) -> RedirectResponse:
        target = str(request.url_for("review_queue"))
        reason = request.query_params.get("reason")
        if reason:
            query = {"reason": reason, **query}
        return RedirectResponse(f"{target}?{urlencode(query)}" if query else target, status_code=303)

    @router.get("/", response_class=HTMLResponse, name="review_queue")
    def queue(request: Request, who: Actor = Depends(actor_dep)) -> HTMLResponse:  # noqa: B008
        reason = request.query_params.get("reason") or None
        eng = engine()
        items = list_items(eng, reason=reason)[:PAGE_LIMIT]
        hints = build_suggester(eng)
        suggestions = {i.id: hints.suggest(i.payer()) for i in items}
        html = render_queue(
            items,
            suggestions,
            reason_counts(eng),
            who,
            reason=reason,
            message=request.query_params.get("msg", ""),
            error=request.query_params.get("err", ""),
        )
        return HTMLResponse(html)

    @router.get("/api/items")
    def api_items(request: Request, who: Actor = Depends(actor_dep)) -> dict[str, Any]:  # noqa: B008
        eng = engine()
        items = list_items(eng, reason=request.query_params.get("reason") or None)
        hints = build_suggester(eng)
        return {
            "actor": {"name": who.name, "can_edit": who.can_edit},
            "items": [
                {
                    **i.to_json_dict(),
                    "suggestions": [
                        {"cust_id": s.cust_id, "score": s.score, "agreed": list(s.agreed), "source": s.source}
                        for s in hints.suggest(i.payer())
                    ],
                }
                for i in items
            ],
        }

    async def acting_form(request: Request, who: Actor) -> FormData:
        """The posted form of a user allowed to act (same origin, edit rights on the DAGs), else 403."""
        _same_origin(request)
        if not who.can_edit:
            raise HTTPException(
                status_code=403, detail="acting on review items needs edit rights on the DAGs"
            )
        return await request.form()

    @router.post("/items/{item_id}/resolve")
    async def resolve_item(
        item_id: int,
        request: Request,
        who: Actor = Depends(actor_dep),  # noqa: B008
    ) -> RedirectResponse:
        from starlette.concurrency import run_in_threadpool

        from paytrace_sl.review.resolve import resolve
        from paytrace_sl.review.store import ReviewError

        form = await acting_form(request, who)
        customer = str(form.get("customer") or "").strip()
        invoice = str(form.get("invoice") or "").strip() or None
        remember = str(form.get("remember") or "") == "1"
        why = "resolved with the suggested customer" if str(form.get("suggested") or "") == "1" else None
        try:
            result = await run_in_threadpool(
                lambda: resolve(
                    config(),
                    item_id,
                    cust_id=customer,
                    invoice=invoice,
                    remember=remember,
                    who=f"airflow:{who.name}",
                    why=why,
                )
            )
        except ReviewError as exc:
            return back(request, err=f"item {item_id}: {exc}")
        note = " (payer remembered)" if result.remembered else ""
        return back(request, msg=f"item {item_id} resolved: {result.posted}{note}")

    @router.post("/items/{item_id}/dismiss")
    async def dismiss_item(
        item_id: int,
        request: Request,
        who: Actor = Depends(actor_dep),  # noqa: B008
    ) -> RedirectResponse:
        from paytrace_sl.review.store import ReviewError, dismiss

        form = await acting_form(request, who)
        try:
            item = dismiss(engine(), item_id, who=f"airflow:{who.name}", why=str(form.get("why") or ""))
        except ReviewError as exc:
            return back(request, err=f"item {item_id}: {exc}")
        return back(request, msg=f"item {item_id} dismissed: {item.closed_why}")

    app.include_router(router)
    return app
