"""PostgreSQL ``COPY … FROM STDIN`` text format, built column-wise (the writer's bulk path on PostgreSQL).

psycopg's ``Copy.write_row`` adapts every value of every row through its dumper machinery: for a
125-column ARDoc row that is most of the load's CPU. Here each *distinct* value of a column is rendered
once (most SL columns hold one value per batch) and the columns no row names — SL blanks, the bulk of
an ARDoc row — are rendered once per batch into a constant line suffix.

Only the value types SL rows and our ``xPT*`` rows hold are rendered; anything else is a TypeError
(never a silent ``str()``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def render(value: object) -> str:
    """One value in COPY text format (``\\N`` for NULL; backslash, tab, newline and CR escaped)."""
    if value is None:
        return NULL
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip text: PostgreSQL reads back the same double
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise TypeError(f"zone-aware datetime {value!r}: convert to the column's convention first")
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"no COPY text rendering for {type(value).__name__}")


def render_column(values: Sequence[object], convert: Callable[[object], object] | None = None) -> list[str]:
    """Every value of one column rendered: repeated values once, distinct values with one per-type call."""
    if convert is not None:
        values = [convert(v) for v in values]
    types = set(map(type, values))
    if len(types) != 1:
        return [render(v) for v in values]
    kind = types.pop()
    if kind is str:
        text = "".join(values)  # type: ignore[arg-type]
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            return [v.translate(_ESCAPES) for v in values]  # type: ignore[attr-defined]
        return list(values)  # type: ignore[arg-type]
    distinct = dict.fromkeys(values)
    if 4 * len(distinct) <= len(values):  # mostly repeats (per-batch constants, a few dates)
        texts = {v: render(v) for v in distinct}
        return [texts[v] for v in values]
    if kind is float:
        return list(map(float.__repr__, values))  # type: ignore[arg-type]
    if kind is int or kind is Decimal:
        return list(map(str, values))
    if kind is dt.datetime and all(v.tzinfo is None for v in values):  # type: ignore[attr-defined]
        return [v.isoformat(" ") for v in values]  # type: ignore[attr-defined]
    return [render(v) for v in values]


def lines(columns: Sequence[list[str]], suffix: Iterable[object] = ()) -> Iterator[str]:
    """COPY lines from rendered columns (same length each) plus constant trailing values."""
    tail = "".join("\t" + render(v) for v in suffix) + "\n"
    if not columns:
        raise ValueError("COPY needs at least one varying column")
    for fields in zip(*columns, strict=True):
        yield "\t".join(fields) + tail
