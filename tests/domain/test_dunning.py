from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antaeus_cli.domain.dunning import DunningSchedule, ScheduleError


def test_default_schedule_retries_one_three_and_seven_days_after_the_first_decline() -> None:
    schedule = DunningSchedule()
    first = date(2026, 12, 1)
    assert schedule.next_retry_on(first, 1, first) == date(2026, 12, 2)
    assert schedule.next_retry_on(first, 2, date(2026, 12, 2)) == date(2026, 12, 4)
    assert schedule.next_retry_on(first, 3, date(2026, 12, 4)) == date(2026, 12, 8)
    assert schedule.next_retry_on(first, 4, date(2026, 12, 8)) is None


def test_a_late_retry_is_never_scheduled_in_the_past() -> None:
    first = date(2026, 12, 1)
    assert DunningSchedule().next_retry_on(first, 2, date(2026, 12, 20)) == date(2026, 12, 21)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,3,7", (1, 3, 7)), (" 2, 5 ", (2, 5)), ("", ()), ("30", (30,))],
)
def test_parse(text: str, expected: tuple[int, ...]) -> None:
    assert DunningSchedule.parse(text).offsets_days == expected


@pytest.mark.parametrize(
    "text", ["1,1", "3,2", "0,1", "a,b", "1,,3", "400", ",".join("123456789") + ",10,11,12,13"]
)
def test_parse_refuses_unusable_schedules(text: str) -> None:
    with pytest.raises(ScheduleError):
        DunningSchedule.parse(text)


def test_an_empty_schedule_makes_the_first_decline_final() -> None:
    assert DunningSchedule(()).next_retry_on(date(2026, 12, 1), 1, date(2026, 12, 1)) is None


@given(
    st.lists(st.integers(1, 365), min_size=1, max_size=12, unique=True).map(sorted),
    st.integers(1, 13),
    st.integers(0, 400),
)
def test_retries_are_after_today_and_stop_after_the_schedule(
    offsets: list[int], declines: int, late_days: int
) -> None:
    schedule = DunningSchedule(tuple(offsets))
    first = date(2026, 1, 1)
    today = first + timedelta(days=late_days)
    retry = schedule.next_retry_on(first, declines, today)
    if declines > len(offsets):
        assert retry is None
    else:
        assert retry is not None
        assert retry > today
        assert retry >= first + timedelta(days=offsets[declines - 1])


def test_twelve_retries_are_the_most_a_schedule_holds() -> None:
    days = tuple(range(1, 13))
    assert DunningSchedule(days).offsets_days == days
    with pytest.raises(ScheduleError) as refused:
        DunningSchedule((*days, 13))
    assert str(refused.value) == "at most 12 retries, got 13"


@pytest.mark.parametrize(
    ("offsets", "message"),
    [
        ((0, 3), "retry days must be between 1 and 365"),
        ((1, 366), "retry days must be between 1 and 365"),
        ((1, 3, 3), "retry days must be strictly increasing, e.g. 1,3,7"),
        ((3, 1), "retry days must be strictly increasing, e.g. 1,3,7"),
    ],
)
def test_an_unusable_schedule_is_refused_with_what_to_write(
    offsets: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ScheduleError) as refused:
        DunningSchedule(offsets)
    assert str(refused.value) == message
    assert DunningSchedule((1, 365)).offsets_days == (1, 365)


def test_text_that_is_not_whole_days_is_refused_with_an_example() -> None:
    with pytest.raises(ScheduleError) as refused:
        DunningSchedule.parse("1,3.5")
    assert str(refused.value) == "expected comma-separated whole days such as 1,3,7, got '1,3.5'"


@pytest.mark.parametrize(
    ("offsets", "shown"), [((1, 3, 7), "1,3,7"), ((30,), "30"), ((), "(no retries)")]
)
def test_a_schedule_is_shown_as_it_is_written(offsets: tuple[int, ...], shown: str) -> None:
    assert str(DunningSchedule(offsets)) == shown


@pytest.mark.parametrize("declines", [1, 2, 3])
def test_a_corrupt_first_decline_near_the_end_of_time_does_not_overflow(declines: int) -> None:
    """One day after 9999-12-30 is date.max itself; three and seven days are past it."""
    retry = DunningSchedule().next_retry_on(date(9999, 12, 30), declines, date(2026, 12, 1))
    assert retry == date.max
