"""The landing area: files one run's steps hand to each other (``<landing_dir>/<run>/``).

Airflow tasks run in separate processes and XComs must stay small, so each step writes its output
here and returns only counts. Every file is written atomically (temp file + rename) so a retried
task never reads half a file, and every line is checked for card numbers before it is written: only
normalized records with masked cards may land (PCI).

Files of a run: ``transactions.jsonl`` (parsed records of the fetch range), ``rejects.jsonl`` (records
that failed to parse: id, field, reason — never the value), ``validated.jsonl`` (rows that passed the
checks), ``plan.jsonl`` (the posting plan, one batch head or item per line; ``plan.json`` holds it as
one document in runs landed before issue 17) and ``<step>.json`` summaries; every name is in
:mod:`paytrace_sl.pipeline.files`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paytrace_sl import plan as plan_module
from paytrace_sl.errors import PaytraceSlError
from paytrace_sl.redaction import contains_pan

if TYPE_CHECKING:
    from paytrace_sl.pipeline.copies import LandedCopies

_JSONL_CHUNK = 5000  # rows encoded, scanned and written at a time (memory stays flat in the window size)
_INDENT_LIMIT = 256 * 1024  # JSON files up to this size are indented for people; larger ones compact

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class LandingError(PaytraceSlError, RuntimeError):
    """A landing file is missing (an upstream step did not run for this run id) or would leak card data."""


def safe_run_name(run_id: str) -> str:
    """A file-system-safe, still readable directory name for an Airflow run id."""
    name = _UNSAFE.sub("_", run_id).strip("._")
    if not name:
        raise ValueError(f"run id {run_id!r} gives an empty directory name")
    return name[:200]


class Landing:
    """Files of one run under ``root``."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.root = Path(root)
        self.run_id = run_id
        self.dir = self.root / safe_run_name(run_id)

    def path(self, name: str) -> Path:
        return self.dir / name

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def _write_text(self, name: str, text: str) -> Path:
        return self._write_chunks(name, (text,))

    def _write_chunks(self, name: str, chunks: Iterable[str]) -> Path:
        """Write ``chunks`` to a temp file and rename it into place; nothing lands if any chunk raises."""
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self.path(name)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def write_jsonl(self, name: str, rows: Iterable[dict[str, Any]]) -> int:
        """Write rows as JSON lines; refuses (LandingError) any line containing a card number.

        Rows are encoded and scanned in chunks of lines (a card number cannot span a line break, so
        scanning a chunk finds exactly what scanning each line finds) and streamed to the temp file.
        """
        encode = json.JSONEncoder(sort_keys=True, default=_json_default).encode
        count = 0

        def chunks() -> Iterator[str]:
            nonlocal count
            lines: list[str] = []
            for row in rows:
                lines.append(encode(row))
                if len(lines) >= _JSONL_CHUNK:
                    yield self._checked(name, lines, "a row contains")
                    count += len(lines)
                    lines = []
            if lines:
                yield self._checked(name, lines, "a row contains")
                count += len(lines)

        self._write_chunks(name, chunks())
        return count

    def landed_copies(self, name: str) -> LandedCopies:
        """A writer that lands transactions into ``name`` as they arrive, one line per id in id order
        (:class:`~paytrace_sl.pipeline.copies.LandedCopies`): the file :meth:`write_jsonl` gives for the
        resolved records, with the same encoding and card-number scan; nothing lands if it fails."""
        from paytrace_sl.pipeline.copies import LandedCopies

        encode = json.JSONEncoder(sort_keys=True, default=_json_default).encode
        return LandedCopies(
            self.path(name), encode, lambda lines: self._checked(name, lines, "a row contains")
        )

    @staticmethod
    def _checked(name: str, lines: list[str], what: str) -> str:
        text = "\n".join(lines) + "\n"
        if contains_pan(text, json=True):  # JSON: escapes decoded, so only what the values hold counts
            raise LandingError(f"refusing to land {name}: {what} an unmasked card number")
        return text

    def read_jsonl(self, name: str) -> Iterator[dict[str, Any]]:
        path = self.path(name)
        if not path.exists():
            raise LandingError(f"{path} not found: run the step that writes it for run {self.run_id!r} first")
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def write_json(self, name: str, data: Any) -> Path:
        # the C encoder only runs without ``indent``: encode compactly, indent only small files
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_json_default)
        if len(text) <= _INDENT_LIMIT:
            text = json.dumps(data, sort_keys=True, indent=1, default=_json_default)
        if contains_pan(text, json=True):
            raise LandingError(f"refusing to land {name}: it contains an unmasked card number")
        return self._write_text(name, text)

    def write_plan(self, name: str, posting_plan: plan_module.PostingPlan) -> Path:
        """``write_json(name, encode_plan(plan))`` without holding the encoded plan in memory.

        Writes the same JSON document (read it back with ``decode_plan(read_json(name))``), encoding and
        scanning it a few thousand items at a time.
        """
        return self._write_chunks(name, self._plan_chunks(name, posting_plan))

    def _plan_chunks(self, name: str, posting_plan: plan_module.PostingPlan) -> Iterator[str]:
        """The JSON text of ``encode_plan(posting_plan)`` (sorted keys), in scanned chunks of lines."""
        encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_json_default).encode
        if _field_names(type(posting_plan)) != ("batches",):  # pragma: no cover - the plan grew a field
            yield self._checked(name, [encode(encode_plan(posting_plan))], "it contains")
            return
        lines = ['{"__dc__":"PostingPlan","batches":[']
        for b_index, batch in enumerate(posting_plan.batches):
            head: dict[str, Any] = {"__dc__": type(batch).__name__}
            for field_name in _field_names(type(batch)):
                if field_name != "items":
                    head[field_name] = encode_plan_value(getattr(batch, field_name))
            before = [k for k in sorted([*head, "items"]) if k < "items"]
            after = [k for k in sorted(head) if k > "items"]
            lines.append(
                ("," if b_index else "")
                + "{"
                + "".join(f"{encode(k)}:{encode(head[k])}," for k in before)
                + '"items":['
            )
            for i, item in enumerate(batch.items):
                lines.append(("," if i else "") + encode(encode_plan_value(item)))
                if len(lines) >= _JSONL_CHUNK:
                    yield self._checked(name, lines, "it contains")
                    lines = []
            lines.append("]" + "".join(f",{encode(k)}:{encode(head[k])}" for k in after) + "}")
        lines.append("]}")
        yield self._checked(name, lines, "it contains")

    def write_plan_lines(self, name: str, posting_plan: plan_module.PlanSource) -> Path:
        """The plan as JSON lines (:data:`PLAN_LINES_FORMAT`), so the load step can read it one batch at a
        time (:meth:`read_plan`) instead of decoding the whole plan at once.

        Line 1 is a header (batch and item counts, the companies), then per batch a head line followed by
        one line per item (``encode_plan_value`` of it), and a closing line repeating the counts: a file cut
        short is refused on reading. Scanned for card numbers and written atomically like every landing file.
        ``posting_plan`` may build its batches as they are written (the transform's ``PlanBatches``): only
        one batch's items are held at a time; a source whose batches do not match its counts lands nothing.
        """
        return self._write_chunks(name, self._plan_line_chunks(name, posting_plan))

    def _plan_line_chunks(self, name: str, posting_plan: plan_module.PlanSource) -> Iterator[str]:
        encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_json_default).encode
        counts = {"batches": posting_plan.batch_count, "items": posting_plan.item_count}
        header = {
            "__plan__": PLAN_LINES_FORMAT,
            **counts,
            "cpny_ids": sorted(posting_plan.cpny_ids),
            # plan-level fields other than the batches (none today) travel in the header
            "fields": {
                f: encode_plan_value(getattr(posting_plan, f))
                for f in _field_names(plan_module.PostingPlan)
                if f != "batches"
            },
        }
        lines = [encode(header)]
        encode_item = _ITEM_ENCODER.encode  # encode(encode_plan_value(item)), walked by the C encoder
        seen_batches = seen_items = 0
        for batch in posting_plan.iter_batches():
            seen_batches += 1
            seen_items += len(batch.items)
            head = {
                f: encode_plan_value(getattr(batch, f)) for f in _field_names(type(batch)) if f != "items"
            }
            lines.append(encode({"__batch__": type(batch).__name__, "head": head, "items": len(batch.items)}))
            for item in batch.items:
                lines.append(encode_item(item))
                if len(lines) >= _JSONL_CHUNK:
                    yield self._checked(name, lines, "it contains")
                    lines = []
        if (seen_batches, seen_items) != (counts["batches"], counts["items"]):
            raise LandingError(
                f"refusing to land {name}: the plan announced {counts} but held {seen_batches} batches "
                f"and {seen_items} items"
            )
        lines.append(encode({"__end__": PLAN_LINES_FORMAT, **counts}))
        yield self._checked(name, lines, "it contains")

    def read_plan(self, name: str) -> PlanReader:
        """A landed plan, to read one batch at a time: the line format of :meth:`write_plan_lines`, or the
        single JSON document of :meth:`write_plan` (a plan landed before the line format, e.g. by a run
        that stopped across an upgrade), which is decoded whole."""
        path = self.path(name)
        if not path.exists():
            raise LandingError(f"{path} not found: run the step that writes it for run {self.run_id!r} first")
        return PlanReader(path)

    def read_json(self, name: str) -> Any:
        path = self.path(name)
        if not path.exists():
            raise LandingError(f"{path} not found: run the step that writes it for run {self.run_id!r} first")
        return json.loads(path.read_text(encoding="utf-8"))


PLAN_LINES_FORMAT = "paytrace-sl plan lines 1"
"""Tag of the plan's line format (header and closing line); another tag is refused, not guessed at."""


class PlanReader:
    """A landed plan read batch by batch (:meth:`Landing.read_plan`). ``cpny_ids``, ``batch_count`` and
    ``item_count`` come from the header, before any batch is decoded; :meth:`batches` decodes one batch
    at a time and raises :class:`LandingError` if the file does not hold what its header announced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
        header = _plan_header(first)
        self._legacy: plan_module.PostingPlan | None = None
        if header is None:  # the single-document plan of write_plan: small enough to decode whole
            self._legacy = decode_plan(json.loads(path.read_text(encoding="utf-8")))
            batches = self._legacy.batches
            self.cpny_ids: tuple[str, ...] = tuple(sorted({b.cpny_id for b in batches}))
            self.batch_count = len(batches)
            self.item_count = sum(len(b.items) for b in batches)
            self._fields: dict[str, Any] = {}
        else:
            self.cpny_ids = tuple(str(c) for c in header["cpny_ids"])
            self.batch_count = int(header["batches"])
            self.item_count = int(header["items"])
            self._fields = {k: decode_plan_value(v) for k, v in (header.get("fields") or {}).items()}

    @property
    def legacy(self) -> bool:
        """True when the file is the single JSON document written before the line format."""
        return self._legacy is not None

    def batches(self) -> Iterator[plan_module.PlannedBatch]:
        """The plan's batches in order, each decoded only when it is reached."""
        if self._legacy is not None:
            yield from self._legacy.batches
            return
        batch_cls, decode_item = plan_module.PlannedBatch, _ITEM_DECODER.decode
        seen_batches = seen_items = 0
        with self.path.open(encoding="utf-8") as fh:
            fh.readline()  # the header, read in __init__
            line = fh.readline()
            while line:
                record = json.loads(line)
                if "__end__" in record:
                    if (record.get("batches"), record.get("items")) != (self.batch_count, self.item_count):
                        break
                    if seen_batches != self.batch_count or seen_items != self.item_count or fh.readline():
                        break
                    return
                if record.get("__batch__") != batch_cls.__name__:
                    raise LandingError(f"{self.path}: expected a batch line, found {line[:60]!r}")
                want = int(record["items"])
                items = []
                for _ in range(want):
                    item_line = fh.readline()
                    if not item_line:
                        break
                    items.append(decode_item(item_line))
                if len(items) != want:
                    break
                head = {k: decode_plan_value(v) for k, v in record["head"].items()}
                seen_batches += 1
                seen_items += want
                yield batch_cls(items=tuple(items), **head)
                line = fh.readline()
        raise LandingError(
            f"{self.path} is incomplete or inconsistent: its header announces {self.batch_count} batches of "
            f"{self.item_count} items, {seen_batches} batches of {seen_items} items were read"
        )

    def application_refs(self) -> set[str]:
        """The invoice numbers the plan's payments apply to, from one pass over the file that decodes only
        the item lines naming an application (most payments have none): what the writer's pending cache
        keeps for the load step (``SLWriter.write_batches``)."""
        if self._legacy is not None:
            return plan_module.application_refs(self._legacy.batches)
        refs = set[str]()
        loads = json.loads  # plain JSON (no object hook): an application's ref_nbr is a bare string
        with self.path.open(encoding="utf-8") as fh:
            fh.readline()  # the header
            for line in fh:
                if '"InvoiceApplication"' not in line:
                    continue
                item = loads(line)
                if item.get("__dc__") == "PlannedPayment":
                    refs.update(str(a["ref_nbr"]) for a in item.get("applications") or ())
        return refs

    def plan(self) -> plan_module.PostingPlan:
        """The whole plan in memory (tests, tools, small plans): the same object ``decode_plan`` gives."""
        return plan_module.PostingPlan(batches=tuple(self.batches()), **self._fields)


def _plan_default(value: Any) -> Any:
    """``encode_plan_value`` as the C encoder's ``default``: called only for what JSON cannot hold
    (dataclasses, Decimal, dates); tuples, str, int… are written by the encoder itself, as
    ``encode_plan_value`` leaves them. An Enum field (a str/int subclass the encoder would write bare) is
    tagged here, as ``encode_plan_value`` tags it."""
    names = _FIELDS.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _field_names(type(value))
    if names is not None:
        out: dict[str, Any] = {"__dc__": type(value).__name__}
        for name in names:
            field_value = getattr(value, name)
            out[name] = encode_plan_value(field_value) if isinstance(field_value, Enum) else field_value
        return out
    if isinstance(value, Decimal):
        return {"__dec__": str(value)}
    if isinstance(value, dt.datetime):
        return {"__dt__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    raise TypeError(f"cannot encode {type(value).__name__} in a posting plan")


def _plan_hook(value: dict[str, Any]) -> Any:
    """``decode_plan_value`` as the C decoder's ``object_hook`` (called innermost dict first): tagged
    dicts become their objects and every list a tuple, as ``decode_plan_value`` makes them."""
    for key, item in value.items():
        if type(item) is list:
            value[key] = _tuples(item)
    if "__dc__" in value:
        name = value.pop("__dc__")
        cls = _PLAN_CLASSES.get(name)
        if cls is None:
            raise LandingError(f"plan file names unknown type {name!r}")
        return cls(**value)
    if "__enum__" in value:
        cls = _PLAN_CLASSES.get(value["__enum__"])
        if cls is None:
            raise LandingError(f"plan file names unknown enum {value['__enum__']!r}")
        return cls(value["value"])
    if "__dec__" in value:
        return Decimal(value["__dec__"])
    if "__dt__" in value:
        return dt.datetime.fromisoformat(value["__dt__"])
    if "__date__" in value:
        return dt.date.fromisoformat(value["__date__"])
    return value


def _tuples(value: list[Any]) -> tuple[Any, ...]:
    return tuple(_tuples(v) if type(v) is list else v for v in value)


_ITEM_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_plan_default)
_ITEM_DECODER = json.JSONDecoder(object_hook=_plan_hook)


def _plan_header(line: str) -> dict[str, Any] | None:
    """The header of the line format, or None when the file is a single JSON document (older format)."""
    if not line.startswith('{"__plan__":'):
        return None
    try:
        header = json.loads(line)
    except ValueError:
        return None  # a one-line document that merely starts like a header: not the line format
    if not isinstance(header, dict) or header.get("__plan__") != PLAN_LINES_FORMAT:
        raise LandingError(f"plan file format {header.get('__plan__')!r} is not {PLAN_LINES_FORMAT!r}")
    return header


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# -- posting plan codec -------------------------------------------------------------------------------
# Tagged JSON so the plan survives the hop from the transform task to the load task exactly
# (Decimal stays Decimal, dates stay dates, tuples stay tuples). Only classes of paytrace_sl.plan decode.

_PLAN_CLASSES: dict[str, type[Any]] = {
    name: obj
    for name, obj in vars(plan_module).items()
    if isinstance(obj, type) and obj.__module__ == plan_module.__name__
}


_FIELDS: dict[type[Any], tuple[str, ...]] = {}
_ATOMS = frozenset({str, int, float, bool, type(None)})


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def encode_plan_value(value: Any) -> Any:
    cls = type(value)
    if cls in _ATOMS:
        return value
    names = _FIELDS.get(cls)  # a dataclass seen before (the plan's items): no introspection per value
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _field_names(cls)
    if names is not None:
        out: dict[str, Any] = {"__dc__": cls.__name__}
        for name in names:
            out[name] = encode_plan_value(getattr(value, name))
        return out
    if isinstance(value, Enum):
        return {"__enum__": cls.__name__, "value": value.value}
    if isinstance(value, Decimal):
        return {"__dec__": str(value)}
    if isinstance(value, dt.datetime):
        return {"__dt__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    if isinstance(value, list | tuple):
        return [encode_plan_value(v) for v in value]
    if isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot encode {type(value).__name__} in a posting plan")


def decode_plan_value(value: Any) -> Any:
    """Inverse of :func:`encode_plan_value`: children first, then :func:`_plan_hook` on each dict (what
    the C decoder does with the hook), so both readers build the same objects."""
    if isinstance(value, list):
        return tuple(decode_plan_value(v) for v in value)
    if not isinstance(value, dict):
        return value
    return _plan_hook({k: decode_plan_value(v) for k, v in value.items()})


def encode_plan(posting_plan: plan_module.PostingPlan) -> dict[str, Any]:
    encoded = encode_plan_value(posting_plan)
    assert isinstance(encoded, dict)
    return encoded


def decode_plan(data: dict[str, Any]) -> plan_module.PostingPlan:
    decoded = decode_plan_value(data)
    if not isinstance(decoded, plan_module.PostingPlan):
        raise LandingError("plan file does not hold a PostingPlan")
    return decoded
