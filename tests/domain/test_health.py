"""What `antaeus check` makes of the facts: each finding at its edge, worst first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from antaeus_cli.domain.health import Facts, Level, Thresholds, judge, level_of

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMITS = Thresholds()
HEALTHY = Facts(
    now=NOW,
    last_bill_completed=NOW - timedelta(minutes=30),
    overdue_attempts=0,
    open_attempts=3,
    needs_operator=0,
    notices_failed=0,
    notices_pending=4,
    oldest_pending_notice=NOW - timedelta(minutes=10),
    dead_lock_holder=None,
)


def test_nothing_to_say_is_one_ok_finding() -> None:
    findings = judge(HEALTHY, LIMITS)
    assert [(f.level, f.check, f.text) for f in findings] == [
        (Level.OK, "all", "billing is healthy")
    ]
    assert level_of(findings) is Level.OK


@pytest.mark.parametrize(
    ("age", "level"),
    [
        (timedelta(hours=2) - timedelta(seconds=1), Level.OK),
        (timedelta(hours=2), Level.WARNING),
        (timedelta(hours=6) - timedelta(seconds=1), Level.WARNING),
        (timedelta(hours=6), Level.CRITICAL),
        (timedelta(days=2), Level.CRITICAL),
    ],
)
def test_the_last_completed_pass_by_its_age(age: timedelta, level: Level) -> None:
    assert level_of(judge(replace(HEALTHY, last_bill_completed=NOW - age), LIMITS)) is level


def test_a_pass_that_never_completed_is_critical_and_the_age_is_told() -> None:
    (never,) = judge(replace(HEALTHY, last_bill_completed=None), LIMITS)
    assert (never.level, never.text) == (Level.CRITICAL, "no bill pass has completed yet")
    (stale,) = judge(replace(HEALTHY, last_bill_completed=NOW - timedelta(hours=49)), LIMITS)
    assert stale.text == (
        "the last completed bill pass finished 49 hours ago (2026-11-29T11:00Z): "
        "is cron running it?"
    )
    (recent,) = judge(replace(HEALTHY, last_bill_completed=NOW - timedelta(minutes=119)),
                      Thresholds(pass_warning=timedelta(minutes=90)))  # fmt: skip
    assert "finished 119 minutes ago" in recent.text


def test_each_finding_and_its_level() -> None:
    sick = replace(
        HEALTHY,
        overdue_attempts=1,
        needs_operator=2,
        unknown_status=3,
        notices_failed=1,
        notices_pending=7,
        oldest_pending_notice=NOW - timedelta(hours=1),
        dead_lock_holder="'bill' run 9",
    )
    findings = judge(sick, LIMITS)
    assert [(f.check, f.level) for f in findings] == [
        ("overdue_attempts", Level.CRITICAL),
        ("needs_operator", Level.WARNING),
        ("unknown_status", Level.WARNING),
        ("notices_failed", Level.WARNING),
        ("notices_waiting", Level.WARNING),
        ("dead_lock", Level.WARNING),
    ]
    assert level_of(findings) is Level.CRITICAL
    texts = [f.text for f in findings]
    assert texts[0].startswith("1 charge open too long, which may have moved money")
    assert texts[1].startswith("2 invoices held for an operator")
    assert texts[2] == (
        "3 invoices with a status antaeus does not know or an amount that is no whole number "
        "(set by hand?): no pass can judge them; 'antaeus report' shows each; correct them "
        "by hand"
    )
    assert texts[3].startswith("1 notice failed for good")
    assert texts[4].startswith("7 notices waiting to go, the oldest for 60 minutes")
    assert texts[5].startswith("the pass lock is held by 'bill' run 9, which no longer runs")


def test_a_notice_waits_up_to_its_threshold_unremarked() -> None:
    young = replace(HEALTHY, oldest_pending_notice=NOW - timedelta(minutes=59, seconds=59))
    assert level_of(judge(young, LIMITS)) is Level.OK
    assert level_of(judge(replace(young, oldest_pending_notice=None), LIMITS)) is Level.OK


def test_a_latest_pass_that_did_not_complete_is_a_warning() -> None:
    ended = replace(HEALTHY, last_bill_ended="run 7 failed: refused before it began: no key")
    (finding,) = judge(ended, LIMITS)
    assert (finding.level, finding.check) == (Level.WARNING, "last_pass_ended")
    assert finding.text == (
        "the latest bill pass did not complete: run 7 failed: refused before it began: no key"
    )


def test_a_pass_past_the_critical_age_is_critical_whatever_the_warning_says() -> None:
    """Thresholds given the wrong way round never silence the dead man's switch."""
    limits = Thresholds(pass_warning=timedelta(hours=10), pass_critical=timedelta(hours=1))
    stale = replace(HEALTHY, last_bill_completed=NOW - timedelta(hours=5))
    assert level_of(judge(stale, limits)) is Level.CRITICAL
