"""Our xPT* tables: idempotent, versioned install that never touches SL's tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from paytrace_sl.sl import catalog, own_tables
from paytrace_sl.sl.engine import create_sl_engine
from paytrace_sl.sl.own_tables import SCHEMA_VERSION, InstallError, install, xPTLedger, xPTSchemaVer

pytestmark = pytest.mark.integration


def _sl_columns(engine: sa.Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        live = catalog.live_table_names(conn)
        inspector = sa.inspect(conn)
        return {t: [c["name"] for c in inspector.get_columns(live[t.lower()])] for t in catalog.TABLES}


def test_install_is_idempotent_and_versioned(replica_url: str) -> None:
    engine = create_sl_engine(replica_url)
    try:
        before = _sl_columns(engine)
        first = install(engine)
        assert (first.from_version, first.to_version) == (0, SCHEMA_VERSION)
        assert set(first.created_tables) == set(own_tables.OWN_TABLES)
        second = install(engine)
        assert not second.changed and second.from_version == second.to_version == SCHEMA_VERSION
        assert _sl_columns(engine) == before  # SL tables untouched
        with engine.connect() as conn:
            versions = conn.execute(
                sa.select(xPTSchemaVer.c.version).order_by(xPTSchemaVer.c.version)
            ).scalars()
            assert list(versions) == list(range(1, SCHEMA_VERSION + 1))
    finally:
        engine.dispose()


def test_upgrade_from_version_1_adds_table_and_column_keeping_rows(replica_url: str) -> None:
    engine = create_sl_engine(replica_url)
    try:
        assert install(engine, target_version=1).to_version == 1
        with engine.connect() as conn:
            live = catalog.live_table_names(conn)
            assert "xptrecon" not in live
            cols = {c["name"].lower() for c in sa.inspect(conn).get_columns(live["xptledger"])}
            assert "settle_batch_nbr" not in cols
        now = dt.datetime(2025, 4, 1, 17, 5, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
        v1_row = {
            "ledger_key": "paytrace:81234567:payment",
            "transaction_id": 81234567,
            "kind": "payment",
            "cpny_id": "PTDEMO",
            "module": "AR",
            "bat_nbr": "000101",
            "doc_type": "PA",
            "ref_nbr": "81234567",
            "cust_id": "CUST00001",
            "amount": Decimal("1234.56"),
            "cury_id": "USD",
            "per_post": "202504",
            "paytrace_state": "settled",
            "content_hash": "ab" * 32,
            "status": "posted",
            "run_id": "r1",
            "posted_at": now,
            "updated_at": now,
        }
        with engine.begin() as conn:
            conn.execute(sa.insert(own_tables._table_as_of(xPTLedger, 1)), [v1_row])
        result = install(engine)
        assert (result.from_version, result.to_version) == (1, SCHEMA_VERSION)
        assert result.created_tables == (
            "xPTRecon",
            "xPTRun",
            "xPTReportStale",
            "xPTVaultProfile",
            *own_tables.FRAUD_TABLES,
            "xPTChargeback",
            "xPTRecurSched",
            "xPTRecurPay",
        )  # v2; v4 rebuilds xPTRun; v5 vault profiles; v7 fraud; v8 chargebacks; v9 recurring billing
        assert result.added_columns == (
            "xPTLedger.settle_batch_nbr",
            "xPTLedger.posted_txn_id",
            "xPTLedger.paytrace_type",
            "xPTLedger.customer_digest",
            "xPTReview.closed_how",
            "xPTReview.closed_why",
            "xPTReview.resolved_cust_id",
            "xPTReview.resolved_ref_nbr",
        )
        with engine.connect() as conn:
            got = conn.execute(sa.select(xPTLedger)).mappings().one()
        assert got["amount"] == Decimal("1234.56")
        assert got["posted_at"] == now and got["posted_at"].tzinfo is not None  # stored as UTC, read aware
        assert got["settle_batch_nbr"] is None
        assert got["posted_txn_id"] == 81234567  # back-filled: the id's one posting
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # ledger_key is unique
            conn.execute(sa.insert(xPTLedger), [v1_row])
    finally:
        engine.dispose()


def test_install_refuses_a_database_that_is_not_sl(tmp_path: Path) -> None:
    engine = create_sl_engine(f"sqlite:///{tmp_path / 'not-sl.db'}")
    try:
        with pytest.raises(InstallError, match="does not look like an SL application database"):
            install(engine)
        assert install(engine, require_sl=False).to_version == SCHEMA_VERSION
    finally:
        engine.dispose()


def test_naive_timestamps_are_refused(sl_sqlite_url: str) -> None:
    engine = create_sl_engine(sl_sqlite_url)
    try:
        install(engine)
        with pytest.raises(sa.exc.StatementError, match="naive datetime"), engine.begin() as conn:
            conn.execute(
                sa.insert(own_tables.xPTRun).values(
                    run_id="r", dag_id="d", try_number=1, status="running", started_at=dt.datetime(2025, 1, 1)
                )
            )
    finally:
        engine.dispose()


def _ledger_v2(key: str, txid: int, kind: str, amount: str) -> dict[str, object]:
    now = dt.datetime(2025, 4, 1, 17, 5, tzinfo=dt.UTC)
    return {
        "ledger_key": key,
        "transaction_id": txid,
        "kind": kind,
        "cpny_id": "PTDEMO",
        "module": "AR",
        "bat_nbr": "000101",
        "doc_type": "PA" if kind == "payment" else "CM",
        "ref_nbr": str(txid)[-10:],
        "cust_id": "CUST00001",
        "amount": Decimal(amount),
        "cury_id": "USD",
        "per_post": "202504",
        "paytrace_state": "settled",
        "content_hash": "ab" * 32,
        "status": "posted",
        "run_id": "r1",
        "posted_at": now,
        "updated_at": now,
        "settle_batch_nbr": None,
    }


def test_upgrade_to_v3_on_a_live_install_marks_one_posting_per_id_and_dedupes_skips(replica_url: str) -> None:
    """An install at v2 that already double-posted an id (the pre-v3 bug) and holds repeated skip rows:
    the upgrade keeps the first posting as the id's one posting, opens a review item for the second,
    reduces the skips to one per (id, reason), and from then on the database refuses both repeats."""
    engine = create_sl_engine(replica_url)
    t = own_tables
    try:
        assert install(engine, target_version=2).to_version == 2
        now = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
        skip = {"reason_code": "declined", "reason": "declined", "paytrace_state": "declined", "run_id": "r"}
        with engine.begin() as conn:
            conn.execute(
                sa.insert(t._table_as_of(xPTLedger, 2)),
                [
                    _ledger_v2("paytrace:500:payment", 500, "payment", "10.00"),
                    _ledger_v2("paytrace:500:refund", 500, "refund", "10.00"),
                    _ledger_v2("paytrace:501:payment", 501, "payment", "5.00"),
                    _ledger_v2("paytrace:501:void", 501, "void", "0.00"),
                ],
            )
            conn.execute(
                sa.insert(t.xPTSkip),
                [
                    dict(skip, transaction_id=600, created_at=now),
                    dict(skip, transaction_id=600, created_at=now),
                    dict(skip, transaction_id=600, reason_code="zero_amount", created_at=now),
                ],
            )
        result = install(engine)
        assert (result.from_version, result.to_version) == (2, SCHEMA_VERSION)
        assert not install(engine).changed  # idempotent
        with engine.connect() as conn:
            marked = dict(conn.execute(sa.select(xPTLedger.c.ledger_key, xPTLedger.c.posted_txn_id)).all())
            reviews = conn.execute(sa.select(t.xPTReview.c.transaction_id, t.xPTReview.c.reason_code)).all()
            (reason,) = conn.execute(sa.select(t.xPTReview.c.reason)).scalars()
            skips = conn.execute(sa.select(t.xPTSkip.c.transaction_id, t.xPTSkip.c.reason_code)).all()
        assert marked == {
            "paytrace:500:payment": 500,
            "paytrace:500:refund": None,
            "paytrace:501:payment": 501,
            "paytrace:501:void": None,
        }
        assert [tuple(r) for r in reviews] == [(500, "posted_twice")]
        assert "(as payment and as refund)" in reason and "paytrace:500:refund" in reason
        assert sorted(tuple(r) for r in skips) == [(600, "declined"), (600, "zero_amount")]
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(t.xPTSkip), [dict(skip, transaction_id=600, created_at=now)])
        second = dict(_ledger_v2("paytrace:501:refund", 501, "refund", "5.00"), posted_txn_id=501)
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(xPTLedger), [second])
        with engine.begin() as conn:  # NULL is not a posting: many rows may leave it empty
            conn.execute(sa.insert(xPTLedger), [_ledger_v2("paytrace:502:void", 502, "void", "0.00")])
    finally:
        engine.dispose()
