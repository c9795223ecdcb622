"""When an open attempt needs a person: enough passes, and old enough, both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from antaeus_cli.domain.overdue import (
    LOOKUP_PASSES,
    PROCESSING_AGE,
    UNKNOWN_AGE,
    OpenAttempt,
    described,
    is_overdue,
    overdue,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def sent(ago: timedelta) -> str:
    return (NOW - ago).isoformat()


def test_the_bars_are_three_passes_six_hours_and_three_weeks() -> None:
    bars = (LOOKUP_PASSES, UNKNOWN_AGE, PROCESSING_AGE)
    assert bars == (3, timedelta(hours=6), timedelta(days=21))


@pytest.mark.parametrize("outcome", ["unknown", "started"])
@pytest.mark.parametrize(
    ("passes", "ago", "expected"),
    [
        (3, UNKNOWN_AGE, True),  # both bars, just
        (2, timedelta(days=30), False),  # old, but too few passes looked it up
        (50, UNKNOWN_AGE - SECOND, False),  # many passes, but not old enough
        (3, UNKNOWN_AGE - SECOND, False),
        (4, UNKNOWN_AGE + SECOND, True),
    ],
)
def test_an_unknown_outcome_is_overdue_after_both_bars(
    outcome: str, passes: int, ago: timedelta, expected: bool
) -> None:
    assert is_overdue(outcome, passes, sent(ago), NOW) is expected


@pytest.mark.parametrize(
    ("ago", "expected"),
    [(UNKNOWN_AGE, False), (PROCESSING_AGE - SECOND, False), (PROCESSING_AGE, True)],
)
def test_a_charge_the_provider_says_is_processing_gets_three_weeks(
    ago: timedelta, expected: bool
) -> None:
    assert is_overdue("processing", LOOKUP_PASSES, sent(ago), NOW) is expected


@pytest.mark.parametrize("started", ["not a time", None, 17])
def test_a_start_time_that_is_not_one_counts_as_long_ago(started: object) -> None:
    assert is_overdue("unknown", LOOKUP_PASSES, started, NOW)
    assert not is_overdue("unknown", LOOKUP_PASSES - 1, started, NOW)


def test_a_start_time_without_a_zone_is_utc() -> None:
    naive = (NOW - UNKNOWN_AGE).replace(tzinfo=None).isoformat()
    assert is_overdue("unknown", LOOKUP_PASSES, naive, NOW)
    assert not is_overdue("unknown", LOOKUP_PASSES, naive, NOW - SECOND)


def test_an_overdue_attempt_says_what_was_sent_when_and_what_to_do() -> None:
    late = OpenAttempt(
        7, 3, "ns-inv-3-1", 1234, "EUR", sent(UNKNOWN_AGE), "unknown", 3, "pi_1", "no look-up"
    )
    early = late._replace(attempt_id=8, lookup_passes=1)
    assert overdue([early, late], NOW) == [late]
    shown = described(late)
    assert shown["amount_formatted"] == "EUR 12.34"
    assert (shown["idempotency_key"], shown["started_at"]) == ("ns-inv-3-1", sent(UNKNOWN_AGE))
    action = str(shown["action"])
    assert "ns-inv-3-1" in action
    assert "pi_1" in action
    assert "attempt 7" in action
    assert "invoice 3" in action
