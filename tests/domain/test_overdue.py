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


def test_an_overdue_attempt_is_described_whole() -> None:
    """Every field the pass's JSON, the run summary and `report` show, and the advice."""
    late = OpenAttempt(
        7, 3, "ns-inv-3-1", 1234, "EUR", sent(UNKNOWN_AGE), "unknown", 3, "pi_1", "no look-up"
    )
    assert described(late) == {
        "attempt_id": 7,
        "invoice_id": 3,
        "idempotency_key": "ns-inv-3-1",
        "amount": 1234,
        "currency": "EUR",
        "amount_formatted": "EUR 12.34",
        "started_at": sent(UNKNOWN_AGE),
        "outcome": "unknown",
        "lookup_passes": 3,
        "provider_ref": "pi_1",
        "error": "no look-up",
        "action": (
            "money may have moved under key ns-inv-3-1: find that charge at the provider "
            "(reference pi_1). The attempt stays open: every pass looks it up again, and exits "
            "1, until it is settled. Once you know, close attempt 7 by hand (error 'settled by "
            "hand: ...') and set invoice 3 to match: docs/design.md, Overdue attempts"
        ),
    }
    # written by hand: an amount that is no whole number is shown as it is, and an
    # attempt without a reference says nothing of one
    odd = described(late._replace(amount="12.34", reference=None))
    assert odd["amount_formatted"] == "12.34"
    assert "(reference" not in str(odd["action"])
    assert str(odd["action"]).startswith(
        "money may have moved under key ns-inv-3-1: find that charge at the provider. "
    )


def test_only_a_processing_charge_gets_three_weeks() -> None:
    old = sent(UNKNOWN_AGE)
    attempts = [
        OpenAttempt(1, 1, "k1", 100, "EUR", old, "processing", LOOKUP_PASSES, None, None),
        OpenAttempt(2, 2, "k2", 100, "EUR", old, "unknown", LOOKUP_PASSES, None, None),
    ]
    assert [a.attempt_id for a in overdue(attempts, NOW)] == [2]


def test_a_start_time_with_its_own_zone_is_read_in_it() -> None:
    """+01:00: an hour earlier in UTC than the same wall time without a zone."""
    wall = (NOW - UNKNOWN_AGE + timedelta(minutes=30)).replace(tzinfo=None).isoformat()
    assert not is_overdue("unknown", LOOKUP_PASSES, wall, NOW)
    assert is_overdue("unknown", LOOKUP_PASSES, wall + "+01:00", NOW)
