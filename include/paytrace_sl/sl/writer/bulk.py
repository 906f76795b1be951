"""The insert path of one batch: SL rows checked column by column, then executemany or COPY."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence, Sized
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paytrace_sl.sl import catalog, copy_text
from paytrace_sl.sl import writer_sql as q
from paytrace_sl.sl.own_tables import utcnow, xPTLedger
from paytrace_sl.sl.periods import REASON_CLOSED_PERIOD, PostingPeriod
from paytrace_sl.sl.rows import ColumnRows, check_columns, complete_columns, complete_row
from paytrace_sl.sl.writer.core import WriterCore
from paytrace_sl.sl.writer.model import (
    COPY_CHUNK_LINES,
    COPY_THRESHOLD,
    BatchResult,
    Item,
    ItemOutcome,
    _Review,
    _Work,
)

if TYPE_CHECKING:
    from paytrace_sl.sl.writer.chargebacks import PlannedChargeback


class BulkInserts(WriterCore):
    """How a batch's accumulated rows reach the database: executemany, or PostgreSQL COPY in bulk mode."""

    def _insert_all(self, conn: sa.Connection, work: _Work) -> None:
        ardoc, artran, ledger = work.table("ardoc"), work.table("artran"), work.table("ledger")
        if ardoc:
            self._insert_sl(conn, catalog.ARDoc, ardoc, include_identity=False)
            self._step("ardoc_inserted")
        if artran:
            identity = self._identity(conn)
            if not identity:  # SQLite: we number RecordID under the write lock; the database does elsewhere
                first = int(conn.execute(q.max_record_id_stmt()).scalar_one()) + 1
                if isinstance(artran, ColumnRows):
                    artran.set_varying("RecordID", list(range(first, first + len(artran))))
                else:
                    for offset, row in enumerate(artran):
                        row["RecordID"] = first + offset
            self._insert_sl(conn, catalog.ARTran, artran, include_identity=not identity)
            self._step("artran_inserted")
        if work.refnbr:
            self._insert_sl(conn, catalog.RefNbr, work.refnbr, include_identity=False)
            self._step("refnbr_inserted")
        if work.gltran:
            self._insert_sl(conn, catalog.GLTran, work.gltran, include_identity=False)
            self._step("gltran_inserted")
        if ledger:
            if self._use_copy(conn, ledger):
                self._copy_own(conn, xPTLedger, ledger)
            else:
                listed = ledger.rows() if isinstance(ledger, ColumnRows) else ledger
                self._insert_rows(conn, q.ledger_insert_stmt(), listed)
            self._step("ledger_inserted")
        if work.reviews:
            now = utcnow()
            conn.execute(
                q.review_insert_stmt(),
                [
                    {
                        "transaction_id": r.transaction_id,
                        "ledger_key": r.ledger_key,
                        "reason_code": r.reason_code,
                        "reason": r.reason[:500],
                        "details": json.dumps(r.details, sort_keys=True, default=str),
                        "run_id": self.run_id,
                        "created_at": now,
                        "resolved_at": None,
                        "resolution": None,
                        "resolved_by": None,
                        "closed_how": None,
                        "closed_why": None,
                        "resolved_cust_id": None,
                        "resolved_ref_nbr": None,
                    }
                    for r in work.reviews
                ],
            )
            self._step("reviews_inserted")

    def _refuse(
        self,
        conn: sa.Connection,
        items: Sequence[Item | PlannedChargeback],
        period: PostingPeriod,
        result: BatchResult,
    ) -> None:
        """``late_items: refuse``: nothing goes to SL; each item waits in review (one open item per key).

        No ledger row is written, so a later run (after the setting changed or SL reopened the period)
        decides again.
        """
        keys = [i.ledger_key for i in items]
        already_open: set[str] = set()
        for start in range(0, len(keys), 1000):  # SQL Server: at most 2,100 parameters per statement
            chunk = keys[start : start + 1000]
            already_open.update(
                str(k) for (k,) in conn.execute(q.open_reviews_stmt(chunk, REASON_CLOSED_PERIOD))
            )
        work = _Work()
        for item in items:
            reason = f"{item.ledger_key} not posted: {period.refused}"
            if item.ledger_key not in already_open:
                work.reviews.append(
                    _Review(
                        getattr(item, "transaction_id", None),
                        item.ledger_key,
                        REASON_CLOSED_PERIOD,
                        reason,
                        {"period": period.natural, "current_period": period.per_ent},
                    )
                )
            result.add(ItemOutcome(item.ledger_key, "refused", message=reason))
        result.refused = len(items)
        result.refused_new = len(work.reviews)
        self._insert_all(conn, work)

    def _use_copy(self, conn: sa.Connection, rows: Sized) -> bool:
        """COPY only on PostgreSQL through psycopg 3, in bulk mode, for batches worth the set-up."""
        return (
            self.bulk
            and len(rows) >= COPY_THRESHOLD
            and conn.dialect.name == "postgresql"
            and conn.dialect.driver == "psycopg"
        )

    def _insert_sl(
        self,
        conn: sa.Connection,
        tbl: sa.Table,
        rows: list[dict[str, object]] | ColumnRows,
        *,
        include_identity: bool,
    ) -> None:
        """Check ``rows`` (the values the writer chose) and insert them with every other column blank.

        PostgreSQL bulk: checked column-wise and streamed with COPY. SQL Server (pyodbc) bulk: checked
        column-wise, parameter tuples built column-wise, one ``fast_executemany``. Elsewhere (SQLite,
        ``bulk=False``): :func:`complete_row` per row and one executemany. The rows and the errors for a
        bad value are the same on every path.
        """
        if self._use_copy(conn, rows):
            if isinstance(rows, ColumnRows):
                checked, fixed, blanks = check_columns(tbl, rows, include_identity=include_identity)
                given = checked + [(n, [v]) for n, v in fixed.items()]
            else:
                given, blanks = complete_columns(tbl, rows, include_identity=include_identity)
            # Columns holding one value for the whole batch join the blanks in the constant line suffix.
            varying = [(n, v) for n, v in given if len(v) > 1 and v.count(v[0]) != len(v)] or given[:1]
            if len(varying[0][1]) != len(rows):  # a one-row batch of constants only: one real column
                varying = [(varying[0][0], varying[0][1] * len(rows))]
            keep = {n for n, _ in varying}
            constant = {n: v[0] for n, v in given if n not in keep} | blanks
            names = [n for n, _ in varying] + list(constant)
            rendered = [copy_text.render_column(values) for _, values in varying]
            self._copy(conn, tbl, names, copy_text.lines(rendered, constant.values()))
            return
        if self._use_fast_executemany(conn, rows):
            self._fast_executemany(conn, tbl, rows, include_identity=include_identity)
            return
        listed = rows.rows() if isinstance(rows, ColumnRows) else rows
        complete = [complete_row(tbl, row, include_identity=include_identity) for row in listed]
        self._insert_rows(conn, q.insert_stmt(tbl, include_identity=include_identity), complete)

    def _use_fast_executemany(self, conn: sa.Connection, rows: Sized) -> bool:
        """SQL Server through pyodbc, in bulk mode: parameter tuples built column-wise, fast_executemany."""
        return (
            self.bulk and len(rows) > 1 and conn.dialect.name == "mssql" and conn.dialect.driver == "pyodbc"
        )

    def _fast_executemany(
        self,
        conn: sa.Connection,
        tbl: sa.Table,
        rows: list[dict[str, object]] | ColumnRows,
        *,
        include_identity: bool,
    ) -> None:
        """One pyodbc ``executemany`` with ``fast_executemany`` (parameter arrays, one round trip per
        batch of rows) of the statement the golden T-SQL pins, on the connection's own transaction."""
        import pyodbc  # the fast_executemany path runs only under the pyodbc driver

        sql, params = fast_executemany_params(conn.dialect, tbl, rows, include_identity=include_identity)
        raw: Any = conn.connection.driver_connection
        cursor = raw.cursor()
        try:
            cursor.fast_executemany = True
            cursor.executemany(sql, params)
        except pyodbc.IntegrityError as exc:  # retried like SQLAlchemy's (write_batch)
            raise sa.exc.IntegrityError(sql, None, exc) from exc
        finally:
            cursor.close()

    def _insert_rows(self, conn: sa.Connection, stmt: sa.Insert, rows: list[dict[str, object]]) -> None:
        """One executemany per table, or — ``bulk=False`` — one INSERT per row (the naive baseline)."""
        if self.bulk:
            conn.execute(stmt, rows)
        else:
            for row in rows:
                conn.execute(stmt, row)

    def _copy_own(
        self, conn: sa.Connection, tbl: sa.Table, rows: list[dict[str, object]] | ColumnRows
    ) -> None:
        """COPY rows of one of our ``xPT*`` tables, converted by the columns' own bind logic (UTC times)."""
        if isinstance(rows, ColumnRows):
            names = list(rows.varying)
            constant = {}
            for name, value in rows.constant.items():
                convert = _bind_converter(conn, tbl, name)
                constant[name] = convert(value) if convert is not None else value
            names += list(constant)
            columns = [
                copy_text.render_column(values, _bind_converter(conn, tbl, name))
                for name, values in rows.varying.items()
            ]
            self._copy(conn, tbl, names, copy_text.lines(columns, constant.values()))
            return
        names = list(rows[0])
        columns = [
            copy_text.render_column([row[name] for row in rows], _bind_converter(conn, tbl, name))
            for name in names
        ]
        self._copy(conn, tbl, names, copy_text.lines(columns))

    def _copy(self, conn: sa.Connection, tbl: sa.Table, names: Sequence[str], data: Iterable[str]) -> None:
        """``COPY <tbl> (<names>) FROM STDIN`` on the connection's own transaction (all or nothing).

        A unique-key collision (a concurrent writer got there first) surfaces as SQLAlchemy's
        IntegrityError, exactly as from an INSERT, so :meth:`write_batch` retries the batch.
        """
        import psycopg  # the COPY path runs only under the psycopg 3 driver

        prep = conn.dialect.identifier_preparer
        columns = ", ".join(prep.format_column(tbl.c[n]) for n in names)
        sql = f"COPY {prep.format_table(tbl)} ({columns}) FROM STDIN"
        raw: Any = conn.connection.driver_connection
        chunk: list[str] = []
        try:
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                for line in data:
                    chunk.append(line)
                    if len(chunk) == COPY_CHUNK_LINES:
                        copy.write("".join(chunk))
                        chunk.clear()
                if chunk:
                    copy.write("".join(chunk))
        except psycopg.IntegrityError as exc:
            raise sa.exc.IntegrityError(sql, None, exc) from exc


def _bind_converter(conn: sa.Connection, tbl: sa.Table, name: str) -> Callable[[object], object] | None:
    """The column's own bind conversion (our TypeDecorators: UTC times, JSON), None for plain types."""
    col_type = tbl.c[name].type
    if isinstance(col_type, sa.types.TypeDecorator):
        return functools.partial(col_type.process_bind_param, dialect=conn.dialect)
    return None


def fast_executemany_params(
    dialect: sa.Dialect,
    tbl: sa.Table,
    rows: list[dict[str, object]] | ColumnRows,
    *,
    include_identity: bool,
) -> tuple[str, list[tuple[object, ...]]]:
    """``q.insert_stmt`` compiled for ``dialect`` (positional ``?`` parameters, every writable column)
    and one parameter tuple per row in the statement's order: every value checked as
    :func:`complete_row` checks it, blanks filled, built column by column (no dict per row)."""
    stmt = q.insert_stmt(tbl, include_identity=include_identity)
    compiled = stmt.compile(dialect=dialect)
    order = list(compiled.positiontup or ())
    if isinstance(rows, ColumnRows):
        checked, fixed, blanks = check_columns(tbl, rows, include_identity=include_identity)
        count = len(rows)
    else:
        checked, blanks = complete_columns(tbl, rows, include_identity=include_identity)
        fixed = {}
        count = len(rows)
    by_name: dict[str, list[object]] = dict(checked)
    for name, value in (fixed | blanks).items():
        by_name[name] = [value] * count
    missing = [n for n in order if n not in by_name]
    if missing:
        raise ValueError(f"{tbl.name}: no value for column(s) {', '.join(missing)}")
    return str(compiled), list(zip(*(by_name[n] for n in order), strict=True))
