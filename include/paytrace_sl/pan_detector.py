"""The one card-number (PAN) detector: redaction, the landing guard, the GX scrubber and ``pci-scan``.

A PAN is 13–19 digits that pass the Luhn check, however they are written. What counts:

* **digits**: any Unicode decimal digit (``4``, full-width ``４``, Arabic-Indic ``٤`` …), also as a JSON
  escape (``\\uff14``) because landing files and dead-letter payloads are ASCII-escaped JSON;
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
# the same separators as JSON escapes (``\u00a0``; ``\t``, ``\/``), case-insensitive hex
_SEP_ESCAPE = (
    r"\\(?:u(?i:00a0|00ad|00b7|1680|180e|200[0-9a-d]|201[0-5]|202f|205f|2024|2027|2044|2060|2212|2215"
    r"|3000|30fb|fe58|fe63|feff|ff0d|ff0e|ff0f|ff3c|ff3f)|[t/])"
)
# non-ASCII decimal digits as JSON escapes: full-width, Arabic-Indic (two blocks), Devanagari
_DIGIT_ESCAPE = r"\\u(?i:ff1[0-9]|066[0-9]|06f[0-9]|096[6-9a-f])"
_D = rf"(?:\d|{_DIGIT_ESCAPE})"
_S = rf"(?:{_SEP_ESCAPE}|[{SEPARATORS}])"

# a run of >= 13 digits with <= 3 separators between neighbours; D and S never overlap, so no blow-up
# (never starting inside a ``\uXXXX`` escape, whose hex may hold digits)
_NOT_IN_ESCAPE = r"(?<!\\u)(?<!\\u[0-9a-fA-F])(?<!\\u[0-9a-fA-F]{2})(?<!\\u[0-9a-fA-F]{3})"
PAN_RUN = re.compile(rf"{_NOT_IN_ESCAPE}{_D}(?:{_S}{{0,{MAX_SEPARATORS}}}{_D}){{{MIN_DIGITS - 1},}}")
# a run read token by token: a digit, or a separator (whose escape may itself hold digits: \u00a0)
_TOKEN = re.compile(rf"({_D})|{_S}")
_ESCAPE = re.compile(rf"{_SEP_ESCAPE}|{_DIGIT_ESCAPE}")
# Pre-filters: every run lies inside one match of these (a maximal stretch of characters a run can be
# made of). Plain character classes are several times faster than PAN_RUN; PAN_RUN then only reads
# the few stretches found. ASCII text without our escapes (a landing chunk) gets the smallest class.
_QUICK_ASCII = re.compile(r"[0-9][0-9\t \-./\\_]{12,}")
_QUICK_ANY = re.compile(rf"[\d\\][\d{SEPARATORS}a-fA-Fut]{{12,}}")


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


def _digit_value(token: str) -> str:
    """One digit token as an ASCII digit (``"٤"`` and ``"\\u0664"`` both give ``"4"``)."""
    if len(token) == 1:
        return str(int(token))
    return str(int(chr(int(token[2:], 16))))


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
    groups: list[tuple[int, int, str]] = []  # (start, end, ascii digits) of each digit group
    for token in _TOKEN.finditer(run):
        if token.group(1) is None:
            continue
        value = _digit_value(token.group(1))
        if groups and groups[-1][1] == token.start():
            start, _, digits = groups[-1]
            groups[-1] = (start, token.end(), digits + value)
        else:
            groups.append((token.start(), token.end(), value))
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


def pan_spans(text: str, *, layout_only: bool = False) -> Iterator[tuple[int, int, str]]:
    """(start, end, ASCII digits) of every card number in ``text``, left to right.

    ``layout_only``: only digit groups laid out like a printed card (:func:`card_layout`). For bytes
    that are not text (a SQLite file read byte for byte), where values are packed without separators
    and ``…00:00.000000`` + ``1900-01-01 00:00`` makes 18 digits out of two timestamps.
    """
    if len(text) < MIN_DIGITS:
        return
    plain = text.isascii() and not ("\\" in text and _ESCAPE.search(text))
    for stretch in (_QUICK_ASCII if plain else _QUICK_ANY).finditer(text):
        # in the whole text, not a slice of it: the look-behind must see a ``\u`` before the stretch
        for run in PAN_RUN.finditer(text, stretch.start(), stretch.end()):
            yield from _run_spans(run.group(0), run.start(), layout_only)


def find_pans(text: str) -> list[str]:
    """The card numbers in ``text``, as written (separators included)."""
    return [text[s:e] for s, e, _ in pan_spans(text)]


def contains_pan(text: str) -> bool:
    """Whether ``text`` holds a card number; stops at the first."""
    return next(pan_spans(text), None) is not None


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
