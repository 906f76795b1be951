"""The one card-number (PAN) detector: redaction, the landing guard, the GX scrubber and ``pci-scan``.

A PAN is 13–19 digits that pass the Luhn check, however they are written. What counts:

* **digits**: any Unicode decimal digit (``4``, full-width ``４``, Arabic-Indic ``٤`` …), also as a JSON
  escape (``\\uff14``) because landing files and dead-letter payloads are ASCII-escaped JSON (how a
  backslash is read, as JSON or literally, is :func:`pan_spans`'s ``json``);
* **separators** between digit groups: at most :data:`MAX_SEPARATORS` (3) characters from
  :data:`SEPARATORS` — every Unicode space but line breaks (tab, no-break and narrow no-break space,
  the ``U+2000`` family, ideographic space), invisible format characters (soft hyphen, zero-width
  space/joiners, word joiner, BOM), dashes (``-``, ``‐``…``―``, minus sign, full-width), dots (``.``,
  middle dot, one-dot leader, full-width), slashes and backslashes, underscores — each also as a JSON
  escape (``\\u00a0``, ``\\t``, ``\\/``). So ``4111.1111.1111.1111``, ``4111/1111/1111/1111``,
  ``4111_1111…``, ``4111  1111…``, ``4111\\u00a01111…``, ``41111111 11111111`` and
  ``4 1 1 1 1 1 …`` are all found;
* **not separators**: letters (a hex digest or a ``T`` in an ISO time would glue unrelated digits),
  ``:`` (clock times), ``,`` ``;`` quotes and brackets (JSON, CSV and lists of ids), ``*``/``x``/``•``
  (mask characters), line breaks (a file is scanned a chunk of lines at a time, so a number never
  spans lines).

A *run* is a maximal sequence of digit groups joined by short separators. Every sub-sequence of whole
groups holding 13–19 digits is Luhn-checked, so a PAN next to other numbers (``ref 12 4111 1111 1111
1111``) is still found; a digit group glued to more digits (``94111111111111111``) is one number.
The union of the Luhn-valid sub-sequences of a run is what gets masked (only its last 4 digits stay).

Speed: a character-class pre-filter finds, at C speed, the stretches that could hold a run (13+ digits
and separators); only those are read by :data:`PAN_RUN` and the Luhn windows in Python, so
:func:`contains_pan` over a landing chunk costs about one pass of a simple regex (faster than the old
spaces-and-dashes detector on ASCII JSON, see docs/performance.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

__all__ = [
    "MAX_SEPARATORS",
    "PAN_HINT",
    "PAN_RUN",
    "SEPARATORS",
    "card_layout",
    "contains_pan",
    "find_pans",
    "is_masked_card",
    "luhn_valid",
    "mask_pans",
    "pan_spans",
]

MAX_SEPARATORS = 3  # separator characters allowed between two digit groups of one card number
MIN_DIGITS = 13
MAX_DIGITS = 19

# literal separator characters (a regex character-class body)
SEPARATORS = (
    "\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"  # spaces (no line breaks)
    "\u00ad\u180e\u200b-\u200d\u2060\ufeff"  # invisible: soft hyphen, zero-width, word joiner, BOM
    "\\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d"  # dashes and minus signs
    ".\u00b7\u2024\u2027\u30fb\uff0e"  # dots
    "/\\\\\u2044\u2215\uff0f\uff3c"  # slashes, backslashes
    "_\uff3f"  # underscores
)
# A run: >= 13 digits with <= 3 separators between neighbours (digits and separators never overlap, so
# the nested repetition cannot blow up).
PAN_RUN = re.compile(rf"\d(?:[{SEPARATORS}]{{0,{MAX_SEPARATORS}}}\d){{{MIN_DIGITS - 1},}}")
_GROUP = re.compile(r"\d+")
# Pre-filters: every run, and every JSON-escaped form of one, lies inside one match of these (a maximal
# stretch of the characters it can be made of; a stretch starts at a character no escape can be in the
# middle of). Character classes are several times faster than PAN_RUN, which only reads the stretches.
# Text without a backslash (every landing chunk without escapes) gets the smallest class.
_QUICK_ASCII = re.compile(r"[0-9][0-9\t \-./_]{12,}")
_QUICK_ANY = re.compile(rf"\d[\d{SEPARATORS}]{{12,}}")  # the same for any text without a backslash
PAN_HINT = re.compile(rf"[\d\\][\d{SEPARATORS}a-fA-Fut]{{12,}}")
_HINT_ASCII = re.compile(r"[0-9\\][0-9a-fA-Fut\t \-./\\_]{12,}")  # PAN_HINT for ASCII text
# JSON string escapes, decoded before reading a stretch as JSON
# (only JSON's own escapes: an invalid one such as ``\\0`` stays a literal backslash and character)
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|([\"\\/bfnrt]))")
# A canonical UUID (8-4-4-4-12 hex). Its digit groups, joined by its dashes, pass Luhn by chance (GX
# writes UUIDs into every suite and result); a UUID holds 32 hex digits, never a card number.
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_HEX = "0123456789abcdefABCDEF"
_DIGEST_LENGTHS = frozenset((32, 40, 56, 64, 96, 128))  # hex digits of MD5, SHA-1, SHA-224/256/384/512
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"'}


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every card number satisfies (ASCII or other decimal digits)."""
    if not digits or not all(c.isdecimal() for c in digits):
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = int(char)
        if index % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _json_decoded(text: str) -> tuple[str, list[int]]:
    """``text`` with JSON escapes decoded, and where each decoded character starts in ``text`` (plus
    the end): an escaped backslash (``\\\\``) stays one literal backslash, so ``\\\\u00a0`` is no space."""
    out: list[str] = []
    where: list[int] = []
    cursor = 0
    for m in _JSON_ESCAPE.finditer(text):
        out.extend(text[cursor : m.start()])
        where.extend(range(cursor, m.start()))
        if m.group(1) is not None:
            out.append(chr(int(m.group(1), 16)))
        else:
            out.append(_SIMPLE_ESCAPES.get(m.group(2), m.group(2)))
        where.append(m.start())
        cursor = m.end()
    out.extend(text[cursor:])
    where.extend(range(cursor, len(text) + 1))
    return "".join(out), where


def card_layout(lengths: Sequence[int]) -> bool:
    """Whether digit groups of these lengths are a way cards are printed: one block, fours (the last
    group 1–7), 4-6-5 / 4-6-4 (Amex, Diners) or 8-8."""
    if len(lengths) == 1:
        return True
    if all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 7:
        return True
    return tuple(lengths) in ((4, 6, 5), (4, 6, 4), (8, 8))


def _run_spans(run: str, offset: int, layout_only: bool = False) -> list[tuple[int, int, str]]:
    """(start, end, digits) of the card numbers in one run (at ``offset``), overlapping ones merged."""
    groups = [(m.start(), m.end(), "".join(str(int(c)) for c in m.group(0))) for m in _GROUP.finditer(run)]
    hits: list[tuple[int, int]] = []  # (first group, last group) of each Luhn-valid window
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > MAX_DIGITS:
                break
            if len(digits) >= MIN_DIGITS and luhn_valid(digits):
                if not layout_only or card_layout([len(g[2]) for g in groups[i : j + 1]]):
                    hits.append((i, j))
    merged: list[list[int]] = []
    for i, j in sorted(hits):
        if merged and i <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], j)
        else:
            merged.append([i, j])
    return [
        (offset + groups[i][0], offset + groups[j][1], "".join(g[2] for g in groups[i : j + 1]))
        for i, j in merged
    ]


def _plain_spans(text: str, start: int, end: int, layout_only: bool) -> list[tuple[int, int, str]]:
    return [
        span
        for run in PAN_RUN.finditer(text, start, end)
        for span in _run_spans(run.group(0), run.start(), layout_only)
    ]


def _json_spans(stretch: str, offset: int, layout_only: bool) -> list[tuple[int, int, str]]:
    decoded, where = _json_decoded(stretch)
    return [
        (offset + where[s], offset + where[e], digits)
        for s, e, digits in _plain_spans(decoded, 0, len(decoded), layout_only)
    ]


def pan_spans(
    text: str, *, json: bool | None = None, layout_only: bool = False
) -> Iterator[tuple[int, int, str]]:
    """(start, end, ASCII digits) of every card number in ``text``, left to right.

    ``json``: how to read backslashes. ``True``: ``text`` is JSON (a landing file, a dead-letter
    payload), escapes are decoded first (``\\u00a0`` is a no-break space, ``\\uff14`` a digit, the hex
    of ``\\u2192`` no digits). ``False``: ``text`` is literal, a backslash is a separator. ``None``
    (the default, for decoded values and log lines): both readings, so a card that either reading
    shows is found — the parser masks at least what the landing guard (``True``) finds.

    ``layout_only``: only digit groups laid out like a printed card (:func:`card_layout`). For bytes
    that are not text (a SQLite file read byte for byte), where values are packed without separators
    and ``…00:00.000000`` + ``1900-01-01 00:00`` makes 18 digits out of two timestamps.
    """
    if len(text) < MIN_DIGITS:
        return
    for span in _pan_spans(text, json, layout_only):
        if not _inside_identifier(text, span[0], span[1]):
            yield span


def _token(text: str, start: int, end: int, chars: str) -> tuple[int, int]:
    """The maximal stretch of ``chars`` around ``text[start:end]``."""
    a, b = start, end
    while a > 0 and text[a - 1] in chars:
        a -= 1
    while b < len(text) and text[b] in chars:
        b += 1
    return a, b


def _inside_identifier(text: str, start: int, end: int) -> bool:
    """Whether the digits at ``start:end`` belong to a UUID or a hex digest (an id, never a card).

    A UUID's digit groups joined by its dashes, and the decimal stretches of a SHA-256 hex digest (the
    ledger's ``customer_digest``: 13+ decimals in a row in ~1 % of digests), pass Luhn by chance. Only
    whole tokens count: a canonical 8-4-4-4-12 UUID, or exactly 32/40/56/64/96/128 hex characters (MD5,
    SHA-1, SHA-2) with no letter or digit glued on either side. Checked only where a number was found,
    so the scan of clean text costs nothing extra.
    """
    for chars, fits in ((_HEX, _is_digest), (_HEX + "-", _is_uuid)):
        a, b = _token(text, start, end, chars)
        if (a == 0 or not text[a - 1].isalnum()) and (b == len(text) or not text[b].isalnum()):
            if fits(text[a:b]):
                return True
    return False


def _is_digest(token: str) -> bool:
    return len(token) in _DIGEST_LENGTHS and all(c in _HEX for c in token)


def _is_uuid(token: str) -> bool:
    return _UUID.fullmatch(token) is not None


def _pan_spans(text: str, json: bool | None, layout_only: bool) -> Iterator[tuple[int, int, str]]:
    if "\\" not in text:
        quick = _QUICK_ASCII if text.isascii() else _QUICK_ANY
        for stretch in quick.finditer(text):
            yield from _plain_spans(text, stretch.start(), stretch.end(), layout_only)
        return
    for stretch in (_HINT_ASCII if text.isascii() else PAN_HINT).finditer(text):
        a, b = stretch.start(), stretch.end()
        if "\\" not in stretch.group(0):
            yield from _plain_spans(text, a, b, layout_only)
            continue
        spans = [] if json is False else _json_spans(stretch.group(0), a, layout_only)
        if json is not True:
            spans.extend(_plain_spans(text, a, b, layout_only))
        yield from _merge(spans)


def _merge(spans: list[tuple[int, int, str]]) -> Iterator[tuple[int, int, str]]:
    """Overlapping spans (the two readings of one stretch) as one, left to right."""
    current: tuple[int, int, str] | None = None
    for span in sorted(spans):
        if current is not None and span[0] < current[1]:
            if span[1] > current[1]:  # digits: as many as the longer reading, the last 4 of the later
                longer = max(current[2], span[2], key=len)
                current = (current[0], span[1], longer[:-4] + span[2][-4:])
            continue
        if current is not None:
            yield current
        current = span
    if current is not None:
        yield current


def find_pans(text: str, *, json: bool | None = None) -> list[str]:
    """The card numbers in ``text``, as written (separators included); ``json`` as :func:`pan_spans`."""
    return [text[s:e] for s, e, _ in pan_spans(text, json=json)]


def contains_pan(text: str, *, json: bool | None = None) -> bool:
    """Whether ``text`` holds a card number (``json`` as :func:`pan_spans`); stops at the first."""
    return next(pan_spans(text, json=json), None) is not None


def mask_pans(text: str, marker: str | None = None) -> str:
    """Each card number replaced by ``*`` and its last 4 digits (PCI truncation), or by ``marker``."""
    if len(text) < MIN_DIGITS:
        return text
    out: list[str] = []
    cursor = 0
    for start, end, digits in pan_spans(text):
        out.append(text[cursor:start])
        out.append(marker if marker is not None else "*" * (len(digits) - 4) + digits[-4:])
        cursor = end
    if not out:
        return text
    out.append(text[cursor:])
    return "".join(out)


# PayTrace's masked card number (paytrace-api.md §3.1, §4): ``************1111``, first 6 + last 4 with
# ``include_bin`` (``411111******1111``), ``xxxxxxxxxxxx5439`` in other answers. ASCII digits only.
_MASKED_CARD = re.compile(r"[0-9]{0,6}[*xX]{2,15}[0-9]{0,4}")


def is_masked_card(value: str) -> bool:
    """Whether ``value`` has the shape of a masked card number: at most 6 leading and 4 trailing ASCII
    digits around mask characters, nothing else (the data contract's ``card_masked`` pattern)."""
    return _MASKED_CARD.fullmatch(value) is not None
