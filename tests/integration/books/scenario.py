"""Books scenarios: PayTrace events on chosen dates (sandbox clock) → daily syncs → SL release → books.

A :class:`Scenario` is one merchant (the PayTrace sandbox with no generated days, so every record is one
the scenario made over real HTTP) and one SL sandbox company (``init_sandbox``: customers, the PayTrace
customer cross-reference, the unidentified-receipts customer). The scenario adds the SL invoices it
needs, makes sales/refunds/voids/captures/settlements at chosen times, runs the real pipeline per day
(``run_window`` / ``run_settlements``), releases batches with the release model (``sl_release``) when
the case needs it, and checks the books (``books``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from books import Books, Moved, check_books, snapshot
from sl_release import Released, release_all

from paytrace_sl.paytrace.config import PayTraceSettings
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.pipeline.runner import PipelineConfig, run_settlements, run_window
from paytrace_sl.pipeline.windows import day_window
from paytrace_sl.reconcile import ReconReport, reconcile
from paytrace_sl.sl import catalog
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTLedger, xPTReview
from paytrace_sl.sl.rows import complete_row
from paytrace_sl_sandbox.demo import write_sandbox_mapping
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxConfig, SandboxServer
from paytrace_sl_sandbox.sl_seed import SandboxSLConfig, init_sandbox

LA = "America/Los_Angeles"
START = dt.date(2025, 5, 1)
VISA = {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030}
SL = SandboxSLConfig()


class Scenario:
    """One merchant + one SL company; methods are the accountant's story, in time order."""

    def __init__(self, tmp_path: Path, *, unidentified: bool = False, lookback_days: int = 3) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        merchant = MerchantConfig(seed=11, start=START, days=0, customers=4)
        self.server = SandboxServer(SandboxConfig(merchant), port=0).start()
        self.url = f"sqlite:///{tmp_path / 'sl.db'}"
        init_sandbox(self.url, merchant)
        self.engine = create_sl_engine(self.url)
        self.customers = [(c.customer_id, c.sl_cust_id) for c in self.server.sim.customers()]
        self.cfg = PipelineConfig(
            sl_url=self.url,
            paytrace=PayTraceSettings(
                url=self.server.url,
                username="sandbox",
                password="sandbox-password",
                integrator_id="SANDBOXINT01",
                timezone=LA,
                requests_per_second=0,
                backoff_base=0.01,
                backoff_cap=0.05,
            ),
            mapping_path=write_sandbox_mapping(tmp_path / "mapping.yaml", unidentified_receipts=unidentified),
            landing_dir=tmp_path / "landing",
            gx_dir=tmp_path / "gx",
            lookback=dt.timedelta(days=lookback_days),
        )
        self.session = requests.Session()
        self.token = ""
        self.moved: dict[int, tuple[str, Decimal]] = {}
        self.runs: list[dict[str, Any]] = []
        self.before = snapshot(self.engine)
        self._inv_bat = 0

    def close(self) -> None:
        self.server.stop()
        self.engine.dispose()

    # ---- PayTrace ----------------------------------------------------------------------------------

    def at(self, when: str) -> None:
        """Move the sandbox clock (merchant-local ``YYYY-MM-DDTHH:MM``)."""
        self.server.set_clock(dt.datetime.fromisoformat(when))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not self.token:
            resp = self.session.post(
                f"{self.server.url}/oauth/token",
                data={"grant_type": "password", "username": "sandbox", "password": "sandbox-password"},
                timeout=10,
            )
            self.token = resp.json()["access_token"]
        resp = self.session.post(
            f"{self.server.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        data: dict[str, Any] = resp.json()
        assert resp.status_code == 200, data
        return data

    def sale(self, amount: str, *, customer: int | None = None, invoice: str = "", auth: bool = False) -> int:
        """A sale (or authorization) by a vault customer (index into ``customers``) or keyed (no customer)."""
        kind = "authorization" if auth else "sale"
        body: dict[str, Any] = {"amount": float(amount), "invoice_id": invoice}
        if customer is None:
            path, body = f"/v1/transactions/{kind}/keyed", {**body, "credit_card": VISA, "csc": "999"}
        else:
            path, body = (
                f"/v1/transactions/{kind}/by_customer",
                {**body, "customer_id": self.customers[customer][0]},
            )
        tid = int(self._post(path, body)["transaction_id"])
        if not auth:
            self.moved[tid] = ("payment", Decimal(amount))
        return tid

    def capture(self, tid: int, amount: str) -> None:
        self._post("/v1/transactions/authorization/capture", {"transaction_id": tid, "amount": float(amount)})
        self.moved[tid] = ("payment", Decimal(amount))

    def refund(self, tid: int, amount: str) -> int:
        body = {"transaction_id": tid, "amount": float(amount)}
        new = int(self._post("/v1/transactions/refund/for_transaction", body)["transaction_id"])
        self.moved[new] = ("refund", Decimal(amount))
        return new

    def void(self, tid: int) -> None:
        self._post("/v1/transactions/void", {"transaction_id": tid})
        self.moved.pop(tid, None)

    def settle(self) -> int:
        return int(self._post("/v1/transactions/settle", {})["batch_number"])

    def deposited(self) -> Decimal:
        """Net of every PayTrace settlement batch (what reached the bank)."""
        return sum((Decimal(str(b[0]["net_amount"])) for b in self.server._overlay.batches), Decimal(0))

    # ---- runs --------------------------------------------------------------------------------------

    def sync(self, day: str, *, settlements: bool = True) -> dict[str, Any]:
        """The scheduled runs of one merchant day: payments, then settlements."""
        window = day_window(dt.date.fromisoformat(day), LA)
        summary = run_window(self.cfg, window, f"pay-{day}-{len(self.runs)}")
        self.runs.append(summary)
        if settlements:
            self.runs.append(run_settlements(self.cfg, window, f"settle-{day}-{len(self.runs)}"))
        return summary

    def release(self) -> list[Released]:
        return release_all(self.engine)

    def reconcile(self, first: str, last: str) -> ReconReport:
        """``paytrace-sl reconcile`` over merchant days ``first..last`` (from the landed records)."""
        return reconcile(
            self.engine,
            dt.date.fromisoformat(first),
            dt.date.fromisoformat(last),
            landing_dir=self.cfg.landing_dir,
            mapping=load_mapping(self.cfg.mapping_path),
        )

    def books(self) -> Books:
        moved = [Moved(t, k, a) for t, (k, a) in sorted(self.moved.items())]
        return check_books(self.engine, self.before, moved=moved, deposited=self.deposited())

    # ---- SL ----------------------------------------------------------------------------------------

    def invoice(
        self, cust: int, ref: str, amount: str, *, released: bool = True, day: str = "2025-04-20"
    ) -> None:
        """An SL invoice of customer ``cust`` (Dr A/R / Cr sales when released, as SL posted it)."""
        self._inv_bat += 1
        bat = f"{self._inv_bat:06d}"[-6:]
        bat = f"I{bat[1:]}"
        when = dt.datetime.fromisoformat(day)
        amt = float(Decimal(amount))
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(catalog.Batch),
                [
                    complete_row(
                        catalog.Batch,
                        {
                            "Module": "AR",
                            "BatNbr": bat,
                            "CpnyID": SL.cpny_id,
                            "EditScrnNbr": "08010",
                            "JrnlType": "AR",
                            "BatType": "N",
                            "Status": "U" if released else "H",
                            "Rlsed": int(released),
                            "PerPost": "202504",
                            "PerEnt": "202504",
                            "CtrlTot": amt,
                            "CrTot": amt,
                            "CuryCtrlTot": amt,
                            "CuryCrTot": amt,
                            "DateEnt": when,
                        },
                        include_identity=False,
                    )
                ],
            )
            conn.execute(
                sa.insert(catalog.ARDoc),
                [
                    complete_row(
                        catalog.ARDoc,
                        {
                            "CustId": self.customers[cust][1],
                            "DocType": "IN",
                            "RefNbr": ref,
                            "BatNbr": bat,
                            "CpnyID": SL.cpny_id,
                            "DocDate": when,
                            "DueDate": when,
                            "BankAcct": SL.ar_acct,
                            "BankSub": "000000",
                            "CuryId": "USD",
                            "CuryMultDiv": "M",
                            "CuryRate": 1.0,
                            "OrigDocAmt": amt,
                            "CuryOrigDocAmt": amt,
                            "DocBal": amt,
                            "CuryDocBal": amt,
                            "OpenDoc": 1,
                            "Rlsed": int(released),
                            "PerPost": "202504",
                            "PerEnt": "202504",
                            "DocClass": "N",
                        },
                        include_identity=False,
                    )
                ],
            )
            record_id = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(catalog.ARTran.c.RecordID), 0))
            ).scalar_one()
            conn.execute(
                sa.insert(catalog.ARTran),
                [
                    complete_row(
                        catalog.ARTran,
                        {
                            "CustId": self.customers[cust][1],
                            "TranType": "IN",
                            "RefNbr": ref,
                            "LineNbr": -32767,
                            "RecordID": int(record_id) + 1,
                            "BatNbr": bat,
                            "CpnyID": SL.cpny_id,
                            "DrCr": "C",
                            "Acct": SL.sales_acct,
                            "Sub": "000000",
                            "TranAmt": amt,
                            "CuryTranAmt": amt,
                            "TranDate": when,
                            "PerPost": "202504",
                            "PerEnt": "202504",
                            "FiscYr": "2025",
                            "JrnlType": "AR",
                            "Rlsed": int(released),
                        },
                        include_identity=True,
                    )
                ],
            )
        if released:  # what SL's release did when the invoice was released: the customer owes it
            self._book_invoice(cust, amt)

    def _book_invoice(self, cust: int, amt: float) -> None:
        b = catalog.AR_Balances
        cust_id = self.customers[cust][1]
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(b.c.CurrBal).where(b.c.CustID == cust_id, b.c.CpnyID == SL.cpny_id)
            ).first()
            if row is None:
                conn.execute(sa.insert(b).values(CpnyID=SL.cpny_id, CustID=cust_id, CurrBal=amt))
            else:
                conn.execute(
                    sa.update(b)
                    .where(b.c.CustID == cust_id, b.c.CpnyID == SL.cpny_id)
                    .values(CurrBal=float(row.CurrBal) + amt)
                )
        self.before = snapshot(self.engine)

    def doc(self, doc_type: str, ref: str) -> dict[str, Any]:
        a = catalog.ARDoc
        with self.engine.connect() as conn:
            rows = (
                conn.execute(sa.select(a).where(a.c.DocType == doc_type, a.c.RefNbr == ref)).mappings().all()
            )
        assert len(rows) == 1, (doc_type, ref, rows)
        return dict(rows[0])

    def docs(self, doc_type: str) -> list[dict[str, Any]]:
        a = catalog.ARDoc
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(a).where(a.c.DocType == doc_type)).mappings()]

    def applications(self, ref: str) -> list[tuple[str, float]]:
        """Pending (U lines) and released (ARAdjust) applications of payment ``ref``: (invoice, amount)."""
        t, j = catalog.ARTran, catalog.ARAdjust
        with self.engine.connect() as conn:
            pending = conn.execute(
                sa.select(t.c.SiteId, t.c.TranAmt).where(t.c.RefNbr == ref, t.c.DrCr == "U")
            ).all()
            done = conn.execute(sa.select(j.c.AdjdRefNbr, j.c.AdjAmt).where(j.c.AdjgRefNbr == ref)).all()
        return sorted((str(r[0]).strip(), float(r[1])) for r in [*pending, *done])

    def reviews(self, tid: int | None = None) -> list[tuple[int | None, str, str]]:
        r = xPTReview
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r.c.transaction_id, r.c.reason_code, r.c.reason).order_by(r.c.id)
            ).all()
        return [(x[0], x[1], x[2]) for x in rows if tid is None or x[0] == tid]

    def ledger(self, tid: int) -> list[dict[str, Any]]:
        lg = xPTLedger
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(lg).where(lg.c.transaction_id == tid)).mappings()]
