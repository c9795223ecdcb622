"""Calendar helpers. Pure: "today" is always passed in, never read from a clock."""

from __future__ import annotations

import re
from datetime import date

# Dates outside this range are typos, and would overflow date arithmetic downstream.
EARLIEST = date(1970, 1, 1)
LATEST = date(9998, 12, 31)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_iso_date(text: str) -> date:
    """Parse YYYY-MM-DD strictly; raise ValueError with a message an operator can act on."""
    stripped = text.strip()
    wrong = ValueError(f"expected a date like 2026-11-01, got {text!r}")
    if not _ISO_DATE.fullmatch(stripped):
        raise wrong
    try:
        parsed = date.fromisoformat(stripped)
    except ValueError:
        raise wrong from None
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError(f"{stripped} is outside {EARLIEST} to {LATEST}")
    return parsed


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def months_before(day: date, months: int) -> date:
    """The first of the month `months` before the month of `day`."""
    index = day.year * 12 + (day.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)
