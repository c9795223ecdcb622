"""Making stored text safe to print: invoice data comes from upstream systems and may
hold newlines, terminal escape codes or rich markup."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

# Control characters (ESC included), and lone surrogates, which no encoder can write.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BYTE_ESCAPES = (0xDC80, 0xDCFF)
MAX_LINE = 1000  # characters of one error line; the rest is counted, not shown


def safe(value: object) -> str:
    """One printable line: control characters shown as \\xNN escapes, lone surrogates
    as \\udNNN, except those that stand for a byte a file name held and the locale could
    not decode (U+DC80..U+DCFF, Python's surrogate escapes): those show the byte, \\xNN."""
    return _UNPRINTABLE.sub(_escape, str(value))


def moment(day: date, instant: datetime | None) -> str:
    """What a pass ran as of, for people: the instant in UTC, saying so, or the date."""
    if instant is None:
        return day.isoformat()
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def capped(text: str, limit: int = MAX_LINE) -> str:
    """`text`, cut at `limit` characters with a count of what was left out."""
    if len(text) <= limit:
        return text
    left = len(text) - limit
    return f"{text[:limit]}... ({left:,} more {'character' if left == 1 else 'characters'})"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if _BYTE_ESCAPES[0] <= code <= _BYTE_ESCAPES[1]:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"
