"""Issue 16 §2: chargebacks from the processor's file — DM reopening the receivable + fee entry, won
representment as a payment applied to the DM, lost left open with a review note; exactly once per case
and stage; bad rows dead-lettered naming row and field; the books prove it after SL's release."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scenario import Scenario

from paytrace_sl.chargebacks import import_chargeback_file
from paytrace_sl.pipeline.mapping import load_mapping
from paytrace_sl.reconcile.report import build_report_data
from paytrace_sl.sl import catalog
from paytrace_sl.sl.own_tables import xPTChargeback, xPTDeadLetter, xPTLedger
from paytrace_sl_sandbox.chargebacks import SandboxCase, chargeback_cases, write_chargeback_file

pytestmark = pytest.mark.integration
DAY = dt.date(2025, 5, 10)


def _export(sc: Scenario, tid: int) -> dict[str, Any]:
    (rec,) = sc.server.export_by_id({"transaction_id": tid})["transactions"]
    return dict(rec)


def _import(sc: Scenario, path: Path, run: str = "cb") -> Any:
    return import_chargeback_file(sc.engine, path, load_mapping(sc.cfg.mapping_path), run_id=run)


def _three_sales(sc: Scenario) -> list[int]:
    sc.at("2025-05-01T10:00")
    sales = [sc.sale("50.00", customer=1), sc.sale("80.00", customer=2), sc.sale("30.00", customer=3)]
    sc.at("2025-05-01T22:00")
    sc.settle()
    sc.sync("2025-05-01")
    sc.release()
    return sales


def _cases(sc: Scenario) -> list[dict[str, Any]]:
    with sc.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(xPTChargeback).order_by(xPTChargeback.c.id))]


def test_chargeback_won_lost_and_retrieval_books(scenario: Callable[..., Scenario], tmp_path: Path) -> None:
    sc = scenario()
    sales = _three_sales(sc)
    cases = chargeback_cases([_export(sc, t) for t in sales], DAY, won=1, lost=1, retrievals=1)
    first = [c for c in cases if c.stage in ("chargeback", "retrieval")]
    later = [c for c in cases if c.stage in ("won", "lost")]
    assert {c.stage for c in later} == {"won", "lost"}

    summary = _import(sc, write_chargeback_file(tmp_path / "cb1.csv", first))
    assert summary.accounted and summary.outcomes == {"posted": 2, "recorded": 1}, summary.as_dict()
    assert summary.problems == []
    again = _import(sc, tmp_path / "cb1.csv", "cb-again")
    assert again.outcomes == {"already_posted": 3} and again.batches == []
    dms = {d["CustId"].strip(): d for d in sc.docs("DM")}
    assert len(dms) == 2
    cust1, cust2, cust3 = (sc.customers[i][1] for i in (1, 2, 3))
    assert Decimal(str(dms[cust1]["OrigDocAmt"])) == Decimal("50.00")
    sc.release()

    summary2 = _import(sc, write_chargeback_file(tmp_path / "cb2.csv", later), "cb2")
    assert summary2.outcomes == {"posted": 1, "review": 1}, summary2.as_dict()
    lost = [r for r in sc.reviews(sales[1]) if r[1] == "chargeback_lost"]
    assert len(lost) == 1 and f"DM {dms[cust2]['RefNbr'].strip()}" in lost[0][2]
    sc.release()

    books = sc.books()
    assert books.customer_change(cust1) == Decimal("-50.00")  # paid, charged back, won back
    assert books.customer_change(cust2) == 0  # paid 80, reopened 80: owes it again
    assert books.customer_change(cust3) == Decimal("-30.00")  # a retrieval moves no money
    assert books.account_change("6150") == Decimal("30.00")  # two chargeback fees
    assert books.account_change("1020") == Decimal("-80.00")  # clearing: the lost chargeback
    assert books.revenue_change() == 0
    won_dm = sc.doc("DM", dms[cust1]["RefNbr"].strip())
    assert int(won_dm["OpenDoc"]) == 0 and Decimal(str(won_dm["DocBal"])) == 0
    stages = {(c["transaction_id"], c["stage"]): c for c in _cases(sc)}
    assert set(stages) == {
        (sales[0], "chargeback"),
        (sales[0], "won"),
        (sales[1], "chargeback"),
        (sales[1], "lost"),
        (sales[2], "retrieval"),
    }
    assert stages[(sales[0], "chargeback")]["gl_bat_nbr"].strip()
    assert stages[(sales[1], "lost")]["outcome"] == "review"

    # reconciliation and the auditor report cover the cases and their stages
    recon = sc.reconcile("2025-05-01", "2025-05-31")
    (note,) = [n for n in recon.notes if n.startswith("chargebacks:")]
    assert "5 case stage(s)" in note and "charged back 130.00, fees 30.00; 0 not as written" in note
    kinds = {(e.kind, e.explained) for e in recon.exceptions if e.kind.startswith("chargeback")}
    assert kinds == {("chargeback_lost_open", True)}
    data = build_report_data(
        sc.engine,
        dt.date(2025, 5, 1),
        dt.date(2025, 5, 31),
        landing_dir=sc.cfg.landing_dir,
        mapping=load_mapping(sc.cfg.mapping_path),
    )
    table = data.tables["chargebacks"]
    assert len(table.rows) == 5 and {r[-1] for r in table.rows} == {"ok"}
    assert dict(data.tables["summary"].rows)["chargeback_stages"] == 5
    # the Airflow UI page lists the case stages
    from fastapi.testclient import TestClient

    from paytrace_sl_airflow.ui_plugin import create_app

    app = create_app(sl_url=sc.url, reports_dir=tmp_path / "reports", require_login=False)
    html = TestClient(app).get("/").text
    case_won = next(c.case_number for c in later if c.stage == "won")
    assert "<table id='chargebacks'>" in html and html.count(f"<tr data-case='{case_won}'>") == 2
    # SL changed behind our back: the case stage no longer matches → an unexplained exception
    with sc.engine.begin() as conn:
        a = catalog.ARDoc
        conn.execute(
            sa.update(a)
            .where(a.c.DocType == "DM", a.c.RefNbr == dms[cust2]["RefNbr"])
            .values(OrigDocAmt=79.0)
        )
    bad = [
        e for e in sc.reconcile("2025-05-01", "2025-05-31").unexplained if e.kind == "chargeback_sl_mismatch"
    ]
    assert len(bad) == 1 and bad[0].transaction_id == sales[1]


def test_won_before_the_dm_is_released_is_an_unapplied_payment_with_a_review(
    scenario: Callable[..., Scenario], tmp_path: Path
) -> None:
    sc = scenario()
    sales = _three_sales(sc)
    cases = chargeback_cases([_export(sc, sales[0])], DAY, won=1, lost=0, retrievals=0)
    summary = _import(sc, write_chargeback_file(tmp_path / "cb.csv", cases))
    assert summary.outcomes == {"posted": 1, "review": 1}, summary.as_dict()
    assert [r[1] for r in sc.reviews(sales[0])] == ["chargeback_apply_credit"]
    sc.release()  # SL releases DM and unapplied PA: the customer nets 0 on the case
    books = sc.books()
    assert books.customer_change(sc.customers[1][1]) == Decimal("-50.00")
    assert books.account_change("1020") == 0


def test_bad_rows_are_dead_letters_naming_row_and_field_never_a_pan(
    scenario: Callable[..., Scenario], tmp_path: Path
) -> None:
    sc = scenario()
    sales = _three_sales(sc)
    cases = chargeback_cases([_export(sc, sales[0])], DAY, won=0, lost=0, retrievals=0)
    path = write_chargeback_file(
        tmp_path / "bad.csv", cases, malformed=True, unknown_id=99999999, duplicate=True, with_pan=True
    )
    summary = _import(sc, path)
    assert summary.accounted
    assert summary.outcomes == {"posted": 1} and summary.duplicates == 1
    problems = "\n".join(summary.problems)
    assert "bad.csv row 4 field transaction_id" in problems  # malformed: first bad field
    assert "row 5 field transaction_id: PayTrace transaction 99999999 is not posted" in problems
    assert "row 6 field card: holds a full card number" in problems
    with sc.engine.connect() as conn:
        letters = conn.execute(
            sa.select(xPTDeadLetter).where(xPTDeadLetter.c.source == "chargeback-file")
        ).all()
        ledger = conn.execute(sa.select(xPTLedger.c.kind).where(xPTLedger.c.kind.like("c%"))).all()
    assert len(letters) == 3
    dumped = json.dumps([dict(r._mapping) for r in letters], default=str)
    assert "4111111111111111" not in dumped and "************1111" in dumped
    assert sorted(k for (k,) in ledger) == ["cb_chargeback", "chargeback_fee"]
    assert summary.dead_letters == 3
    assert _import(sc, path, "again").dead_letters == 0  # the same open letters are not added twice


def test_every_column_of_every_chargeback_row(scenario: Callable[..., Scenario], tmp_path: Path) -> None:
    sc = scenario()
    sales = _three_sales(sc)
    cases = chargeback_cases([_export(sc, sales[0])], DAY, won=1, lost=0, retrievals=0)
    _import(sc, write_chargeback_file(tmp_path / "cb.csv", cases))
    with sc.engine.connect() as conn:
        for table in (catalog.Batch, catalog.ARDoc, catalog.ARTran, catalog.GLTran):
            for row in conn.execute(sa.select(table).where(table.c.Crtd_Prog == "PTSL")):
                nulls = [k for k, v in row._mapping.items() if v is None and k != "tstamp"]
                assert nulls == [], f"{table.name}: NULL in {nulls}"


def test_cli_import_exit_codes_and_json(scenario: Callable[..., Scenario], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from paytrace_sl.cli import app

    sc = scenario()
    sales = _three_sales(sc)
    cases = chargeback_cases([_export(sc, sales[0])], DAY, won=0, lost=0, retrievals=0)
    good = write_chargeback_file(tmp_path / "good.csv", cases)
    bad = write_chargeback_file(tmp_path / "bad.csv", cases, malformed=True)
    base = ["chargebacks", "import", "--sl-url", sc.url, "--mapping", str(sc.cfg.mapping_path)]
    runner = CliRunner()
    first = runner.invoke(app, [*base[:2], str(good), *base[2:], "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["outcomes"] == {"posted": 1} and len(out["batches"]) == 2  # AR DM + GL fee
    second = runner.invoke(app, [*base[:2], str(bad), *base[2:]])
    assert second.exit_code == 1  # a dead letter waits for a person
    assert (
        "already_posted 1" in second.stdout
        and "dead letter: bad.csv row 3 field transaction_id" in second.stdout
    )
    missing = runner.invoke(app, [*base[:2], str(tmp_path / "nope.csv"), *base[2:]])
    assert missing.exit_code == 2
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert runner.invoke(app, [*base[:2], str(empty), *base[2:]]).exit_code == 2


def test_rows_that_contradict_sl_or_the_case_are_dead_letters(
    scenario: Callable[..., Scenario], tmp_path: Path
) -> None:
    sc = scenario()
    sales = _three_sales(sc)
    refund = sc.refund(sales[2], "10.00")
    sc.sync("2025-05-01")
    (c50,) = chargeback_cases([_export(sc, sales[0])], DAY, won=0, lost=0, retrievals=0)
    (c80,) = chargeback_cases([_export(sc, sales[1])], DAY, won=0, lost=0, retrievals=0, prefix="CC")
    day2 = DAY + dt.timedelta(days=5)
    rows = [
        c50,
        c80,
        SandboxCase("CB-OTHER", sales[0], "chargeback", DAY, Decimal("5.00")),  # 2nd case, same sale
        SandboxCase("CB-BIG", sales[2], "chargeback", DAY, Decimal("30.01")),  # above the payment
        SandboxCase("CB-REF", refund, "chargeback", DAY, Decimal("10.00")),  # a refund, not a sale
        SandboxCase("CB-NONE", sales[2], "won", day2, Decimal("5.00")),  # no chargeback stage
        SandboxCase(c80.case_number, sales[1], "lost", day2, Decimal("80.00")),
        SandboxCase(c80.case_number, sales[1], "won", day2, Decimal("80.00")),  # after lost
        SandboxCase(c50.case_number, sales[0], "won", day2, Decimal("50.01")),  # above the chargeback
    ]
    summary = _import(sc, write_chargeback_file(tmp_path / "f.csv", rows))
    assert summary.accounted and summary.outcomes == {"posted": 2, "review": 1}, summary.as_dict()
    fields = sorted(p.split(" field ")[1].split(":")[0] for p in summary.problems)
    assert fields == ["amount", "amount", "case_number", "stage", "stage", "transaction_id"]
    text = "\n".join(summary.problems)
    assert f"already has chargeback case {c50.case_number}" in text and "is already lost" in text
    assert f"PayTrace transaction {refund} is a refund" in text and "has no chargeback stage" in text


def test_a_fee_without_a_fee_account_is_a_review_item(
    scenario: Callable[..., Scenario], tmp_path: Path
) -> None:
    sc = scenario()
    sales = _three_sales(sc)
    path = sc.cfg.mapping_path
    path.write_text(path.read_text().replace('  fee_account: {acct: "6150", sub: "000000"}\n', ""))
    cases = chargeback_cases([_export(sc, sales[0])], DAY, won=0, lost=0, retrievals=0)
    summary = _import(sc, write_chargeback_file(tmp_path / "f.csv", cases))
    assert summary.outcomes == {"review": 1} and [m for m, _ in summary.batches] == ["AR"]
    assert [r[1] for r in sc.reviews(sales[0])] == ["chargeback_fee_unmapped"]
    sc.release()
    books = sc.books()
    assert books.account_change("6150") == 0 and books.customer_change(sc.customers[1][1]) == 0
