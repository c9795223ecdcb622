"""The pass's clock: an invoice is due exactly when its due date has begun in its
customer's zone, for any instant and any zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antaeus_cli.domain.clock import AsOf, PassClock, parse_zone, zone_named
from antaeus_cli.domain.invoice import FailureCode

# The zones at the edges of the clock, the ones whose midnight moves with daylight
# saving time (Havana and Santiago change their clocks at midnight itself), half and
# quarter hours, and a zone that once skipped a whole day (Apia, 2011-12-30).
EDGE_ZONES = [
    "Pacific/Kiritimati",  # UTC+14
    "Etc/GMT+12",  # UTC-12
    "Pacific/Apia",
    "America/Havana",
    "America/Santiago",
    "America/Los_Angeles",
    "America/St_Johns",
    "Europe/Copenhagen",
    "Europe/London",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Asia/Tehran",
    "Africa/Casablanca",
    "UTC",
]
zones = st.sampled_from(EDGE_ZONES).map(ZoneInfo)
instants = st.datetimes(
    # hypothesis takes naive bounds and attaches the zone itself
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001
    max_value=datetime(2099, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
days = st.dates(min_value=date(1971, 1, 2), max_value=date(2099, 12, 30))


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant of `day` in `zone`, by the wall clock rather than by conversion:
    fold 0 is the earlier of a midnight that happens twice, and for a midnight that
    never happens (a gap) it is the moment of the jump."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def is_due(due: date, instant: datetime, zone: tzinfo) -> bool:
    local = PassClock(AsOf.at(instant), UTC).as_of.local_date(zone)
    return due <= local


def due_by_the_wall_clock(due: date, instant: datetime, zone: ZoneInfo) -> bool:
    """Never a second before the first instant of the day; from then on, whenever the
    zone's wall clock shows the day or a later one. The two differ only where a clock
    went back across midnight just after it (St. John's fell back at 00:01 until 2011:
    29 October 2000 began at 02:30 UTC, and at 02:31 UTC it was 28 October again, for
    an hour): a pass then may charge in that first minute, or after the hour."""
    if instant < local_midnight(due, zone):
        return False
    return instant.astimezone(zone).date() >= due


@given(instant=instants, zone=zones, due=days)
def test_an_invoice_is_due_exactly_when_its_local_date_has_begun(
    instant: datetime, zone: ZoneInfo, due: date
) -> None:
    assert is_due(due, instant, zone) == due_by_the_wall_clock(due, instant, zone)


@given(zone=zones, due=days, offset=st.integers(-90, 90))
def test_around_local_midnight_to_the_second(zone: ZoneInfo, due: date, offset: int) -> None:
    """Instants within a minute and a half of the midnight, where mistakes live: never
    due a second early."""
    instant = local_midnight(due, zone) + timedelta(seconds=offset)
    assert is_due(due, instant, zone) == due_by_the_wall_clock(due, instant, zone)
    if offset < 0:
        assert not is_due(due, instant, zone)


def test_a_day_that_begins_twice_is_never_due_before_its_first_beginning() -> None:
    zone = ZoneInfo("America/St_Johns")
    due = date(2000, 10, 29)
    first = datetime(2000, 10, 29, 2, 30, tzinfo=UTC)  # 00:00 NDT
    assert not is_due(due, first - timedelta(seconds=1), zone)
    assert is_due(due, first, zone)
    assert not is_due(due, first + timedelta(minutes=1), zone)  # 23:01 NST, 28 October
    assert is_due(due, first + timedelta(hours=1), zone)  # 00:00 NST: the day again


def _midnight_transitions(zone: ZoneInfo, year: int) -> list[date]:
    """Days of `year` on which `zone` changes its offset within an hour of midnight."""
    found = []
    day = date(year, 1, 1)
    while day.year == year:
        before = datetime.combine(day, time(), zone) - timedelta(hours=1)
        after = before + timedelta(hours=2)
        if before.utcoffset() != after.utcoffset():
            found.append(day)
        day += timedelta(days=1)
    return found


@pytest.mark.parametrize(("name", "year"), [("America/Havana", 2026), ("America/Santiago", 2026)])
def test_daylight_saving_at_midnight_in_both_directions(name: str, year: int) -> None:
    """Havana and Santiago move their clocks at midnight: one day begins at 01:00 (the
    midnight never happens), another has its midnight twice. Either way the invoice
    is due from the first instant of its day, and not a second before."""
    zone = ZoneInfo(name)
    transitions = _midnight_transitions(zone, year)
    assert len(transitions) >= 2
    for day in transitions:
        for due in (day, day + timedelta(days=1)):
            start = local_midnight(due, zone)
            assert not is_due(due, start - timedelta(seconds=1), zone)
            assert is_due(due, start, zone)
            assert is_due(due, start + timedelta(hours=25), zone)


def test_daylight_saving_in_europe_moves_the_midnight_by_an_hour_in_utc() -> None:
    copenhagen = ZoneInfo("Europe/Copenhagen")
    # Winter: midnight is 23:00 UTC the day before; summer: 22:00 UTC.
    assert local_midnight(date(2026, 3, 29), copenhagen) == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert local_midnight(date(2026, 3, 30), copenhagen) == datetime(2026, 3, 29, 22, tzinfo=UTC)
    assert local_midnight(date(2026, 10, 26), copenhagen) == datetime(2026, 10, 25, 23, tzinfo=UTC)
    assert not is_due(date(2026, 3, 30), datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC), copenhagen)
    assert is_due(date(2026, 3, 30), datetime(2026, 3, 29, 22, tzinfo=UTC), copenhagen)


def test_the_first_and_the_last_zones_on_earth() -> None:
    """UTC+14 begins the 1st at 10:00 UTC on the 30th; UTC-12 at 12:00 UTC on the 1st:
    26 hours in which some customers are due and others not."""
    first, last = ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12")
    december = date(2026, 12, 1)
    assert not is_due(december, datetime(2026, 11, 30, 9, 59, 59, tzinfo=UTC), first)
    assert is_due(december, datetime(2026, 11, 30, 10, tzinfo=UTC), first)
    assert not is_due(december, datetime(2026, 12, 1, 11, 59, 59, tzinfo=UTC), last)
    assert is_due(december, datetime(2026, 12, 1, 12, tzinfo=UTC), last)


@pytest.mark.parametrize(
    ("due", "day_before"),
    [
        (date(2028, 2, 29), date(2028, 2, 28)),  # leap year
        (date(2028, 3, 1), date(2028, 2, 29)),
        (date(2027, 3, 1), date(2027, 2, 28)),  # common year: no 29th
        (date(2026, 12, 1), date(2026, 11, 30)),  # after a month of 30 days
        (date(2027, 1, 1), date(2026, 12, 31)),  # after a month of 31 days, a new year
    ],
)
@pytest.mark.parametrize("name", ["Pacific/Kiritimati", "Etc/GMT+12", "America/Los_Angeles"])
def test_month_ends_of_every_length(due: date, day_before: date, name: str) -> None:
    zone = ZoneInfo(name)
    last_second = local_midnight(due, zone) - timedelta(seconds=1)
    clock = PassClock(AsOf.at(last_second), UTC)
    assert clock.as_of.local_date(zone) == day_before
    assert not is_due(due, last_second, zone)
    assert is_due(due, last_second + timedelta(seconds=1), zone)


@given(day=days, zone=zones)
def test_the_date_form_is_that_date_for_everybody(day: date, zone: ZoneInfo) -> None:
    clock = PassClock(AsOf.on(day), UTC)
    assert clock.as_of.local_date(zone) == day
    assert clock.local_date("Pacific/Kiritimati") == clock.local_date("Etc/GMT+12") == day
    assert clock.company_date == day


@given(instant=instants, names=st.lists(st.sampled_from([None, *EDGE_ZONES]), max_size=6))
def test_zone_days_bound_every_customers_date(instant: datetime, names: list[str | None]) -> None:
    """`earliest` has begun everywhere and nothing after `latest` has begun anywhere:
    the claim compares against these and looks up a zone only in between. The
    company's date counts when some customers have no zone (None), or none has one."""
    clock = PassClock(AsOf.at(instant), ZoneInfo("Europe/Copenhagen"))
    zone_days = clock.days([*names, "Not/AZone"])
    known = [name for name in names if name is not None]
    assert set(zone_days.known) == set(known)
    dates = [clock.local_date(name) for name in known]
    if None in names or not known:
        dates.append(clock.company_date)
    assert zone_days.earliest == min(d for d in dates if d)
    assert zone_days.latest == max(d for d in dates if d)
    assert zone_days.latest - zone_days.earliest <= timedelta(days=2)  # 26 hours apart at most


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", AsOf(day=date(2026, 12, 1))),
        (" 2026-12-01 ", AsOf(day=date(2026, 12, 1))),
        ("2026-11-30T23:30:00-08:00", AsOf(instant=datetime(2026, 12, 1, 7, 30, tzinfo=UTC))),
        ("2026-12-01T08:00:00Z", AsOf(instant=datetime(2026, 12, 1, 8, tzinfo=UTC))),
        ("2026-12-01t08:00:00z", None),  # a lower-case T is not ISO-8601's
        ("2026-12-01T08:00Z", AsOf(instant=datetime(2026, 12, 1, 8, tzinfo=UTC))),
        ("2026-12-01 08:00:00+05:45", AsOf(instant=datetime(2026, 12, 1, 2, 15, tzinfo=UTC))),
        (
            "2026-12-01T08:00:00.250+00:00",
            AsOf(instant=datetime(2026, 12, 1, 8, 0, 0, 250000, UTC)),
        ),
        ("2026-12-01T08:00:00", None),  # no offset: whose 08:00?
        ("2026-12-01T25:00:00Z", None),
        ("2026-02-30", None),
        ("tomorrow", None),
        ("0001-01-01T00:00:00+14:00", None),  # outside the calendar the tool accepts
        ("2026-12-01T08:00:00+24:00", None),
        ("", None),
    ],
)
def test_as_of_takes_a_date_or_an_instant_with_an_offset(text: str, expected: AsOf | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="expected a date"):
            AsOf.parse(text)
    else:
        assert AsOf.parse(text) == expected


def test_an_instant_is_recorded_in_utc_and_a_date_as_itself() -> None:
    assert AsOf.parse("2026-11-30T23:30:00-08:00").stamp() == "2026-12-01T07:30:00+00:00"
    assert AsOf.parse("2026-12-01").stamp() == "2026-12-01"
    with pytest.raises(ValueError, match="offset"):
        AsOf.at(datetime(2026, 12, 1))  # noqa: DTZ001 - the naive instant is the point


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "",
        "europe/copenhagen ",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "Europe/Copenhagen\x00",
        "Europe",  # a folder of the zone database, not a zone
        "localtime",  # the machine's zone under another name
        "posixrules",
        "Factory",
        "posix/Europe/Copenhagen",
        "right/UTC",  # with leap seconds: its midnight is 27 seconds off
        "A" * 65,
        7,
        b"UTC",
        None,
    ],
)
def test_unknown_zone_names_are_unknown_never_an_error(name: object) -> None:
    assert zone_named(name) is None
    clock = PassClock(AsOf.on(date(2026, 12, 1)), UTC)
    if name is not None:
        assert clock.local_date(name) is None


def test_a_customer_without_a_zone_is_in_the_company_zone() -> None:
    clock = PassClock(AsOf.parse("2026-11-30T23:30:00Z"), ZoneInfo("Europe/Copenhagen"))
    assert clock.local_date(None) == date(2026, 12, 1)
    assert clock.local_date("UTC") == date(2026, 11, 30)


def test_an_unknown_company_zone_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="IANA name such as Europe/Copenhagen"):
        parse_zone("Europe/Atlantis")
    assert str(parse_zone(" Pacific/Auckland ")) == "Pacific/Auckland"


def test_the_reason_for_an_unknown_zone_says_what_to_do() -> None:
    from antaeus_cli.domain.clock import unknown_zone

    rejection = unknown_zone(7, "Mars/Base\n")
    assert rejection.code is FailureCode.MALFORMED
    assert "'Mars/Base\\n'" in rejection.detail
    assert "set customer.timezone" in rejection.detail
    assert "nothing was sent" in rejection.detail


def test_the_zone_data_comes_with_the_package_when_the_machine_has_none() -> None:
    """With no system zone files (an empty TZPATH), zoneinfo reads the tzdata package,
    a dependency, so a slim container bills Auckland on Auckland's date."""
    import zoneinfo

    saved = zoneinfo.TZPATH
    zoneinfo.reset_tzpath(to=[])
    try:
        zone = ZoneInfo.no_cache("Pacific/Auckland")
        assert datetime(2026, 11, 30, 11, tzinfo=UTC).astimezone(zone).date() == date(2026, 12, 1)
    finally:
        zoneinfo.reset_tzpath(to=saved)


@pytest.mark.parametrize(
    "text",
    ["1970-01-01T00:00:00+23:59", "1970-01-01T05:00:00+06:00", "9998-12-31T12:00:00Z"],
)
def test_an_instant_whose_date_somewhere_leaves_the_calendar_is_refused(text: str) -> None:
    """1970-01-01T00:00+23:59 is 1969-12-31 in UTC: rounding it up into the calendar
    would bill 1 January early. Instants are kept where every zone's date is in range."""
    with pytest.raises(ValueError, match="in UTC, outside 1970-01-02 to 9998-12-30"):
        AsOf.parse(text)
    assert AsOf.parse("1970-01-02T00:00:00Z").instant == datetime(1970, 1, 2, tzinfo=UTC)


def test_the_machine_zone_is_read_as_the_c_library_reads_tz(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TZ=XXX-24 is a zone 24 hours ahead, which Python's timezone type refuses and the
    C library takes: the company's date is still told, not an internal error."""
    import time as clock_time

    monkeypatch.setenv("TZ", "XXX-24")
    clock_time.tzset()
    try:
        clock = PassClock(AsOf.parse("2026-11-30T12:00:00Z"), None)
        assert clock.company_date == date(2026, 12, 1)
    finally:
        monkeypatch.undo()
        clock_time.tzset()


def test_a_lower_case_z_is_utc_too() -> None:
    assert AsOf.parse("2026-12-01T08:00:00z") == AsOf(instant=datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert AsOf.parse("2026-12-01 08:00z") == AsOf(instant=datetime(2026, 12, 1, 8, tzinfo=UTC))


@pytest.mark.parametrize("text", ["2026-12-01Z", "2026-12-01T", "2026-12-01T08:00:00"])
def test_text_longer_than_a_date_is_read_as_an_instant_and_refused_as_one(text: str) -> None:
    with pytest.raises(ValueError, match="or an instant with an offset") as refused:
        AsOf.parse(text)
    assert str(refused.value) == (
        "expected a date like 2026-12-01 or an instant with an offset like "
        f"2026-11-30T23:30:00-08:00 or 2026-12-01T08:00:00Z, got {text!r}"
    )


def test_the_first_and_last_instant_days_are_accepted() -> None:
    first, last = AsOf.parse("1970-01-02T00:00:00Z"), AsOf.parse("9998-12-30T23:59:59Z")
    assert first.instant == datetime(1970, 1, 2, tzinfo=UTC)
    assert last.instant == datetime(9998, 12, 30, 23, 59, 59, tzinfo=UTC)


def test_an_instant_without_an_offset_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="needs an offset") as refused:
        AsOf.at(datetime(2026, 12, 1))  # noqa: DTZ001 - the naive instant is the point
    assert str(refused.value) == "an instant needs an offset, e.g. 2026-12-01T00:00:00Z"


def test_an_unknown_company_zone_is_refused_with_two_examples() -> None:
    with pytest.raises(ValueError, match="unknown time zone") as refused:
        parse_zone("Europe/Atlantis")
    assert str(refused.value) == (
        "unknown time zone 'Europe/Atlantis': expected an IANA name such as "
        "Europe/Copenhagen or America/Los_Angeles"
    )


def test_the_reason_for_an_unknown_zone_is_whole_and_quotes_at_most_80_characters() -> None:
    from antaeus_cli.domain.clock import unknown_zone

    name = "Mars/" + "x" * 100
    assert unknown_zone(7, name).detail == (
        f"customer 7 has time zone {repr(name)[:80]}, which the zone database does not know, "
        "so the date it is due there cannot be told: set customer.timezone to an IANA name "
        "such as Europe/Copenhagen, or to NULL for the company zone (--tz); nothing was sent"
    )


def test_each_customer_is_on_the_date_of_their_own_zone_not_the_machines() -> None:
    """At noon UTC it is already tomorrow in Kiritimati and still this morning in Pago
    Pago: whatever the machine's zone, one of the two differs from it."""
    clock = PassClock(AsOf.parse("2026-12-01T12:00:00Z"), UTC)
    assert clock.local_date("Pacific/Kiritimati") == date(2026, 12, 2)
    assert clock.local_date("Pacific/Pago_Pago") == date(2026, 12, 1)
    late = PassClock(AsOf.parse("2026-12-01T23:00:00Z"), UTC)
    assert late.local_date("Pacific/Pago_Pago") == date(2026, 12, 1)
    assert late.local_date("Pacific/Kiritimati") == date(2026, 12, 2)


def test_customers_without_a_zone_bring_the_company_date_into_the_bounds() -> None:
    clock = PassClock(AsOf.parse("2026-12-01T12:00:00Z"), ZoneInfo("Pacific/Pago_Pago"))
    with_company = clock.days(["Pacific/Kiritimati", None])
    assert (with_company.earliest, with_company.latest) == (date(2026, 12, 1), date(2026, 12, 2))
    assert with_company.company_used
    without = clock.days(["Pacific/Kiritimati"])
    assert (without.earliest, without.latest) == (date(2026, 12, 2), date(2026, 12, 2))
    assert not without.company_used
    nobody = clock.days([])
    assert (nobody.earliest, nobody.latest) == (date(2026, 12, 1), date(2026, 12, 1))


@pytest.mark.parametrize(
    ("day", "begun"),
    [
        ("2026-11-30", True),
        ("2026-12-01", True),  # due today: begun
        ("2026-12-02", False),
        (None, False),  # no date stored: never due
        (date(2026, 11, 30), False),  # not a stored date
    ],
)
def test_a_stored_date_has_begun_on_that_date_and_after(day: object, begun: bool) -> None:
    from antaeus_cli.domain.clock import has_begun

    assert has_begun(day, date(2026, 12, 1)) is begun


def test_a_moment_ahead_of_now_is_told_apart_to_the_microsecond() -> None:
    from antaeus_cli.domain.clock import AHEAD_TOLERANCE, ahead_of

    now = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    assert not ahead_of(AsOf.at(now + AHEAD_TOLERANCE), now)
    assert ahead_of(AsOf.at(now + AHEAD_TOLERANCE + timedelta(microseconds=1)), now)
    assert not ahead_of(AsOf.at(now - timedelta(days=400)), now)
    # a date has begun somewhere once it has begun at UTC+14
    assert not ahead_of(AsOf.on(date(2026, 12, 7)), now)  # 18:00 at UTC+14
    assert ahead_of(AsOf.on(date(2026, 12, 8)), now)
    assert not ahead_of(AsOf.on(date(2026, 12, 8)), datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    assert ahead_of(AsOf.on(date(2026, 12, 8)), datetime(2026, 12, 7, 9, 59, 59, tzinfo=UTC))


def test_a_company_zone_ahead_of_every_place_is_ahead_of_now() -> None:
    """A machine TZ such as XXX-24 puts the company's date where no place is yet."""
    from datetime import timezone

    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    at_now = AsOf.at(now)
    assert not PassClock(at_now, timezone(timedelta(hours=14))).ahead_of(now)
    assert PassClock(at_now, timezone(timedelta(hours=20))).ahead_of(now)
    assert not PassClock(at_now, timezone(timedelta(hours=-12))).ahead_of(now)
    assert PassClock(AsOf.at(now + timedelta(hours=1)), None).ahead_of(now)


def test_a_date_ahead_is_told_by_utc_whatever_the_machine_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time as clocks

    from antaeus_cli.domain.clock import ahead_of

    monkeypatch.setenv("TZ", "XXX-12")  # the machine twelve hours ahead of UTC
    clocks.tzset()
    try:
        now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # 00:30 on the 8th at UTC+14
        assert not ahead_of(AsOf.on(date(2026, 12, 8)), now)
        assert ahead_of(AsOf.on(date(2026, 12, 9)), now)
    finally:
        monkeypatch.undo()
        clocks.tzset()


def test_a_date_ahead_is_told_by_utc_on_a_machine_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a machine twelve hours behind UTC it is still the 6th at 10:30 UTC on the 7th,
    while the 8th has begun at UTC+14: a pass as of the 8th is not ahead of now."""
    import time as clocks

    from antaeus_cli.domain.clock import ahead_of

    monkeypatch.setenv("TZ", "XXX+12")  # the machine twelve hours behind UTC
    clocks.tzset()
    try:
        now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # 00:30 on the 8th at UTC+14
        assert not ahead_of(AsOf.on(date(2026, 12, 8)), now)
        assert not PassClock(AsOf.on(date(2026, 12, 8)), UTC).ahead_of(now)
        assert ahead_of(AsOf.on(date(2026, 12, 9)), now)
        assert PassClock(AsOf.on(date(2026, 12, 9)), UTC).ahead_of(now)
    finally:
        monkeypatch.undo()
        clocks.tzset()


@given(
    day=st.dates(min_value=date(2001, 1, 2), max_value=date(2098, 12, 30)),
    now=st.datetimes(
        min_value=datetime(2001, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2098, 12, 30),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    zone=st.sampled_from([ZoneInfo(n) for n in ("Pacific/Kiritimati", "UTC", "Etc/GMT+12")]),
)
def test_a_pass_that_charges_never_reads_a_date_later_than_it_is_where_the_customer_is(
    day: date, now: datetime, zone: ZoneInfo
) -> None:
    """The date form gives everybody one date; a real pass caps each customer's date at
    their own date now, so a date begun at UTC+14 charges nobody in Los Angeles early."""
    for as_of in (AsOf.on(day), AsOf.at(now + timedelta(minutes=4))):
        capped = PassClock(as_of, zone, not_after=now)
        here_now = now.astimezone(zone).date()
        expected = min(as_of.local_date(zone), here_now)
        assert capped.local_date(None) == capped.company_date == expected
        assert capped.local_date(zone.key) == expected
        assert PassClock(as_of, zone).local_date(zone.key) == as_of.local_date(zone)


def test_the_date_begun_only_at_utc_plus_14_is_not_yet_due_in_los_angeles() -> None:
    now = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 8 December at Kiritimati, 7th in UTC
    clock = PassClock(AsOf.on(date(2026, 12, 8)), ZoneInfo("UTC"), not_after=now)
    assert not clock.ahead_of(now)
    assert clock.local_date("Pacific/Kiritimati") == date(2026, 12, 8)
    assert clock.local_date("UTC") == date(2026, 12, 7)
    assert clock.local_date("America/Los_Angeles") == date(2026, 12, 7)  # 03:00 there
    days = clock.days(["Pacific/Kiritimati", "America/Los_Angeles", None])
    assert (days.earliest, days.latest) == (date(2026, 12, 7), date(2026, 12, 8))
