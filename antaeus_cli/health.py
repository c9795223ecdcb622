"""`antaeus check`: the facts of billing's health, read in one snapshot, judged by
`domain.health`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from antaeus_cli.domain import overdue
from antaeus_cli.domain.health import Facts, Finding, Level, Thresholds, judge, level_of
from antaeus_cli.domain.invoice import STATUS_BY_VALUE
from antaeus_cli.store import runs
from antaeus_cli.store.database import Store


@dataclass(frozen=True, slots=True)
class Health:
    level: Level
    findings: list[Finding]
    facts: Facts


def check(store: Store, *, now: datetime, limits: Thresholds, is_alive: runs.Liveness) -> Health:
    with store.report_view(any_text=True) as view:  # one snapshot; odd bytes read, not fatal
        last = view.last_completed_bill()
        late = overdue.overdue(view.looked_up_often(), now)
        totals = view.totals()
        held = sum(n for status, _, n, _ in totals if status == "NEEDS_OPERATOR")
        unknown = sum(n for status, _, n, _ in totals if status not in STATUS_BY_VALUE)
        failed, pending, oldest = view.notices_waiting()
        holder = view.lock_holder()
        facts = Facts(
            now=now,
            last_bill_completed=None if last is None else datetime.fromisoformat(last),
            overdue_attempts=len(late),
            open_attempts=view.count_open_attempts(),
            needs_operator=held,
            notices_failed=failed,
            notices_pending=pending,
            oldest_pending_notice=None if oldest is None else datetime.fromisoformat(oldest),
            last_bill_ended=view.last_bill_ending(),
            unknown_status=unknown,
            dead_lock_holder=(
                str(holder) if holder is not None and not holder.alive(now, is_alive) else None
            ),
        )
    findings = judge(facts, limits)
    return Health(level_of(findings), findings, facts)
