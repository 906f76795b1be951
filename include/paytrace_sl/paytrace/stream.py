"""Incremental parse of one PayTrace answer: ``{envelope..., "<key>": [record, ...], envelope...}``.

PayTrace v1 has no pagination: a day's export is one JSON document. :class:`EnvelopeStream` reads it
from the body's chunks as they arrive and hands out the records of the ``key`` array one by one, so a
day is never held whole in memory; the other members (``success``, ``response_code``, ``errors``…)
are collected in :attr:`EnvelopeStream.envelope`, whether they come before or after the array.

Each value is parsed by the standard library's C scanner (``json.scanner.make_scanner`` of a decoder with
``parse_float=Decimal``, the same decoder as ``json.loads(body, parse_float=Decimal)``), so a record
is exactly what the whole-document parse gives; only the object/array punctuation between values is
walked here. A value cut by a chunk boundary is parsed again once more text has arrived (the text read
ahead doubles each time, so a large value costs at most about twice its size). Errors give a position,
never the body's text.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from json.scanner import make_scanner
from typing import Any, cast

from paytrace_sl.errors import PaytraceSlError

__all__ = ["EnvelopeStream", "StreamFormatError"]

_WS = re.compile(r"[ \t\n\r]*")
# the C scanner json.loads uses (typeshed types its argument as the scanner class itself)
_SCAN: Any = make_scanner(cast(Any, json.JSONDecoder(parse_float=Decimal)))
_MIN_READ = 64 * 1024  # characters to read ahead when a value is cut by the end of the buffer


class StreamFormatError(PaytraceSlError, ValueError):
    """The body is not the expected JSON object (invalid, truncated, or the array is repeated).

    Its message gives a position in the body, never body text.
    """


class EnvelopeStream:
    """One JSON object read from ``chunks`` (UTF-8 bytes, optionally with a BOM as ``json.loads`` takes).

    Iterate :meth:`records` to the end: it yields the items of the member ``key`` when that member is an
    array and fills :attr:`envelope` with every other member (a non-array ``key`` member stays in the
    envelope, for the caller to judge). While the records are handed out, :attr:`envelope` holds the
    members that came before the array (a caller may refuse an answer whose ``success`` already says
    it failed).
    """

    def __init__(self, chunks: Iterable[bytes], key: str) -> None:
        self.key = key
        self.envelope: dict[str, Any] = {}
        self.records_read = 0
        self._chunks = iter(chunks)
        self._text = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self._buf = ""
        self._pos = 0
        self._eof = False

    # -- buffer ------------------------------------------------------------------------------------

    def _more(self, at_least: int = 1) -> bool:
        """Append at least ``at_least`` more characters (or up to the end); False when nothing came."""
        if self._eof:
            return False
        if self._pos:
            self._buf = self._buf[self._pos :]
            self._pos = 0
        parts = [self._buf]
        added = 0
        while added < at_least:
            chunk = next(self._chunks, None)
            if chunk is None:
                try:
                    tail = self._text.decode(b"", final=True)
                except UnicodeDecodeError:
                    raise StreamFormatError("body is not valid UTF-8") from None
                parts.append(tail)
                added += len(tail)
                self._eof = True
                break
            try:
                text = self._text.decode(chunk)
            except UnicodeDecodeError:
                raise StreamFormatError("body is not valid UTF-8") from None
            parts.append(text)
            added += len(text)
        self._buf = "".join(parts)
        return added > 0

    def _skip_ws(self) -> str:
        """Skip whitespace; the next character, or "" at the end of the body."""
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return ""

    def _value(self) -> Any:
        """The JSON value at the current position (read further while it is cut by the buffer's end)."""
        while True:
            buf, pos = self._buf, self._pos
            try:
                value, end = _SCAN(buf, pos)
            except (StopIteration, json.JSONDecodeError):
                end = -1
            # a number that ends with the buffer may continue in the next chunk: complete only at a
            # delimiter or at the end of the body
            if end != -1 and (end < len(buf) or self._eof):
                self._pos = end
                return value
            if self._eof or not self._more(max(_MIN_READ, len(self._buf) - self._pos)):
                raise StreamFormatError(f"invalid or truncated JSON value at character {self._consumed}")

    def _member_name(self) -> str:
        while True:
            if self._buf[self._pos] != '"':
                raise StreamFormatError(f"expected a member name at character {self._consumed}")
            try:
                name, end = _SCAN(self._buf, self._pos)  # a JSON string, at its opening quote
            except (StopIteration, json.JSONDecodeError):
                end = -1
            if end != -1:
                self._pos = end
                return str(name)
            if self._eof or not self._more(max(_MIN_READ, len(self._buf) - self._pos)):
                raise StreamFormatError(f"invalid or truncated member name at character {self._consumed}")

    def _expect(self, allowed: str, what: str) -> str:
        char = self._skip_ws()
        if not char or char not in allowed:
            raise StreamFormatError(f"expected {what} at character {self._consumed}")
        self._pos += 1
        return char

    @property
    def _consumed(self) -> int:
        return self._pos  # position within the current buffer: enough to locate a fault, no content

    # -- the document ------------------------------------------------------------------------------

    def records(self) -> Iterator[Any]:
        """Yield the records of the ``key`` array as they are parsed; fills :attr:`envelope`."""
        first = self._skip_ws()
        if first != "{":
            raise StreamFormatError("not a JSON object")
        self._pos += 1
        array_seen = False
        if self._skip_ws() == "}":
            self._pos += 1
        else:
            while True:
                if not self._skip_ws():
                    raise StreamFormatError("truncated before a member name")
                name = self._member_name()
                self._expect(":", "':'")
                if name == self.key and self._skip_ws() == "[":
                    if array_seen or name in self.envelope:
                        raise StreamFormatError(f"member {self.key!r} appears more than once")
                    array_seen = True
                    self._pos += 1
                    yield from self._array_items()
                else:
                    if name == self.key and array_seen:
                        raise StreamFormatError(f"member {self.key!r} appears more than once")
                    self._skip_ws()
                    self.envelope[name] = self._value()
                if self._expect(",}", "',' or '}'") == "}":
                    break
        if self._skip_ws():
            raise StreamFormatError(f"extra data after the JSON object at character {self._consumed}")

    def _array_items(self) -> Iterator[Any]:
        if self._skip_ws() == "]":
            self._pos += 1
            return
        scan = _SCAN
        while True:
            # fast path: the record and the delimiter after it are in the buffer (no whitespace)
            buf, pos = self._buf, self._pos
            try:
                value, end = scan(buf, pos)
            except (StopIteration, json.JSONDecodeError):
                end = -1
            if end != -1 and end < len(buf) and buf[end] in ",]":
                self._pos = end + 1
                self.records_read += 1
                yield value
                if buf[end] == "]":
                    return
                continue
            self._skip_ws()
            value = self._value()
            self.records_read += 1
            yield value
            if self._expect(",]", "',' or ']'") == "]":
                return
