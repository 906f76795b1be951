"""Security test helpers: which tables/columns a SQL statement touches; the SL role script's grants."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROLE_SCRIPT = Path(__file__).resolve().parents[3] / "sql" / "mssql" / "paytrace_sl_role.sql"

_IDENT = r"(?:\[?dbo\]?\.)?\[?\"?([A-Za-z_][A-Za-z0-9_]*)\"?\]?"


@dataclass
class StatementLog:
    """Every statement text sent to any engine while active (executemany counted once)."""

    statements: list[str] = field(default_factory=list)

    def accesses(self) -> set[tuple[str, str, str | None]]:
        """(verb, table, column-or-None) for every table access; UPDATE lists each SET column."""
        found: set[tuple[str, str, str | None]] = set()
        for sql in self.statements:
            found |= statement_accesses(sql)
        return found

    def first_statement(self, access: tuple[str, str, str | None]) -> str:
        """The first statement that made ``access`` (for a readable failure)."""
        return next((sql for sql in self.statements if access in statement_accesses(sql)), "")


def statement_accesses(sql: str) -> set[tuple[str, str, str | None]]:
    text = " ".join(sql.split())
    upper = text.upper()
    found: set[tuple[str, str, str | None]] = set()
    if upper.startswith(("PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")):
        return found
    if "SQLITE_MASTER" in upper or "SQLITE_SCHEMA" in upper or "SQLITE_TEMP_MASTER" in upper:
        return found
    m = re.match(rf"(?i)CREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX)\s+(?:IF NOT EXISTS\s+)?{_IDENT}", text)
    if m:
        if m.group(1).upper() == "INDEX":
            on = re.search(rf"(?i)\bON\s+{_IDENT}", text)
            return {("CREATE INDEX", on.group(1).lower() if on else "?", None)}
        return {("CREATE TABLE", m.group(2).lower(), None)}
    m = re.match(rf"(?i)ALTER\s+TABLE\s+{_IDENT}", text)
    if m:
        return {("ALTER", m.group(1).lower(), None)}
    m = re.match(rf"(?i)INSERT\s+INTO\s+{_IDENT}", text)
    if m:
        found.add(("INSERT", m.group(1).lower(), None))
    m = re.match(rf"(?i)UPDATE\s+{_IDENT}\s+SET\s+(.*?)(?:\s+WHERE\s+|$)", text)
    if m:
        table = m.group(1).lower()
        for col in re.findall(r"(?i)(?:^|,)\s*\"?([A-Za-z_][A-Za-z0-9_]*)\"?\s*=", m.group(2)):
            found.add(("UPDATE", table, col.lower()))
    m = re.match(rf"(?i)DELETE\s+FROM\s+{_IDENT}", text)
    if m:
        found.add(("DELETE", m.group(1).lower(), None))
    # every table read: FROM/JOIN anywhere (sub-selects of INSERT/UPDATE/DELETE included)
    for name in re.findall(rf"(?i)\b(?:FROM|JOIN)\s+{_IDENT}", text):
        found.add(("SELECT", name.lower(), None))
    if found and upper.startswith("DELETE"):
        found.discard(("SELECT", next(t for v, t, _ in found if v == "DELETE"), None))
    return found


def role_grants(script: str) -> set[tuple[str, str, str | None]]:
    """(permission, table, column-or-None) granted to the role by ``GRANT … ON … TO`` lines."""
    grants: set[tuple[str, str, str | None]] = set()
    pattern = re.compile(
        rf"(?im)^\s*GRANT\s+([A-Z ,]+?)\s+ON\s+(?:OBJECT::)?{_IDENT}\s*"
        r"(?:\(([^)]*)\))?\s+TO\s+\[?paytrace_sl_writer"
    )
    for perms, table, cols in pattern.findall(script):
        for perm in (p.strip().upper() for p in perms.split(",")):
            if cols:
                for col in cols.split(","):
                    grants.add((perm, table.lower(), col.strip().strip("[]").lower()))
            else:
                grants.add((perm, table.lower(), None))
    return grants


def allowed(access: tuple[str, str, str | None], grants: set[tuple[str, str, str | None]]) -> bool:
    verb, table, column = access
    if (verb, table, None) in grants:
        return True
    return column is not None and (verb, table, column) in grants
