"""The dunning schedule: when a declined invoice is charged again. Pure."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

MAX_RETRIES = 12
MAX_OFFSET_DAYS = 365


class ScheduleError(ValueError):
    """A dunning schedule that cannot be used."""


@dataclass(frozen=True, slots=True)
class DunningSchedule:
    """Retry days, counted from the first decline. `1,3,7` means: retry one, three
    and seven days after the first decline; a decline on the last retry makes the
    invoice UNCOLLECTIBLE."""

    offsets_days: tuple[int, ...] = (1, 3, 7)

    def __post_init__(self) -> None:
        offsets = self.offsets_days
        if len(offsets) > MAX_RETRIES:
            raise ScheduleError(f"at most {MAX_RETRIES} retries, got {len(offsets)}")
        if any(day < 1 or day > MAX_OFFSET_DAYS for day in offsets):
            raise ScheduleError(f"retry days must be between 1 and {MAX_OFFSET_DAYS}")
        if any(later <= earlier for earlier, later in itertools.pairwise(offsets)):
            raise ScheduleError("retry days must be strictly increasing, e.g. 1,3,7")

    @classmethod
    def parse(cls, text: str) -> DunningSchedule:
        """Parse '1,3,7'. An empty text means: never retry, a decline is final."""
        stripped = text.strip()
        if not stripped:
            return cls(())
        try:
            offsets = tuple(int(part) for part in stripped.split(","))
        except ValueError:
            raise ScheduleError(
                f"expected comma-separated whole days such as 1,3,7, got {text!r}"
            ) from None
        return cls(offsets)

    def next_retry_on(self, first_declined_on: date, declines: int, as_of: date) -> date | None:
        """When to retry after the `declines`-th decline, or None when retries are spent.

        A retry is never scheduled for the day it was declined: if cron missed days
        and the scheduled day has passed, the retry is due tomorrow.
        """
        if declines > len(self.offsets_days):
            return None
        try:
            scheduled = first_declined_on + timedelta(days=self.offsets_days[declines - 1])
        except OverflowError:  # a corrupt first_declined_on near year 9999
            scheduled = date.max
        return max(scheduled, as_of + timedelta(days=1))

    def __str__(self) -> str:
        return ",".join(str(day) for day in self.offsets_days) or "(no retries)"
