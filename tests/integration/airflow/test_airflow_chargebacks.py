"""Issue 16 §2 through Airflow: a chargeback file dropped into the inbox is imported by the
``paytrace_chargebacks_to_sl`` DAG (FileSensor → import), on a PostgreSQL SL replica, exactly once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paytrace_sl.pipeline.runner import DEFAULT_MAPPING
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import xPTChargeback, xPTDeadLetter, xPTLedger
from paytrace_sl_sandbox.chargebacks import chargeback_cases, write_chargeback_file
from paytrace_sl_sandbox.merchant import MerchantConfig
from paytrace_sl_sandbox.server import SandboxServer
from paytrace_sl_sandbox.sl_seed import init_sandbox

pytestmark = pytest.mark.integration
DAG_ID = "paytrace_chargebacks_to_sl"
MERCHANT = MerchantConfig(seed=7, start=dt.date(2025, 4, 1), days=7, tx_per_day=60)


def test_dropped_file_is_imported_once_by_the_chargebacks_dag(
    dagbag: Any,
    run_dag: Callable[[str, dt.date], Any],
    airflow_connections: Callable[[str, str], None],
    paytrace_sandbox: SandboxServer,
    sl_pg_url: str,
    pipeline_dirs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    init_sandbox(sl_pg_url, MERCHANT)
    monkeypatch.setenv("PAYTRACE_SL_MAPPING", str(DEFAULT_MAPPING))
    monkeypatch.setenv("PAYTRACE_SL_CHARGEBACKS_DIR", str(pipeline_dirs / "chargebacks"))
    airflow_connections(paytrace_sandbox.url, sl_pg_url)
    dr = run_dag("paytrace_payments_to_sl", dt.date(2025, 4, 3))
    assert str(dr.state) == "success"

    engine = create_sl_engine(sl_pg_url)
    with engine.connect() as conn:
        paid = [
            int(t)
            for (t,) in conn.execute(
                sa.select(xPTLedger.c.transaction_id)
                .where(xPTLedger.c.kind == "payment", xPTLedger.c.status == "posted")
                .order_by(xPTLedger.c.transaction_id)
                .limit(3)
            )
        ]
    assert len(paid) == 3
    txs = [paytrace_sandbox.export_by_id({"transaction_id": t})["transactions"][0] for t in paid]
    cases = chargeback_cases(txs, dt.date(2025, 4, 10), won=1, lost=1, retrievals=1)
    inbox = pipeline_dirs / "chargebacks" / "inbox"
    write_chargeback_file(
        inbox / "cb-0410.csv",
        [c for c in cases if c.stage in ("chargeback", "retrieval")],
        malformed=True,
        unknown_id=99999999,
        with_pan=True,
    )

    dag = dagbag.get_dag(DAG_ID)
    assert dag is not None, dagbag.import_errors
    dr = dag.test()
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert str(dr.state) == "success", states
    assert list(inbox.iterdir()) == []
    done = sorted((pipeline_dirs / "chargebacks" / "done").iterdir())
    assert [p.name.split("-", 1)[1] for p in done] == ["cb-0410.csv"]
    kept = done[0].read_text()
    assert "4111111111111111" not in kept and "************1111" in kept  # the kept copy is masked
    xcom = dr.get_task_instance("import_files").xcom_pull(task_ids="import_files")
    (summary,) = xcom["files"]
    assert summary["outcomes"] == {"posted": 2, "recorded": 1} and summary["dead_letters"] == 3
    assert "4111111111111111" not in json.dumps(xcom)

    # the representment results arrive in a second file; the first file dropped again changes nothing
    write_chargeback_file(inbox / "cb-0430.csv", [c for c in cases if c.stage in ("won", "lost")])
    write_chargeback_file(
        inbox / "cb-0410-again.csv",
        [c for c in cases if c.stage in ("chargeback", "retrieval")],
        malformed=True,
        unknown_id=99999999,
        with_pan=True,
    )
    dr = dag.test()
    assert str(dr.state) == "success"
    files = {
        f["file"]: f for f in dr.get_task_instance("import_files").xcom_pull(task_ids="import_files")["files"]
    }
    assert files["cb-0410-again.csv"]["outcomes"] == {"already_posted": 3}
    assert files["cb-0430.csv"]["outcomes"] == {"review": 2}  # won: DM on Hold → unapplied PA; lost: review
    with engine.connect() as conn:
        stages = sorted(str(s) for (s,) in conn.execute(sa.select(xPTChargeback.c.stage)))
        letters = conn.execute(
            sa.select(sa.func.count())
            .select_from(xPTDeadLetter)
            .where(xPTDeadLetter.c.source == "chargeback-file")
        ).scalar_one()
        dm = conn.execute(
            sa.text("SELECT count(*) FROM ardoc WHERE doctype = 'DM' AND docdesc LIKE 'PayTrace chargeback%'")
        ).scalar_one()
    engine.dispose()
    assert stages == ["chargeback", "chargeback", "lost", "retrieval", "won"]
    assert letters == 3 and dm == 2
