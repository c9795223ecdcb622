"""Calendar helpers. Pure: "today" is always passed in, never read from a clock."""

from __future__ import annotations

from datetime import date


def parse_iso_date(text: str) -> date:
    """Parse YYYY-MM-DD strictly; raise ValueError with a message an operator can act on."""
    stripped = text.strip()
    if len(stripped) != 10:
        raise ValueError(f"expected a date like 2026-11-01, got {text!r}")
    try:
        return date.fromisoformat(stripped)
    except ValueError:
        raise ValueError(f"expected a date like 2026-11-01, got {text!r}") from None


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def months_before(day: date, months: int) -> date:
    """The first of the month `months` before the month of `day`."""
    index = day.year * 12 + (day.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)
