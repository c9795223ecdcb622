"""The pass's clock: one moment, read as each customer's own calendar date. Pure.

An invoice is due when its due date has begun in its customer's time zone:
`due_date <= the customer's local date at the pass's instant`. `--as-of` gives that
moment in one of two forms:

- a date (`2026-12-01`): every customer's local date is that date, whatever their
  zone (the test clock of old, kept exactly);
- an instant with an offset (`2026-11-30T23:30:00-08:00`, `...Z`): each customer's
  local date is computed from it, in their zone.

A customer without a zone is in the company's zone (`--tz`), or the machine's when
none is given. A zone name that is not in the zone database is unknown: that
customer's invoices are held for an operator, never charged on a guessed date.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from antaeus_cli.domain.dates import EARLIEST, LATEST, parse_iso_date
from antaeus_cli.domain.invoice import FailureCode, Rejection

# An IANA key: letters, digits and `_+-`, in `/`-separated parts. Anything else (a
# path, a space, a NUL) is refused before the zone database is asked.
_ZONE_KEY = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
MAX_ZONE_NAME = 64
# Names the zone database holds that are not a place: the machine's own zone by another
# name, a template, a zone with no offset of its own, and the copies with and without
# leap seconds (whose midnights are 27 seconds off).
_NOT_A_PLACE = frozenset({"localtime", "posixrules", "Factory"})
_NOT_A_PLACE_PREFIXES = ("posix/", "right/")
# An instant whose UTC date is within these has a date within EARLIEST to LATEST in every
# zone (they are at most 14 hours from UTC).
FIRST_INSTANT_DAY = EARLIEST + timedelta(days=1)
LAST_INSTANT_DAY = LATEST - timedelta(days=1)
# `2026-11-30T23:30:00-08:00`, `...Z`, with optional fractions of a second.
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2})"
)


@functools.lru_cache(maxsize=1024)
def zone_named(name: object) -> ZoneInfo | None:
    """The zone of an IANA name such as `America/Los_Angeles`; None when unknown."""
    if type(name) is not str or len(name) > MAX_ZONE_NAME or not _ZONE_KEY.fullmatch(name):
        return None
    if name in _NOT_A_PLACE or name.startswith(_NOT_A_PLACE_PREFIXES):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # not found, or not a zone file
        return None


def parse_zone(text: str) -> ZoneInfo:
    """A zone an operator named (--tz); ValueError with the next step when unknown."""
    zone = zone_named(text.strip())
    if zone is None:
        raise ValueError(
            f"unknown time zone {text!r}: expected an IANA name such as Europe/Copenhagen "
            "or America/Los_Angeles"
        )
    return zone


def has_begun(day: object, local_date: date) -> bool:
    """The rule: a due date (or a retry date) is due once it has begun in the customer's
    zone, `day <= local_date`. store.claims.Due is its SQL form, for speed; a property
    test holds the two to the same answer. A stored date is ISO text (the schema checks
    it), which orders as the dates do."""
    return isinstance(day, str) and day <= local_date.isoformat()


def unknown_zone(customer_id: object, name: object) -> Rejection:
    """Why an invoice of a customer whose zone is unknown is held, and the next step."""
    shown = repr(name)[:80]
    return Rejection(
        FailureCode.MALFORMED,
        f"customer {customer_id!r} has time zone {shown}, which the zone database does not "
        "know, so the date it is due there cannot be told: set customer.timezone to an IANA "
        "name such as Europe/Copenhagen, or to NULL for the company zone (--tz); nothing "
        "was sent",
    )


# How far past the machine's clock an --as-of instant may be: the skew between hosts.
AHEAD_TOLERANCE = timedelta(minutes=5)
# The zone furthest ahead of UTC (Kiritimati, UTC+14): a date has begun somewhere once
# it has begun there.
FURTHEST_AHEAD = timedelta(hours=14)


def ahead_of(as_of: AsOf, now: datetime) -> bool:
    """Whether a pass's moment is later than `now`: an instant past it (beyond the
    tolerance), or a date that has not begun anywhere yet. A pass that ran then would
    charge invoices before they are due; only a dry run may look ahead."""
    if as_of.instant is not None:
        return as_of.instant > now + AHEAD_TOLERANCE
    assert as_of.day is not None  # noqa: S101 - one of the two is always set
    return as_of.day > (now.astimezone(UTC) + FURTHEST_AHEAD).date()


@dataclass(frozen=True, slots=True)
class AsOf:
    """The moment a pass runs as of: an aware instant, or one date for everybody."""

    instant: datetime | None = None  # in UTC
    day: date | None = None  # the date form

    @classmethod
    def at(cls, instant: datetime) -> AsOf:
        if instant.tzinfo is None:
            raise ValueError("an instant needs an offset, e.g. 2026-12-01T00:00:00Z")
        return cls(instant=instant.astimezone(UTC))

    @classmethod
    def on(cls, day: date) -> AsOf:
        return cls(day=day)

    @classmethod
    def parse(cls, text: str) -> AsOf:
        """`2026-12-01`, or an instant with an offset; ValueError an operator can act on."""
        stripped = text.strip()
        if len(stripped) <= 10:
            return cls.on(parse_iso_date(stripped))
        wrong = ValueError(
            f"expected a date like 2026-12-01 or an instant with an offset like "
            f"2026-11-30T23:30:00-08:00 or 2026-12-01T08:00:00Z, got {text!r}"
        )
        if not _INSTANT.fullmatch(stripped):
            raise wrong
        try:
            parsed = cls.at(datetime.fromisoformat(stripped.replace("z", "Z")))
        except (ValueError, OverflowError):
            raise wrong from None
        assert parsed.instant is not None  # noqa: S101 - `at` always sets it
        day = parsed.instant.date()
        if not FIRST_INSTANT_DAY <= day <= LAST_INSTANT_DAY:
            raise ValueError(
                f"{stripped} is {day} in UTC, outside {FIRST_INSTANT_DAY} to {LAST_INSTANT_DAY}: "
                f"every zone's date must fall within {EARLIEST} to {LATEST}"
            )
        return parsed

    def local_date(self, zone: tzinfo | None) -> date:
        """The calendar date at this moment in `zone` (None: the machine's zone, as the C
        library reads TZ: it takes offsets Python's own timezone type refuses)."""
        if self.day is not None:
            return self.day
        assert self.instant is not None  # noqa: S101 - one of the two is always set
        if zone is not None:
            return self.instant.astimezone(zone).date()
        local = time.localtime(self.instant.timestamp())
        return date(local.tm_year, local.tm_mon, local.tm_mday)

    def stamp(self) -> str:
        """As billing_run records it: the date, or the instant in UTC ISO-8601."""
        if self.day is not None:
            return self.day.isoformat()
        assert self.instant is not None  # noqa: S101
        return self.instant.isoformat()


@dataclass(frozen=True, slots=True)
class PassClock:
    """A pass's moment and the company zone: every customer's local date.

    `not_after`: the real moment a pass that charges runs at. No customer's date is
    then later than it is where they are: the date form gives everybody one date, and
    a date that has begun at UTC+14 has not begun yet in Los Angeles. None for a
    dry run of a moment later than now, which looks ahead (a dry run of any other
    moment is capped as the pass it previews)."""

    as_of: AsOf
    company: tzinfo | None = None  # None: the machine's local zone
    not_after: datetime | None = None

    @property
    def company_date(self) -> date:
        return self._capped(self.company)

    def _capped(self, zone: tzinfo | None) -> date:
        day = self.as_of.local_date(zone)
        if self.not_after is None:
            return day
        return min(day, AsOf.at(self.not_after).local_date(zone))

    def ahead_of(self, now: datetime) -> bool:
        """Whether this clock would judge some customer's date later than it is anywhere
        at `now`: its moment is ahead (see `ahead_of`), or the company zone is further
        ahead of UTC than any place (a machine TZ such as XXX-24)."""
        furthest = (now.astimezone(UTC) + FURTHEST_AHEAD).date()
        return ahead_of(self.as_of, now) or self.as_of.local_date(self.company) > furthest

    def local_date(self, zone_name: object) -> date | None:
        """The customer's local date for their stored zone name (None: the company's);
        None when the name is not a known zone."""
        if zone_name is None:
            return self.company_date
        zone = zone_named(zone_name)
        return None if zone is None else self._capped(zone)

    def days(self, zone_names: Iterable[object]) -> ZoneDays:
        """Each known zone's local date, for the zones customers have (once per pass;
        None among them: some customers have none, and are in the company's)."""
        known, company_used = {}, False
        for name in zone_names:
            if name is None:
                company_used = True
            elif (day := self.local_date(name)) is not None:
                known[str(name)] = day
        return ZoneDays(self.company_date, known, company_used or not known)


@dataclass(frozen=True, slots=True)
class ZoneDays:
    """The local date in each zone that occurs, at one moment: what the claim's SQL
    compares due dates against, so no date is converted per invoice."""

    company: date  # for customers without a zone
    known: dict[str, date]  # the zones customers have that the zone database knows
    company_used: bool = True  # some customers have no zone of their own

    @property
    def _dates(self) -> list[date]:
        return [*self.known.values(), *([self.company] if self.company_used else [])]

    @property
    def earliest(self) -> date:
        """The date that has begun everywhere: an invoice due by then is due for all."""
        return min(self._dates)

    @property
    def latest(self) -> date:
        """The date that has begun somewhere: nothing due after it is due for anyone."""
        return max(self._dates)
