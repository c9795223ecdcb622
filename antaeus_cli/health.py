"""`antaeus check`: the facts of billing's health, read in one snapshot, judged by
`domain.health`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from antaeus_cli.domain import overdue
from antaeus_cli.domain.health import Facts, Finding, Level, Thresholds, judge, level_of
from antaeus_cli.store import ledger, queries, replays, runs
from antaeus_cli.store.database import Store


@dataclass(frozen=True, slots=True)
class Health:
    level: Level
    findings: list[Finding]
    facts: Facts


def check(store: Store, *, now: datetime, limits: Thresholds, is_alive: runs.Liveness) -> Health:
    with store.reading() as conn:
        conn.execute("BEGIN")  # one consistent snapshot
        try:
            last = queries.last_completed_bill(conn)
            late = overdue.overdue(replays.looked_up_often(conn), now)
            held = sum(
                n for status, _, n, _ in queries.totals_by_status_and_currency(conn)
                if status == "NEEDS_OPERATOR"
            )  # fmt: skip
            failed, pending, oldest = queries.notices_waiting(conn)
            holder = runs.lock_holder(conn)
            facts = Facts(
                now=now,
                last_bill_completed=None if last is None else datetime.fromisoformat(last),
                overdue_attempts=len(late),
                open_attempts=ledger.count_open_attempts(conn),
                needs_operator=held,
                notices_failed=failed,
                notices_pending=pending,
                oldest_pending_notice=None if oldest is None else datetime.fromisoformat(oldest),
                last_bill_ended=queries.last_bill_ending(conn),
                dead_lock_holder=(
                    str(holder) if holder is not None and not holder.alive(now, is_alive) else None
                ),
            )
        finally:
            conn.execute("ROLLBACK")
    findings = judge(facts, limits)
    return Health(level_of(findings), findings, facts)
