"""PCI / secret scanner: prove that no card number, CVV, credential or token sits in what we keep.

It looks at text (log lines, landing files, GX results, run summaries) and at every text column of
every table of a database (SL's tables and our ``xPT*`` tables). What counts as a finding:

* ``pan`` — a Luhn-valid 13–19 digit card number, contiguous or grouped with any of the separators of
  :mod:`paytrace_sl.pan_detector` (spaces of every kind, dashes, dots, slashes, underscores, also
  JSON-escaped); masked numbers such as ``411111******1111`` or ``************1111`` are fine;
* ``cvv`` — a ``csc``/``cvv``/``cvv2``/``cvc`` key carrying a 3–4 digit value;
* ``secret`` — a known secret value (API password, integrator id, issued token…) given by the caller,
  raw or URL/JSON-encoded;
* ``credential-field`` — a ``password``/``client_secret``/``access_token``/… key with an unmasked value;
* ``bearer`` — an ``Authorization: Bearer <token>`` value that was not redacted;
* ``oauth-token`` — PayTrace's access-token shape ``<hex>:<hex>:<64 hex>``.

Detection reuses :mod:`paytrace_sl.pan_detector` and :mod:`paytrace_sl.redaction`, so the scanner, the
redaction layer, the landing guard and the GX scrubber agree on what a card number is. A finding never
carries the secret itself: only its kind, where it is, and a masked excerpt — the scanner's own output
must be safe to paste into a ticket.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paytrace_sl.pan_detector import pan_spans
from paytrace_sl.redaction import _variants, find_pans, find_secrets

KINDS = ("pan", "cvv", "secret", "credential-field", "bearer", "oauth-token")

_CVV = re.compile(
    r"(?i)(?<![A-Za-z0-9_])[\"']?(?:encrypted_)?(?:csc|cvv2?|cvc2?)[\"']?\s*[:=]\s*[\"']?(\d{3,4})(?!\d)"
)
_CREDENTIAL = re.compile(
    r"(?i)(?<![A-Za-z0-9_])[\"']?(password|passwd|client_secret|access_token|refresh_token|integrator_id)"
    r"[\"']?\s*[:=]\s*(?:([\"'])(.*?)(?<!\\)\2|([^\s&,;\"'}]+))"
)
_BEARER = re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/:=-]{8,})")
_OAUTH = re.compile(r"(?i)(?<![0-9a-f])[0-9a-f]{8,}:[0-9a-f]{8,}:[0-9a-f]{64}(?![0-9a-f])")
_HEX_RUN = re.compile(r"(?i)[0-9a-f]{32,}")
# one decimal number, or several separated by blanks (an SVG path, a float array): not a card
_DECIMALS = re.compile(r"[0-9]+\.[0-9]+(?:[ \t]+[0-9]+\.[0-9]+)*")
_MIN_SECRET_LEN = 4
_EXCERPT_WIDTH = 40


@dataclass(frozen=True)
class Finding:
    """One thing that must not be there. ``excerpt`` is masked; the matched value is never kept."""

    kind: str
    location: str
    excerpt: str
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.location}: {self.kind}{extra}: {self.excerpt}"


def _mask(value: str, kind: str) -> str:
    """A masked form of a matched value: last 4 digits for a card, a length hint for everything else."""
    if kind == "pan":
        digits = "".join(d for _, _, d in pan_spans(value, json=True)) or re.sub(r"\D", "", value)
        return "*" * (len(digits) - 4) + digits[-4:]
    return f"<{kind} {len(value)} chars>"


def _is_masked(value: str) -> bool:
    stripped = value.strip()
    return (
        not stripped
        or set(stripped) <= set("*xX•#-")
        or stripped.lower() in {"<redacted>", "redacted", "none", "null", "***"}
    )


def _pan_spans(line: str, *, binary: bool = False) -> Iterator[tuple[int, int]]:
    """Spans of card numbers in ``line``, skipping digit runs that are part of hashes or decimals.

    ``binary``: the text is a binary file read byte for byte (a SQLite page, a pickle), where fields
    are packed without separators; a digit run glued to letters or digits there is concatenated fields
    (e.g. CustId + RefNbr + BatNbr in an index record), not a card, so only a free-standing run counts,
    and only in a printed card's layout (packed timestamps make 18-digit runs; the text columns of a
    database are scanned as text by :func:`scan_database`).
    """
    hex_runs = [m.span() for m in _HEX_RUN.finditer(line) if re.search(r"(?i)[a-f]", m.group(0))]
    for start, end, _ in pan_spans(line, json=True, layout_only=binary):
        if _DECIMALS.fullmatch(line, start, end):
            continue  # decimal numbers (``0.4111111111111111``, ``59.72070 5.597654``): not a card
        if any(s <= start and end <= e for s, e in hex_runs):
            continue  # inside a sha256 digest / token: not a card (a token is reported as oauth-token)
        if start >= 2 and line[start - 1] == "." and line[start - 2].isdigit():
            continue  # the fraction of a decimal number (e.g. a float's repr)
        if line[end : end + 1] == "." and line[end + 1 : end + 2].isdigit():
            continue  # the integer part of a decimal number (an amount, never a card)
        if binary and (line[start - 1 : start].isalnum() or line[end : end + 1].isalnum()):
            continue
        yield start, end


def _line_spans(line: str, secrets: Sequence[str], binary: bool) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, detail) of every finding on one line."""
    spans: list[tuple[int, int, str, str]] = []
    if len(line) >= 13:
        spans.extend((s, e, "pan", "") for s, e in _pan_spans(line, binary=binary))
    for m in _CVV.finditer(line):
        spans.append((m.start(1), m.end(1), "cvv", ""))
    for m in _CREDENTIAL.finditer(line):
        value_group = 3 if m.group(2) else 4
        value = m.group(value_group) or ""
        if len(value) >= _MIN_SECRET_LEN and not _is_masked(value):
            spans.append((m.start(value_group), m.end(value_group), "credential-field", m.group(1).lower()))
    for m in _BEARER.finditer(line):
        token = m.group(1)
        if any(c.isdigit() for c in token) and not _is_masked(token):
            spans.append((m.start(1), m.end(1), "bearer", ""))
    for m in _OAUTH.finditer(line):
        spans.append((m.start(), m.end(), "oauth-token", ""))
    for index, secret in enumerate(find_secrets(line, secrets)):
        for form in _variants(secret):
            start = line.find(form) if form else -1
            while start >= 0:
                spans.append((start, start + len(form), "secret", f"known secret #{index + 1}"))
                start = line.find(form, start + len(form))
    return spans


def _masked_line(line: str, spans: Sequence[tuple[int, int, str, str]]) -> str:
    """``line`` with every finding replaced by its masked form (overlaps merged, leftmost first)."""
    out: list[str] = []
    cursor = 0
    for start, end, kind, _ in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start < cursor:
            if end > cursor:  # overlapping finding: mask the rest too
                out.append("*" * (end - cursor))
                cursor = end
            continue
        out.append(line[cursor:start])
        out.append(_mask(line[start:end], kind))
        cursor = end
    out.append(line[cursor:])
    return "".join(out)


def _excerpt(masked: str, anchor: int) -> str:
    lo = max(0, anchor - _EXCERPT_WIDTH)
    hi = min(len(masked), anchor + 2 * _EXCERPT_WIDTH)
    text = masked[lo:hi].replace("\t", " ")
    return ("…" if lo > 0 else "") + text + ("…" if hi < len(masked) else "")


def _known_secrets(secrets: Iterable[str | None]) -> list[str]:
    return sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)


def scan_text(
    text: str, *, secrets: Iterable[str | None] = (), location: str = "<text>", binary: bool = False
) -> list[Finding]:
    """Findings in ``text``; each location is ``<location>:<line number>`` (see :func:`_pan_spans`)."""
    known = _known_secrets(secrets)
    findings: list[Finding] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        spans = _line_spans(line, known, binary)
        if not spans:
            continue
        masked = _masked_line(line, spans)
        shift = 0
        # map each span's start into the masked line (masks change lengths), leftmost first
        for start, end, kind, detail in sorted(spans, key=lambda s: (s[0], -s[1])):
            anchor = max(0, start + shift)
            findings.append(Finding(kind, f"{location}:{lineno}", _excerpt(masked, anchor), detail))
            shift += len(_mask(line[start:end], kind)) - (end - start)
    return findings


def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"nothing to scan at {path}")


@functools.cache
def shipped_asset_digests() -> frozenset[str]:
    """sha256 of the third-party files this package ships (the vendored Data Docs assets).

    A byte-identical copy of one of them is that published file, not data of ours, so the scanner passes
    over it: minified CSS/SVG paths hold digit runs that pass the Luhn check by chance (bootstrap 4.3.1's
    checkbox icon does). A copy changed by a single byte is an ordinary file again and is scanned."""
    from importlib import resources

    digests: set[str] = set()
    pending = [resources.files("paytrace_sl.pipeline") / "data_docs_assets"]
    while pending:
        node = pending.pop()
        if node.is_dir():
            pending.extend(node.iterdir())
        elif node.is_file() and node.name != "SOURCES.md":
            digests.add(hashlib.sha256(node.read_bytes()).hexdigest())
    return frozenset(digests)


def scan_paths(paths: Iterable[str | Path], *, secrets: Iterable[str | None] = ()) -> list[Finding]:
    """Findings in every file under ``paths`` (directories recursively, binary files as bytes); an
    unchanged copy of a third-party file we ship is passed over (:func:`shipped_asset_digests`)."""
    known = _known_secrets(secrets)
    shipped = shipped_asset_digests()
    findings: list[Finding] = []
    for path in _files(paths):
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() in shipped:
            continue
        # latin-1 keeps every byte, so a card number inside a SQLite file or a pickle is still found
        if _is_text(data):
            findings.extend(scan_text(data.decode("utf-8"), secrets=known, location=str(path)))
        else:
            findings.extend(scan_text(data.decode("latin-1"), secrets=known, location=str(path), binary=True))
    return findings


def _is_text(data: bytes) -> bool:
    """UTF-8 without NUL bytes; anything else (SQLite pages, pickles, gzip) is scanned as binary."""
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_text_type(type_: Any) -> bool:
    import sqlalchemy as sa

    return isinstance(type_, (sa.String, sa.Text, sa.Unicode, sa.UnicodeText, sa.JSON))


def scan_database(
    engine: Any, *, secrets: Iterable[str | None] = (), chunk_rows: int = 5000
) -> list[Finding]:
    """Findings in every text column of every table (SL's and ours); locations ``table.column[key]``."""
    import sqlalchemy as sa

    known = _known_secrets(secrets)
    findings: list[Finding] = []
    inspector = sa.inspect(engine)
    for schema_table in sorted(inspector.get_table_names()):
        columns = [c["name"] for c in inspector.get_columns(schema_table) if _is_text_type(c["type"])]
        if not columns:
            continue
        pk = inspector.get_pk_constraint(schema_table).get("constrained_columns") or []
        table = sa.table(schema_table, *(sa.column(n) for n in dict.fromkeys([*pk, *columns])))
        query = sa.select(*(table.c[n] for n in dict.fromkeys([*pk, *columns])))
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
            for rownum, row in enumerate(result, start=1):
                mapping = row._mapping
                key = ",".join(str(mapping[k]).strip() for k in pk) if pk else f"row {rownum}"
                if pk and (find_pans(key) or find_secrets(key, known)):
                    key = f"row {rownum}"  # the key itself leaks: do not repeat it in the location
                for name in columns:
                    value = mapping[name]
                    if value is None:
                        continue
                    text = value if isinstance(value, str) else str(value)
                    findings.extend(scan_text(text, secrets=known, location=f"{schema_table}.{name}[{key}]"))
    return findings


def summarize(findings: Sequence[Finding]) -> dict[str, int]:
    """Count of findings per kind (every kind present, zero when clean)."""
    counts = dict.fromkeys(KINDS, 0)
    for finding in findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    return counts
