"""A real HTTP server that speaks PayTrace's v1 JSON API over a generated merchant.

Built on the stdlib ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive: no extra dependency, one thread per
connection, and large exports are streamed with chunked transfer encoding straight from the lazy
generator (a 1M-record window never exists in memory). Processing calls (sale, capture, refund, void,
settle, customer create) change an in-memory overlay on top of the generated data; the overlay holds
only masked card numbers, never the PAN or CSC it was sent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from paytrace_sl.paytrace.timefmt import format_paytrace_datetime, parse_request_date
from paytrace_sl_sandbox import recurring, shapes
from paytrace_sl_sandbox.faults import FaultConfig, FaultInjector
from paytrace_sl_sandbox.fraud_patterns import FraudInjection, inject_all
from paytrace_sl_sandbox.merchant import (
    MerchantConfig,
    MerchantSimulation,
    brand_of_masked,
    cents_to_json,
    summarize_batch,
)

log = logging.getLogger(__name__)

TRANSACTION_TYPE_FILTERS = (
    "SALE",
    "AUTHORIZATION",
    "STR/FWD",
    "REFUND",
    "VOID",
    "SETTLED",
    "PENDING",
    "DECLINED",
)
_CHUNK = 64 * 1024


@dataclass
class SandboxConfig:
    merchant: MerchantConfig = field(default_factory=MerchantConfig)
    username: str = "sandbox"
    password: str = "sandbox-password"  # noqa: S105 - sandbox-only credential
    integrator_id: str = "SANDBOXINT01"
    require_integrator_id: bool = False
    token_ttl: int = 7200
    bad_records: bool = False  # overrides merchant.bad_records when True
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Sandbox clock: when set, "now" for processing calls (sale, capture, refund, void, settle) is this
    # merchant-local time instead of the wall clock, so tests create events on chosen dates.
    clock: dt.datetime | None = None
    # Serve extra vault customers whose ids differ from SL's, with noise (sandbox/vault.py): what
    # assisted customer matching is measured on. Off by default (the plain vault is unchanged).
    vault_noise: bool = False
    # Labelled fraud patterns added to the generated days (off by default); the labels are served by the
    # admin endpoint GET /_sandbox/fraud_labels, never in API answers (sandbox/fraud_patterns.py).
    fraud: FraudInjection = field(default_factory=FraudInjection)


class ApiError(Exception):
    """A PayTrace-shaped failure: HTTP status + JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("status_message") or body.get("error") or str(status))
        self.status = status
        self.body = body
        self.headers = headers or {}


def validation_error(*errors: tuple[str, str], **extra: Any) -> ApiError:
    """The §3.5 error envelope: HTTP 400, success false, response_code 1, errors {code: [msg]}."""
    body: dict[str, Any] = {
        "success": False,
        "response_code": 1,
        "status_message": shapes.ERROR_MESSAGE,
        "errors": {code: [msg] for code, msg in errors},
    }
    body.update(extra)
    body["external_transaction_id"] = ""
    return ApiError(400, body)


def _remask(masked_bin: str, include_bin: bool) -> str:
    return masked_bin if include_bin else "*" * (len(masked_bin) - 4) + masked_bin[-4:]


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class _Overlay:
    """Everything processing calls changed: new records, changed generated records, new batches, customers."""

    def __init__(self, sim: MerchantSimulation) -> None:
        self.sim = sim
        self.next_id = sim.next_free_id()
        self.next_batch = sim.next_free_batch_number()
        self.records: dict[int, dict[str, Any]] = {}  # overlay-created records (masked_number kept WITH bin)
        self.overrides: dict[int, dict[str, Any]] = {}  # changed generated records (masked WITH bin)
        self.record_day: dict[int, dt.date] = {}  # overlay record -> local creation date
        self.refunded_cents: dict[int, int] = {}
        self.batches: list[tuple[dict[str, Any], list[int]]] = []  # (summary with brands, member ids)
        self.customers: dict[str, dict[str, Any]] = {}
        self.pending_generated_folded = False


class SandboxServer:
    """The sandbox. Use as a context manager or call ``start()``/``stop()``; ``url`` is set once started."""

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        merchant = self.config.merchant
        if self.config.bad_records and not merchant.bad_records:
            from dataclasses import replace

            merchant = replace(merchant, bad_records=True)
        self.sim = MerchantSimulation(merchant)
        self.faults = FaultInjector(self.config.faults)
        self._lock = threading.RLock()
        self._tokens: dict[str, list[float]] = {}  # token -> [expires_monotonic, calls]
        self._overlay = _Overlay(self.sim)
        self._fraud_labels: dict[int, str] = {}
        self._inject_fraud()
        self.recurring = recurring.RecurringBook()
        self._path_counts: dict[str, int] = {}
        self._status_counts: dict[str, int] = {}
        self._httpd = _HTTPServer((host, port), _Handler, self)
        self.host: str = str(self._httpd.server_address[0])
        self.port: int = int(self._httpd.server_address[1])
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None
        self._serving = False
        self._clock: dt.datetime | None = None
        self.set_clock(self.config.clock)

    # --------------------------------------------------------------------------- lifecycle
    def start(self) -> SandboxServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.2},
                name=f"paytrace-sandbox-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Run in the calling thread (the CLI); returns after ``stop()`` from another thread/signal."""
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._serving = False

    def stop(self) -> None:
        if self._thread is not None or self._serving:
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --------------------------------------------------------------------------- admin
    def set_faults(self, faults: FaultConfig) -> None:
        self.faults.set(faults)

    def set_clock(self, when: dt.datetime | None) -> None:
        """Freeze "now" at ``when`` (naive = merchant-local time); ``None`` goes back to the wall clock.

        Only processing calls read the clock: records created, captured, refunded, voided or settled
        afterwards carry this time (``created.at``, ``settled``, the batch's ``created``). A capture keeps
        its authorization's ``created.at``, as PayTrace does.
        """
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=self.sim.tz)
        with self._lock:
            self._clock = when.astimezone(self.sim.tz).replace(microsecond=0) if when is not None else None

    def clock(self) -> dt.datetime | None:
        with self._lock:
            return self._clock

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._path_counts.values()),
                "paths": dict(self._path_counts),
                "statuses": dict(self._status_counts),
                "faults_injected": self.faults.injected,
                "faults_by_mode": dict(self.faults.injected_by_mode),
                "fault_config": self.faults.config.to_json(),
                "tokens_issued": len(self._tokens),
                "overlay_records": len(self._overlay.records),
                "clock": self._clock.isoformat() if self._clock is not None else None,
            }

    def _inject_fraud(self) -> None:
        """Add the configured fraud incidents to the overlay (as new records) and keep their labels.

        The pending ones of each day but the last settle that evening in a batch of their own (fraud
        money settles like any other; the generated batches stay exactly as they are)."""
        with self._lock:
            self._fraud_labels = {}
            by_day: dict[dt.date, list[dict[str, Any]]] = {}
            for day, rec, label in inject_all(self.sim, self.config.fraud, self._new_id):
                tid = int(rec["transaction_id"])
                self._overlay.records[tid] = rec
                self._overlay.record_day[tid] = day
                self._fraud_labels[tid] = label
                if rec["status_code"] == shapes.STATUS_PENDING[0] and day < self.sim.end:
                    by_day.setdefault(day, []).append(rec)
            ov = self._overlay
            for day, pending in sorted(by_day.items()):
                number = ov.next_batch
                ov.next_batch += 1
                stamp = self._stamp(self.sim.settle_time(day) + dt.timedelta(minutes=20))
                items = []
                for rec in pending:
                    rec["status_code"], rec["status_message"] = f"GB{number}", shapes.SETTLED_STATUS_MESSAGE
                    rec["settled"] = stamp
                    items.append(
                        (
                            rec["transaction_type"],
                            brand_of_masked(rec["credit_card"]["masked_number"]),
                            _cents(rec["amount"]) or 0,
                        )
                    )
                ov.batches.append(
                    (summarize_batch(number, stamp, items), [int(r["transaction_id"]) for r in pending])
                )

    def fraud_labels(self) -> dict[int, str]:
        """Ground truth of the injected fraud: transaction id → pattern (empty when injection is off)."""
        with self._lock:
            return dict(self._fraud_labels)

    def reset(self) -> None:
        """Forget processing changes, tokens, counters and faults: back to the generated merchant."""
        with self._lock:
            self._tokens.clear()
            self._overlay = _Overlay(self.sim)
            self._inject_fraud()
            self.recurring = recurring.RecurringBook()
            self._path_counts.clear()
            self._status_counts.clear()
        self.faults.reset()
        self.set_clock(self.config.clock)

    def _count(self, path: str, status: int) -> None:
        with self._lock:
            self._path_counts[path] = self._path_counts.get(path, 0) + 1
            self._status_counts[str(status)] = self._status_counts.get(str(status), 0) + 1

    # --------------------------------------------------------------------------- auth
    def issue_token(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "password":
            raise ApiError(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "The authorization grant type is not supported.",
                },
            )
        if not (
            secrets.compare_digest(form.get("username", ""), self.config.username)
            and secrets.compare_digest(form.get("password", ""), self.config.password)
        ):
            raise ApiError(
                401, {"error": "invalid_grant", "error_description": shapes.INVALID_GRANT_DESCRIPTION}
            )
        token = f"{secrets.token_hex(8)}:{secrets.token_hex(8)}:{secrets.token_hex(32)}"
        with self._lock:
            self._tokens[token] = [time.monotonic() + self.config.token_ttl, 0]
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.config.token_ttl,
            "created_at": int(time.time()),
        }

    def check_token(self, path: str, header: str | None) -> None:
        invalid = ApiError(
            401,
            {"error": "invalid_token", "error_description": shapes.INVALID_TOKEN_DESCRIPTION},
            {"WWW-Authenticate": 'Bearer realm="PayTrace", error="invalid_token"'},
        )
        if not header or not header.startswith("Bearer "):
            raise invalid
        token = header[len("Bearer ") :].strip()
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None or entry[0] < time.monotonic():
                raise invalid
            entry[1] += 1
            calls = int(entry[1])
        if self.faults.token_should_expire(path, calls):
            with self._lock:
                self._tokens.get(token, [0.0, 0])[0] = 0.0  # dead for good
            raise invalid

    # --------------------------------------------------------------------------- helpers
    def _now(self) -> dt.datetime:
        with self._lock:
            if self._clock is not None:
                return self._clock
        return dt.datetime.now(self.sim.tz).replace(microsecond=0)

    def _stamp(self, when: dt.datetime) -> str:
        return format_paytrace_datetime(when, self.sim.tz)

    def _find(self, tid: int) -> tuple[dict[str, Any], bool] | None:
        """A record (masked WITH bin) by id and whether it is an overlay record; None if unknown."""
        ov = self._overlay
        if tid in ov.records:
            return ov.records[tid], True
        if tid in ov.overrides:
            return ov.overrides[tid], False
        row = self.sim.row_by_id(tid, include_bin=True)
        return (row.to_dict(), False) if row is not None else None

    def _store(self, rec: dict[str, Any], overlay_record: bool) -> None:
        tid = int(rec["transaction_id"])
        if overlay_record:
            self._overlay.records[tid] = rec
        else:
            self._overlay.overrides[tid] = rec

    def _new_id(self) -> int:
        ov = self._overlay
        tid = ov.next_id
        ov.next_id += 1
        return tid

    def _api_created(self, when: dt.datetime) -> dict[str, Any]:
        """The ``created`` block of a record made through this API at ``when``."""
        return {"through": "API", "at": self._stamp(when), "by": self.config.username, "from_ip": "127.0.0.1"}

    def _derived_record(self, orig: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """A new overlay record copied from ``orig`` (a refund or a void record): a fresh id, no tax,
        ``fields`` changed, created now through the API. The caller holds the lock."""
        now = self._now()
        new_id = self._new_id()
        rec: dict[str, Any] = json.loads(json.dumps(orig))
        rec.update(fields, transaction_id=new_id, tax_amount="0.00", created=self._api_created(now))
        self._overlay.records[new_id] = rec
        self._overlay.record_day[new_id] = now.date()
        return rec

    # --------------------------------------------------------------------------- exports
    def export_by_date_range(self, body: dict[str, Any]) -> tuple[dict[str, Any], str, Iterator[str]]:
        start, end = self._date_range(body)
        include_bin = bool(body.get("include_bin", False))
        ttype = body.get("transaction_type")
        if ttype not in (None, ""):
            ttype = str(ttype).upper()
            if ttype not in TRANSACTION_TYPE_FILTERS:
                raise validation_error(shapes.ERR_TRANSACTION_TYPE)
        want_id = body.get("transaction_id")
        if want_id not in (None, "", 0):
            try:
                want_id = int(want_id)
            except (TypeError, ValueError):
                raise validation_error(shapes.ERR_TRANSACTION_ID) from None
        else:
            want_id = None
        customer_id = body.get("customer_id") or None
        text = body.get("including_text") or None
        match = _matcher(ttype, want_id, customer_id)
        return self._envelope(), "transactions", self._stream_range(start, end, include_bin, match, text)

    def _date_range(self, body: dict[str, Any]) -> tuple[dt.date, dt.date]:
        errors = []
        dates: list[dt.date] = []
        for key, err in (("start_date", shapes.ERR_START_DATE), ("end_date", shapes.ERR_END_DATE)):
            try:
                dates.append(parse_request_date(body.get(key)))  # type: ignore[arg-type]
            except (ValueError, TypeError):
                errors.append(err)
        if errors:
            raise validation_error(*errors)
        return dates[0], dates[1]

    def _stream_range(
        self, start: dt.date, end: dt.date, include_bin: bool, match: Callable[..., bool], text: str | None
    ) -> Iterator[str]:
        sim = self.sim
        with self._lock:
            overrides = dict(self._overlay.overrides)
            extras = [
                (rec, self._overlay.record_day[tid]) for tid, rec in sorted(self._overlay.records.items())
            ]
        first = max(start, sim.config.start)
        last = min(end, sim.end)
        day = first
        while day <= last:
            for row in sim.rows_for_day(day, include_bin):
                if overrides and row.transaction_id in overrides:
                    rec = _masked_copy(overrides[row.transaction_id], include_bin)
                    if match(
                        rec["transaction_type"],
                        rec["status_code"],
                        rec["status_message"],
                        rec["customer_id"],
                        rec["transaction_id"],
                    ):
                        text_json = json.dumps(rec, separators=(",", ":"))
                        if text is None or text in text_json:
                            yield text_json
                    continue
                if match(
                    row.transaction_type,
                    row.status_code,
                    row.status_message,
                    row.customer_id,
                    row.transaction_id,
                ):
                    out = row.to_json()
                    if text is None or text in out:
                        yield out
            day += dt.timedelta(days=1)
        for rec, rday in extras:
            if start <= rday <= end:
                rec = _masked_copy(rec, include_bin)
                if match(
                    rec["transaction_type"],
                    rec["status_code"],
                    rec["status_message"],
                    rec["customer_id"],
                    rec["transaction_id"],
                ):
                    out = json.dumps(rec, separators=(",", ":"))
                    if text is None or text in out:
                        yield out

    def export_by_id(self, body: dict[str, Any]) -> dict[str, Any]:
        tid = _transaction_id(body)
        with self._lock:
            found = self._find(tid)
        if found is None:
            raise validation_error(shapes.ERR_TRANSACTION_ID)
        rec = _masked_copy(found[0], bool(body.get("include_bin", False)))
        return {**self._envelope(), "transactions": [rec], "external_transaction_id": ""}

    def _envelope(self) -> dict[str, Any]:
        return {"success": True, "response_code": 1, "status_message": shapes.EXPORT_OK_MESSAGE}

    def _all_batches(
        self, start: dt.date | None = None, end: dt.date | None = None
    ) -> Iterator[dict[str, Any]]:
        """Generated batches (settled on days in [start, end]) followed by overlay batches."""
        sim = self.sim
        lo = max(start or sim.config.start, sim.config.start)
        hi = min(end or sim.end, sim.end)
        if lo <= hi:
            for day in _days(lo, hi):
                yield sim.settled_batch(day)
        with self._lock:
            overlay = [b for b, _ in self._overlay.batches]
        for summary in overlay:
            day = _stamp_day(summary[shapes.BATCH_FIELDS["created"]], sim)
            if (start is None or day >= start) and (end is None or day <= end):
                yield summary

    def batches_export(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = self._date_range(body)
        rows = []
        for summary in self._all_batches(start, end):
            if not shapes.BATCH_LIST_INCLUDES_BRANDS:
                summary = {k: v for k, v in summary.items() if k not in shapes.BATCH_BRANDS}
            rows.append(summary)
        return {**self._envelope(), "batches": rows}

    def batches_export_one(self, body: dict[str, Any]) -> dict[str, Any]:
        number = body.get("batch_number")
        if number in (None, ""):
            with self._lock:
                latest_overlay = self._overlay.batches[-1][0] if self._overlay.batches else None
            if latest_overlay is not None:
                return {**self._envelope(), "batch": latest_overlay}
            if self.sim.config.days == 0:
                raise validation_error(shapes.ERR_BATCH_NUMBER)
            number = self.sim.batch_number(self.sim.end)
        summary = self._batch_by_number(_int_or_error(number, shapes.ERR_BATCH_NUMBER))
        return {**self._envelope(), "batch": summary}

    def _batch_by_number(self, number: int) -> dict[str, Any]:
        day = self.sim.batch_day(number)
        if day is not None:
            return self.sim.settled_batch(day)
        with self._lock:
            for summary, _ in self._overlay.batches:
                if summary[shapes.BATCH_FIELDS["number"]] == number:
                    return summary
        raise validation_error(shapes.ERR_BATCH_NUMBER)

    def batch_transaction_list(self, body: dict[str, Any]) -> tuple[dict[str, Any], str, Iterator[str]]:
        number = _int_or_error(body.get("batch_number"), shapes.ERR_BATCH_NUMBER)
        include_bin = bool(body.get("include_bin", False))
        day = self.sim.batch_day(number)
        if day is not None:
            stream: Iterator[str] = (r.to_json() for r in self.sim.batch_rows(day, include_bin))
            return self._envelope(), "transactions", stream
        with self._lock:
            for _summary, ids in self._overlay.batches:
                if _summary[shapes.BATCH_FIELDS["number"]] == number:
                    recs = [_masked_copy(self._find(tid)[0], include_bin) for tid in ids]  # type: ignore[index]
                    return (
                        self._envelope(),
                        "transactions",
                        (json.dumps(r, separators=(",", ":")) for r in recs),
                    )
        raise validation_error(shapes.ERR_BATCH_NUMBER)

    def customer_export(self, body: dict[str, Any]) -> dict[str, Any]:
        include_bin = bool(body.get("include_bin", False))
        rows = self.sim.customer_records(include_bin)
        if self.config.vault_noise:
            from paytrace_sl_sandbox.vault import sandbox_vault

            rows += sandbox_vault(self.sim).records
        with self._lock:
            rows += [_masked_copy(c, include_bin) for c in self._overlay.customers.values()]
        wanted = body.get("customer_id")
        if wanted:
            rows = [r for r in rows if r["customer_id"] == str(wanted)]
            if not rows:
                raise validation_error(
                    (
                        shapes.ERR_CUSTOMER_NOT_FOUND[0],
                        shapes.ERR_CUSTOMER_NOT_FOUND[1].format(customer_id=wanted),
                    )
                )
        return {**self._envelope(), "customers": rows}

    # --------------------------------------------------------------------------- processing
    def _customer_card(self, customer_id: str) -> tuple[str, int, int, str]:
        """(masked WITH bin, exp month, exp year, billing name) of a vault customer, or error 30."""
        with self._lock:
            c = self._overlay.customers.get(customer_id)
        if c is None:
            for rec in self.sim.customer_records(include_bin=True):
                if rec["customer_id"] == customer_id:
                    c = rec
                    break
        if c is None:
            raise validation_error(
                (
                    shapes.ERR_CUSTOMER_NOT_FOUND[0],
                    shapes.ERR_CUSTOMER_NOT_FOUND[1].format(customer_id=customer_id),
                )
            )
        cc = c["credit_card"]
        return (
            cc["masked_number"],
            cc["expiration_month"],
            cc["expiration_year"],
            c["billing_address"]["name"],
        )

    def process_new(self, body: dict[str, Any], ttype: str, by_customer: bool) -> dict[str, Any]:
        """sale/keyed, sale/by_customer, authorization/keyed, authorization/by_customer."""
        errors: list[tuple[str, str]] = []
        cents = _cents(body.get("amount"))
        if cents is None or cents <= 0:
            errors.append(shapes.ERR_AMOUNT)
        customer_id = ""
        if by_customer:
            customer_id = str(body.get("customer_id") or "")
            if errors:
                raise validation_error(*errors)
            masked, exp_m, exp_y, name = self._customer_card(customer_id)
        else:
            masked, exp_m, exp_y, card_errors = _read_card(body.get("credit_card"))
            errors += card_errors
            if errors:
                raise validation_error(*errors)
            name = str((body.get("billing_address") or {}).get("name", ""))
        assert cents is not None
        now = self._now()
        declined = cents == shapes.MAGIC_DECLINE_AMOUNT_CENTS
        billing = body.get("billing_address") or {}
        with self._lock:
            tid = self._new_id()
            status = (
                shapes.STATUS_DECLINED
                if declined
                else shapes.STATUS_AUTH_ONLY
                if ttype == "AUTHORIZATION"
                else shapes.STATUS_PENDING
            )
            approval_code = "" if declined else f"TAS{tid % 1000:03d}"
            approval_message = (
                shapes.MAGIC_DECLINE_APPROVAL if declined else "EXACT MATCH - Approved and completed"
            )
            rec = {
                "transaction_id": tid,
                "credit_card": {"masked_number": masked, "expiration_month": exp_m, "expiration_year": exp_y},
                "transaction_type": ttype,
                "description": str(body.get("description", "")),
                "amount": cents_to_json(cents),
                "invoice_id": str(body.get("invoice_id", "")),
                "shipping_address": {
                    "name": "",
                    "street_address": "",
                    "street_address2": "",
                    "city": "",
                    "county": "",
                    "state": "",
                    "zip": "",
                    "country": "",
                },
                "billing_address": _billing_address(billing, name),
                "receipt_emailed_to": "",
                "tax_amount": _tax_string(body.get("tax_amount")),
                "customer_reference_id": str(body.get("customer_reference_id", "")),
                "approval_code": approval_code,
                "approval_message": approval_message,
                "avs_response": "Full Exact Match",
                "csc_response": "Match" if body.get("csc") else "",
                "status_code": status[0],
                "status_message": status[1],
                "created": self._api_created(now),
                "settled": shapes.UNSETTLED_SETTLED_VALUE,
                "customer_id": customer_id,
            }
            self._overlay.records[tid] = rec
            self._overlay.record_day[tid] = now.date()
        resp = {
            "success": not declined,
            "response_code": 102 if declined else 101,
            "status_message": shapes.DECLINED_MESSAGE if declined else shapes.APPROVED_MESSAGE,
            "transaction_id": tid,
            "approval_code": approval_code,
            "approval_message": approval_message,
            "avs_response": "Full Exact Match",
            "csc_response": rec["csc_response"],
            "external_transaction_id": "",
            "masked_card_number": "x" * (len(masked) - 4) + masked[-4:],
        }
        if declined:
            raise ApiError(400, resp)
        return resp

    def capture(self, body: dict[str, Any]) -> dict[str, Any]:
        tid = _transaction_id(body)
        with self._lock:
            found = self._find(tid)
            if found is None:
                raise validation_error(shapes.ERR_TRANSACTION_ID)
            rec, is_overlay = dict(found[0]), found[1]
            if (
                rec["transaction_type"] != "AUTHORIZATION"
                or (rec["status_code"], rec["status_message"]) != shapes.STATUS_AUTH_ONLY
            ):
                raise validation_error(shapes.ERR_CAPTURE)
            auth_cents = _cents(rec["amount"]) or 0
            cents = auth_cents if body.get("amount") in (None, "") else _cents(body.get("amount"))
            if cents is None or cents <= 0 or cents > auth_cents:
                raise validation_error(shapes.ERR_AMOUNT)
            rec["amount"] = cents_to_json(cents)
            rec["status_code"], rec["status_message"] = shapes.STATUS_PENDING
            self._store(rec, is_overlay)
            if not is_overlay:
                self._overlay.record_day.setdefault(tid, self.sim.day_of_id(tid) or self._now().date())
        return {
            "success": True,
            "response_code": 112,
            "status_message": shapes.CAPTURED_MESSAGE,
            "transaction_id": tid,
            "external_transaction_id": "",
        }

    def refund(self, body: dict[str, Any]) -> dict[str, Any]:
        tid = _transaction_id(body)
        with self._lock:
            found = self._find(tid)
            if found is None:
                raise validation_error(shapes.ERR_TRANSACTION_ID)
            orig = found[0]
            if orig["transaction_type"] not in ("SALE", "AUTHORIZATION") or not str(
                orig["status_code"]
            ).startswith("GB"):
                raise validation_error(shapes.ERR_REFUND_UNSETTLED)
            orig_cents = _cents(orig["amount"]) or 0
            remaining = orig_cents - self._overlay.refunded_cents.get(tid, 0)
            cents = remaining if body.get("amount") in (None, "") else _cents(body.get("amount"))
            if cents is None or cents <= 0 or cents > remaining:
                raise validation_error(shapes.ERR_AMOUNT)
            self._overlay.refunded_cents[tid] = self._overlay.refunded_cents.get(tid, 0) + cents
            rec = self._derived_record(
                orig,
                transaction_type="REFUND",
                amount=cents_to_json(cents),
                status_code=shapes.STATUS_PENDING[0],
                status_message=shapes.STATUS_PENDING[1],
                settled=shapes.UNSETTLED_SETTLED_VALUE,
            )
            new_id = rec["transaction_id"]
            rec["approval_code"] = f"TAS{new_id % 1000:03d}"
        return {
            "success": True,
            "response_code": 106,
            "status_message": shapes.REFUNDED_MESSAGE,
            "transaction_id": new_id,
            "external_transaction_id": "",
        }

    def void(self, body: dict[str, Any]) -> dict[str, Any]:
        tid = _transaction_id(body)
        with self._lock:
            found = self._find(tid)
            if found is None:
                raise validation_error(shapes.ERR_TRANSACTION_ID)
            rec, is_overlay = dict(found[0]), found[1]
            if str(rec["status_code"]).startswith("GB"):
                raise validation_error(shapes.ERR_VOID_SETTLED)
            if (rec["status_code"], rec["status_message"]) != shapes.STATUS_PENDING and (
                rec["status_code"],
                rec["status_message"],
            ) != shapes.STATUS_AUTH_ONLY:
                raise ApiError(
                    400,
                    {
                        "success": False,
                        "response_code": 110,
                        "status_message": "Your transaction was not voided.",
                        "transaction_id": tid,
                        "external_transaction_id": "",
                    },
                )
            rec["status_code"], rec["status_message"] = shapes.STATUS_VOIDED
            self._store(rec, is_overlay)
            if self.sim.config.void_records:
                self._derived_record(rec, transaction_type="VOID")
        return {
            "success": True,
            "response_code": 109,
            "status_message": shapes.VOIDED_MESSAGE,
            "transaction_id": tid,
            "external_transaction_id": "",
        }

    def settle(self, body: dict[str, Any]) -> dict[str, Any]:
        """Close a batch now: every pending ("Y") record, generated or overlay, becomes GB<next>."""
        with self._lock:
            ov = self._overlay
            if not ov.pending_generated_folded and self.sim.config.days > 0:
                # The last generated day's after-cut-off records are still pending: settle them too.
                for row in self.sim.rows_for_day(self.sim.end, include_bin=True):
                    if row.status_code == shapes.STATUS_PENDING[0] and row.transaction_id not in ov.overrides:
                        ov.overrides[row.transaction_id] = row.to_dict()
                ov.pending_generated_folded = True
            pending = [
                rec
                for rec in [*ov.overrides.values(), *ov.records.values()]
                if rec.get("status_code") == shapes.STATUS_PENDING[0]
            ]
            pending.sort(key=lambda r: int(r["transaction_id"]))
            number = ov.next_batch
            ov.next_batch += 1
            now = self._now()
            stamp = self._stamp(now)
            items = []
            for rec in pending:
                rec["status_code"], rec["status_message"] = f"GB{number}", shapes.SETTLED_STATUS_MESSAGE
                rec["settled"] = stamp
                items.append(
                    (
                        rec["transaction_type"],
                        brand_of_masked(rec["credit_card"]["masked_number"]),
                        _cents(rec["amount"]) or 0,
                    )
                )
            summary = summarize_batch(number, stamp, items)
            ov.batches.append((summary, [int(r["transaction_id"]) for r in pending]))
        return {
            "success": True,
            "response_code": 175,
            "status_message": shapes.SETTLED_MESSAGE,
            "batch_number": number,
            "transaction_count": len(pending),
            "external_transaction_id": "",
        }

    def create_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        customer_id = str(body.get("customer_id") or "").strip()
        errors: list[tuple[str, str]] = []
        masked, exp_m, exp_y, card_errors = _read_card(body.get("credit_card"))
        errors += card_errors
        if not customer_id:
            errors.append((shapes.ERR_CUSTOMER_NOT_FOUND[0], "Please provide a valid Customer ID."))
        with self._lock:
            existing = {c.customer_id for c in self.sim.customers()} | set(self._overlay.customers)
            if customer_id and customer_id in existing:
                errors.append(shapes.ERR_DUPLICATE_CUSTOMER)
            if errors:
                raise validation_error(*errors)
            billing = body.get("billing_address") or {}
            self._overlay.customers[customer_id] = {
                "customer_id": customer_id,
                "credit_card": {"masked_number": masked, "expiration_month": exp_m, "expiration_year": exp_y},
                "billing_address": _billing_address(billing, str(billing.get("name", ""))),
                "email": str(body.get("email", "")),
                "phone": str(body.get("phone", "")),
                "created": {"at": self._stamp(self._now()), "by": self.config.username},
            }
        return {
            "success": True,
            "response_code": 160,
            "status_message": shapes.CUSTOMER_CREATED_MESSAGE.format(customer_id=customer_id),
            "customer_id": customer_id,
            "masked_card_number": "x" * (len(masked) - 4) + masked[-4:],
            "external_transaction_id": "",
        }


# ------------------------------------------------------------------------------- small pure helpers
def _days(lo: dt.date, hi: dt.date) -> Iterator[dt.date]:
    day = lo
    while day <= hi:
        yield day
        day += dt.timedelta(days=1)


def _stamp_day(stamp: str, sim: MerchantSimulation) -> dt.date:
    from paytrace_sl.paytrace.timefmt import parse_paytrace_datetime

    return parse_paytrace_datetime(stamp, sim.tz).date()


def _masked_copy(rec: dict[str, Any], include_bin: bool) -> dict[str, Any]:
    out = dict(rec)
    cc = dict(rec["credit_card"])
    cc["masked_number"] = _remask(cc["masked_number"], include_bin)
    out["credit_card"] = cc
    return out


def _matcher(ttype: str | None, want_id: int | None, customer_id: str | None) -> Callable[..., bool]:
    """Filter semantics (documented): type filters match transaction_type; SETTLED/PENDING/DECLINED
    match the status."""

    def match(t: str, code: str, message: str, cust: str, tid: Any) -> bool:
        if want_id is not None and tid != want_id:
            return False
        if customer_id is not None and cust != customer_id:
            return False
        if ttype is None:
            return True
        if ttype == "SETTLED":
            return code.startswith("GB")
        if ttype == "PENDING":
            return code == shapes.STATUS_PENDING[0]
        if ttype == "DECLINED":
            return (code, message) == shapes.STATUS_DECLINED
        if ttype == "VOID":
            return t == "VOID" or (code, message) == shapes.STATUS_VOIDED
        return t == ttype and (code, message) != shapes.STATUS_DECLINED

    return match


def _cents(value: Any) -> int | None:
    """Amount (JSON number or numeric string) to integer cents; None if not a valid 2-decimal amount."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    if not d.is_finite() or d != d.quantize(Decimal("0.01")):
        return None
    return int(d * 100)


def _billing_address(billing: dict[str, Any], name: str) -> dict[str, str]:
    """A record's billing address from a request's ``billing_address`` (country US unless given)."""
    return {
        "name": name,
        "street_address": str(billing.get("street_address", "")),
        "street_address2": str(billing.get("street_address2", "")),
        "city": str(billing.get("city", "")),
        "state": str(billing.get("state", "")),
        "zip": str(billing.get("zip", "")),
        "country": str(billing.get("country", "US")),
    }


def _tax_string(value: Any) -> str:
    cents = _cents(value) if value not in (None, "") else 0
    cents = cents or 0
    return f"{cents // 100}.{cents % 100:02d}"


def _transaction_id(body: dict[str, Any]) -> int:
    return _int_or_error(body.get("transaction_id"), shapes.ERR_TRANSACTION_ID)


def _int_or_error(value: Any, error: tuple[str, str]) -> int:
    if isinstance(value, bool):
        raise validation_error(error)
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise validation_error(error) from None
    if number <= 0:
        raise validation_error(error)
    return number


def _read_card(card: Any) -> tuple[str, int, int, list[tuple[str, str]]]:
    """Validate a keyed card and return ONLY its mask (first6 + last4); the PAN goes no further."""
    errors: list[tuple[str, str]] = []
    card = card if isinstance(card, dict) else {}
    number = str(card.get("number", "")).replace(" ", "")
    if not (number.isdigit() and 12 <= len(number) <= 19 and _luhn_ok(number)):
        errors.append(shapes.ERR_CARD_NUMBER)
        masked = ""
    else:
        masked = number[:6] + "*" * (len(number) - 10) + number[-4:]
    del number
    try:
        month = int(card.get("expiration_month", 0))
    except (TypeError, ValueError):
        month = 0
    if not 1 <= month <= 12:
        errors.append(shapes.ERR_EXP_MONTH)
    try:
        year = int(card.get("expiration_year", 0))
    except (TypeError, ValueError):
        year = -1
    if year >= 2000:
        year -= 2000
    if not 0 <= year <= 99:
        errors.append(shapes.ERR_EXP_YEAR)
    return masked, month, year, errors


# ------------------------------------------------------------------------------- HTTP plumbing
class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sandbox: SandboxServer
    ) -> None:
        self.sandbox = sandbox
        super().__init__(address, handler)


_Route = Callable[[SandboxServer, dict[str, Any]], Any]
STREAMING: dict[str, Callable[[SandboxServer, dict[str, Any]], tuple[dict[str, Any], str, Iterator[str]]]] = {
    "/v1/transactions/export/by_date_range": SandboxServer.export_by_date_range,
    "/v1/batches/transaction_list": SandboxServer.batch_transaction_list,
}
ROUTES: dict[str, _Route] = {
    "/v1/transactions/export/by_id": SandboxServer.export_by_id,
    "/v1/batches/export": SandboxServer.batches_export,
    "/v1/batches/export_one": SandboxServer.batches_export_one,
    "/v1/customer/export": SandboxServer.customer_export,
    "/v1/transactions/sale/keyed": lambda s, b: s.process_new(b, "SALE", by_customer=False),
    "/v1/transactions/sale/by_customer": lambda s, b: s.process_new(b, "SALE", by_customer=True),
    "/v1/transactions/authorization/keyed": lambda s, b: s.process_new(b, "AUTHORIZATION", by_customer=False),
    "/v1/transactions/authorization/by_customer": lambda s, b: s.process_new(
        b, "AUTHORIZATION", by_customer=True
    ),
    "/v1/transactions/authorization/capture": SandboxServer.capture,
    "/v1/transactions/refund/for_transaction": SandboxServer.refund,
    "/v1/transactions/void": SandboxServer.void,
    "/v1/transactions/settle": SandboxServer.settle,
    "/v1/customer/create": SandboxServer.create_customer,
}
recurring.register(ROUTES)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PayTraceSandbox/1.0"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox %s - %s", self.address_string(), format % args)

    # -------------------------------------------------------------- responses
    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self._send_bytes(status, data, "application/json; charset=utf-8", headers)

    def _send_bytes(
        self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        # Count before answering: a client that has its answer may read stats() at once.
        path = self.path.split("?", 1)[0]
        if not path.startswith("/_sandbox/"):  # admin calls are not traffic
            self.server.sandbox._count(path, status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, head: dict[str, Any], key: str, items: Iterable[str], truncate: bool) -> None:
        """Chunked JSON: ``{envelope..., "<key>":[item,item,...],"external_transaction_id":""}``."""
        prefix = json.dumps(head, separators=(",", ":"))[:-1] + f',"{key}":['
        suffix = '],"external_transaction_id":""}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.server.sandbox._count(self.path, 200)
        write = self.wfile.write
        buf: list[str] = [prefix]
        size = len(prefix)
        first = True
        for item in items:
            if not first:
                buf.append(",")
            first = False
            buf.append(item)
            size += len(item) + 1
            if size >= _CHUNK:
                data = "".join(buf).encode()
                if truncate:
                    # Truncated: half of the first chunk, then the connection drops (no terminating chunk).
                    data = data[: len(data) // 2]
                    write(b"%x\r\n%s\r\n" % (len(data), data))
                    return
                write(b"%x\r\n%s\r\n" % (len(data), data))
                buf, size = [], 0
        buf.append(suffix)
        data = "".join(buf).encode()
        if truncate:
            data = data[: max(1, len(data) // 2)]
            write(b"%x\r\n%s\r\n" % (len(data), data))
            return
        write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))

    # -------------------------------------------------------------- dispatch
    def do_GET(self) -> None:
        self._read_body()
        if self.path.split("?", 1)[0] == "/_sandbox/stats":
            self._send_json(200, self.server.sandbox.stats())
        elif self.path.split("?", 1)[0] == "/_sandbox/fraud_labels":
            labels = self.server.sandbox.fraud_labels()
            self._send_json(200, {"labels": {str(k): v for k, v in sorted(labels.items())}})
        else:
            self._send_json(
                405 if self.path.split("?", 1)[0] in ROUTES else 404,
                {"success": False, "status_message": "Use POST."},
            )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_POST(self) -> None:
        sandbox = self.server.sandbox
        path = self.path.split("?", 1)[0]
        raw = self._read_body()
        try:
            if path.startswith("/_sandbox/"):
                self._admin(path, raw)
                return
            injected = sandbox.faults.config.mode if sandbox.faults.should_fail(path) else None
            if injected in ("http_429", "http_500", "http_503"):
                self._fault_status(injected)
                return
            if injected == "slow":
                time.sleep(sandbox.faults.config.delay)
            if injected == "invalid_json":
                self._send_bytes(
                    200,
                    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                    "application/json; charset=utf-8",
                )
                return
            truncate = injected == "truncated_json"
            if path == "/oauth/token":
                self._respond(
                    200, sandbox.issue_token(_form(raw, self.headers.get("Content-Type", ""))), truncate
                )
                return
            if path == "/v1/ping":
                self._respond(200, {"success": True, "response_code": 1, "status_message": "pong"}, truncate)
                return
            if path not in ROUTES and path not in STREAMING:
                self._send_json(
                    404, {"success": False, "response_code": 1, "status_message": f"Unknown endpoint {path}"}
                )
                return
            sandbox.check_token(path, self.headers.get("Authorization"))
            body = _json_body(raw)
            self._check_integrator(body)
            sandbox.recurring.catch_up(sandbox)  # due recurring charges become transactions first
            if path in STREAMING:
                head, key, items = STREAMING[path](sandbox, body)
                self._send_stream(head, key, items, truncate)
            else:
                self._respond(200, ROUTES[path](sandbox, body), truncate)
        except ApiError as err:
            self._send_json(err.status, err.body, err.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("sandbox: unexpected error on %s", path)
            self._send_json(500, {"success": False, "response_code": 1, "status_message": "Internal error"})

    def _check_integrator(self, body: dict[str, Any]) -> None:
        cfg = self.server.sandbox.config
        if cfg.require_integrator_id and body.get("integrator_id") != cfg.integrator_id:
            raise validation_error(shapes.ERR_INTEGRATOR)

    def _respond(self, status: int, body: dict[str, Any], truncate: bool) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        if truncate:
            data = data[: max(1, len(data) // 2)]
        self._send_bytes(status, data, "application/json; charset=utf-8")

    def _fault_status(self, mode: str) -> None:
        status = {"http_429": 429, "http_500": 500, "http_503": 503}[mode]
        headers = {}
        retry_after = self.server.sandbox.faults.config.retry_after
        if status in (429, 503) and retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        self._send_json(
            status,
            {"success": False, "response_code": 1, "status_message": HTTPStatus(status).phrase},
            headers,
        )

    def _admin(self, path: str, raw: bytes) -> None:
        sandbox = self.server.sandbox
        if path == "/_sandbox/faults":
            try:
                sandbox.set_faults(FaultConfig.from_json(json.loads(raw or b"{}")))
            except (ValueError, TypeError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, {"ok": True, "faults": sandbox.faults.config.to_json()})
        elif path == "/_sandbox/clock":
            try:
                body = json.loads(raw or b"{}")
                now = body.get("now") if isinstance(body, dict) else None
                sandbox.set_clock(dt.datetime.fromisoformat(now) if now else None)
            except (ValueError, TypeError, AttributeError) as exc:
                self._send_json(400, {"error": f'clock: expected {{"now": ISO 8601 or null}} ({exc})'})
                return
            clock = sandbox.clock()
            self._send_json(200, {"ok": True, "now": clock.isoformat() if clock is not None else None})
        elif path == "/_sandbox/reset":
            sandbox.reset()
            self._send_json(200, {"ok": True})
        elif path == "/_sandbox/stats":
            self._send_json(200, sandbox.stats())
        elif path == "/_sandbox/fraud_labels":
            labels = sandbox.fraud_labels()
            self._send_json(200, {"labels": {str(k): v for k, v in sorted(labels.items())}})
        else:
            self._send_json(404, {"error": f"unknown admin endpoint {path}"})


def _form(raw: bytes, content_type: str) -> dict[str, str]:
    """The token request: urlencoded as documented; JSON tolerated (some clients send it)."""
    text = raw.decode("utf-8", "replace")
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise validation_error(("1", "The request body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise validation_error(("1", "The request body must be a JSON object."))
    return data
