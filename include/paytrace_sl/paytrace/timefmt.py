"""PayTrace's date formats, both directions.

Responses carry local timestamps like ``"4/10/2025 4:06:30 PM"``: no zero padding, 12-hour clock and
no time zone (reference §3.1/§3.2). The zone is not documented; we treat it as the merchant's time
zone (configuration, default ``America/Los_Angeles``). Requests take dates as ``MM/DD/YYYY``.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "America/Los_Angeles"

_STAMP = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?\s*([AaPp][Mm])\s*$"
)
_REQUEST_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")


def parse_paytrace_datetime(value: str, tz: ZoneInfo) -> dt.datetime:
    """Parse ``M/D/YYYY h:mm:ss AM/PM`` as local time in ``tz``; raises ValueError on anything else.

    An ambiguous local time (the repeated hour when DST ends) resolves to the first occurrence
    (``fold=0``), and a non-existent one (the skipped hour) is shifted forward by zoneinfo's rules.
    """
    match = _STAMP.match(value)
    if not match:
        raise ValueError(f"not a PayTrace timestamp (M/D/YYYY h:mm:ss AM/PM): {value!r}")
    month, day, year, hour, minute, second, ampm = match.groups()
    h = int(hour)
    if not 1 <= h <= 12:
        raise ValueError(f"hour out of range in PayTrace timestamp: {value!r}")
    h = h % 12 + (12 if ampm.upper() == "PM" else 0)
    return dt.datetime(int(year), int(month), int(day), h, int(minute), int(second or 0), tzinfo=tz)


def format_paytrace_datetime(value: dt.datetime, tz: ZoneInfo) -> str:
    """Render a datetime the way PayTrace does, in ``tz``: ``4/10/2025 4:06:30 PM``."""
    local = value.astimezone(tz) if value.tzinfo else value.replace(tzinfo=tz)
    hour12 = local.hour % 12 or 12
    ampm = "AM" if local.hour < 12 else "PM"
    return f"{local.month}/{local.day}/{local.year} {hour12}:{local.minute:02d}:{local.second:02d} {ampm}"


def format_request_date(value: dt.date) -> str:
    """``MM/DD/YYYY`` as PayTrace's export requests expect."""
    return f"{value.month:02d}/{value.day:02d}/{value.year:04d}"


def parse_request_date(value: str) -> dt.date:
    """Parse ``MM/DD/YYYY`` (strict); raises ValueError otherwise."""
    match = _REQUEST_DATE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not a MM/DD/YYYY date: {value!r}")
    month, day, year = (int(g) for g in match.groups())
    return dt.date(year, month, day)
