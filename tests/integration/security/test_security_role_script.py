"""The SL role script grants what the writer's statements need, and nothing on tables it never touches.

Complements the full-run capture (test_security_full_run.py), which cannot reach every branch: here every
statement kind the writer can issue (``writer_sql.golden_statements``, void path included) is compiled
for SQL Server and checked against the grants.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from security_support import ROLE_SCRIPT, allowed, role_grants, statement_accesses
from sqlalchemy.dialects import mssql

from paytrace_sl.sl import writer_sql
from paytrace_sl.sl.own_tables import own_table_names


def _grants() -> set[tuple[str, str, str | None]]:
    return role_grants(ROLE_SCRIPT.read_text())


def test_every_writer_statement_is_granted_on_sql_server() -> None:
    grants = _grants()
    dialect = mssql.dialect()
    checked = 0
    for name, stmt in writer_sql.golden_statements().items():
        sql = str(stmt.compile(dialect=dialect))
        accesses = statement_accesses(sql)
        assert accesses, f"{name}: no table recognised in {sql[:200]}"
        denied = [a for a in accesses if not allowed(a, grants)]
        assert denied == [], f"{name} needs {denied}: {sql[:300]}"
        checked += 1
    assert checked >= 20


def test_role_is_least_privilege() -> None:
    grants = _grants()
    # data rights on every one of our tables
    for table in own_table_names():
        for verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            assert (verb, table.lower(), None) in grants, (verb, table)
    # SL tables: UPDATE only on named columns, DELETE only on the two document tables, no DDL at all
    sl_updates = {(t, c) for v, t, c in grants if v == "UPDATE" and not t.startswith("xpt")}
    assert all(c is not None for _, c in sl_updates), sl_updates
    assert {t for t, _ in sl_updates} == {"arsetup", "glsetup", "batch"}
    assert ("arsetup", "lastrefnbr") in sl_updates and ("glsetup", "lastbatnbr") in sl_updates
    deletes = {t for v, t, _ in grants if v == "DELETE" and not t.startswith("xpt")}
    assert deletes == {"ardoc", "artran"}
    inserts = {t for v, t, _ in grants if v == "INSERT" and not t.startswith("xpt")}
    assert inserts == {"batch", "ardoc", "artran", "gltran", "refnbr"}
    assert not {v for v, _, _ in grants} - {"SELECT", "INSERT", "UPDATE", "DELETE"}
    # never release tables or balances (SL's release owns them; dynamics-sl.md §4.6)
    for table in ("ar_balances", "aradjust", "wrkrelease", "customer"):
        assert not {v for v, t, _ in grants if t == table} - {"SELECT"}, table


def test_access_parser_sees_verbs_tables_and_columns() -> None:
    """The checker itself must be able to fail: a statement outside the grants is reported."""
    grants = _grants()
    update = sa.text("UPDATE ARSetup SET LastBatNbr=?, ArAcct=? WHERE SetupId = ?")
    accesses = statement_accesses(str(update))
    assert accesses == {("UPDATE", "arsetup", "lastbatnbr"), ("UPDATE", "arsetup", "aracct")}
    assert [a for a in accesses if not allowed(a, grants)] == [("UPDATE", "arsetup", "aracct")]
    assert not allowed(("DELETE", "batch", None), grants)
    assert not allowed(("INSERT", "aradjust", None), grants)
    delete = 'DELETE FROM "ARTran" WHERE "ARTran"."RefNbr" = ?'
    assert statement_accesses(delete) == {("DELETE", "artran", None)}


def test_system_database_script_grants_one_read_only() -> None:
    """vs_Company reads SL's system database: one SELECT there, nothing else (no chaining, no roles)."""
    script = ROLE_SCRIPT.with_name("paytrace_sl_sysdb.sql").read_text()
    code = re.sub(r"/\*.*?\*/", "", script, flags=re.S)  # statements only, not the explanation
    grants = [line.split("--")[0].strip() for line in code.splitlines() if line.strip().startswith("GRANT")]
    assert grants == ["GRANT SELECT ON dbo.Company TO [$(PipelineLogin)];"]
    assert "DB_CHAINING ON" not in code and "ALTER ROLE" not in code and "db_owner" not in code
    assert "paytrace_sl_sysdb.sql" in ROLE_SCRIPT.read_text()
