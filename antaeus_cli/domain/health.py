"""Is billing healthy? What `antaeus check` tells a monitoring system.

The levels are the Nagios plugin convention, which most monitoring systems read from
an exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Each finding has a level and
one line; the check's level is the worst of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from antaeus_cli.domain.words import counted


class Level(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the age of the last completed `bill` pass is a warning, and when critical
    (cron runs it hourly); and when a notice waiting to go is a warning."""

    pass_warning: timedelta = timedelta(hours=2)
    pass_critical: timedelta = timedelta(hours=6)
    notice_warning: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the database says, read in one snapshot at `now`."""

    now: datetime
    last_bill_completed: datetime | None
    overdue_attempts: int
    open_attempts: int
    needs_operator: int
    notices_failed: int
    notices_pending: int
    oldest_pending_notice: datetime | None
    dead_lock_holder: str | None  # the pass that holds the lock but no longer runs
    last_bill_ended: str | None = None  # how the latest finished bill pass ended, if not well
    unknown_status: int = 0  # invoices whose status no rule knows (set by hand)


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    check: str  # a stable name, for metrics and scripts
    text: str


def judge(facts: Facts, limits: Thresholds) -> list[Finding]:
    """Every finding, worst first; one OK finding when there is nothing to say."""
    found = [
        *_last_pass(facts, limits),
        *_last_ending(facts),
        *_attempts(facts),
        *_operator(facts),
        *_unknown(facts),
        *_notices(facts, limits),
        *_lock(facts),
    ]
    if not found:
        return [Finding(Level.OK, "all", "billing is healthy")]
    return sorted(found, key=lambda f: -f.level)


def level_of(findings: list[Finding]) -> Level:
    return max((f.level for f in findings), default=Level.OK)


def _last_pass(facts: Facts, limits: Thresholds) -> list[Finding]:
    last = facts.last_bill_completed
    if last is None:
        return [Finding(Level.CRITICAL, "last_pass", "no bill pass has completed yet")]
    age = facts.now - last
    if age >= limits.pass_critical:  # judged on its own: a larger warning never hides it
        level = Level.CRITICAL
    elif age >= limits.pass_warning:
        level = Level.WARNING
    else:
        return []
    return [
        Finding(
            level,
            "last_pass",
            f"the last completed bill pass finished {_hours(age)} ago ({last:%Y-%m-%dT%H:%MZ}): "
            "is cron running it?",
        )
    ]


def _last_ending(facts: Facts) -> list[Finding]:
    if facts.last_bill_ended is None:
        return []
    return [
        Finding(
            Level.WARNING,
            "last_pass_ended",
            f"the latest bill pass did not complete: {facts.last_bill_ended}",
        )
    ]


def _attempts(facts: Facts) -> list[Finding]:
    if not facts.overdue_attempts:
        return []
    return [
        Finding(
            Level.CRITICAL,
            "overdue_attempts",
            f"{counted(facts.overdue_attempts, 'charge')} open too long, which may have moved "
            "money: see 'antaeus report --section overdue-attempts'",
        )
    ]


def _operator(facts: Facts) -> list[Finding]:
    if not facts.needs_operator:
        return []
    return [
        Finding(
            Level.WARNING,
            "needs_operator",
            f"{counted(facts.needs_operator, 'invoice')} held for an operator: see "
            "'antaeus report --section needs-operator'",
        )
    ]


def _unknown(facts: Facts) -> list[Finding]:
    if not facts.unknown_status:
        return []
    return [
        Finding(
            Level.WARNING,
            "unknown_status",
            f"{counted(facts.unknown_status, 'invoice')} with a status antaeus does not know "
            "or an amount that is no whole number (set by hand?): no pass can judge them; "
            "'antaeus report' shows each; correct them by hand",
        )
    ]


def _notices(facts: Facts, limits: Thresholds) -> list[Finding]:
    found = []
    if facts.notices_failed:
        found.append(
            Finding(
                Level.WARNING,
                "notices_failed",
                f"{counted(facts.notices_failed, 'notice')} failed for good: see "
                "'antaeus report --section notifications'",
            )
        )
    oldest = facts.oldest_pending_notice
    if oldest is not None and facts.now - oldest >= limits.notice_warning:
        found.append(
            Finding(
                Level.WARNING,
                "notices_waiting",
                f"{counted(facts.notices_pending, 'notice')} waiting to go, the oldest for "
                f"{_hours(facts.now - oldest)}: is 'antaeus notify' running, and can it reach "
                "its channel?",
            )
        )
    return found


def _lock(facts: Facts) -> list[Finding]:
    if facts.dead_lock_holder is None:
        return []
    return [
        Finding(
            Level.WARNING,
            "dead_lock",
            f"the pass lock is held by {facts.dead_lock_holder}, which no longer runs: the "
            "next pass takes it over and reconciles what it left",
        )
    ]


def _hours(age: timedelta) -> str:
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 120:
        return counted(minutes, "minute")
    return counted(minutes // 60, "hour")
