"""The billing_run table and the pass lock that lets one pass run at a time.

The lock is a row in the database, not a lock file: it names the run and the
process that holds it. A holder that has died (SIGKILL, power loss) is detected
by pid and start time on the same host, or by a stale heartbeat elsewhere, and
its run is marked `crashed` when the next pass takes over.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from antaeus_cli.domain.clock import PassClock
from antaeus_cli.errors import LockHeld, LockLost
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.store import outbox
from antaeus_cli.store.database import Store

# A holder whose process cannot be checked (another host, or another pid namespace)
# is presumed dead after this long without a heartbeat; a pass renews it more often.
# The thread that renews it never waits on a network provider (its calls go to a
# pool), and waits out an in-process one's retries for at most the bound on waits
# (domain.waits.MAX_WAIT_S, 60 s) per key: renewals stay well inside the lease.
LEASE_TTL = timedelta(minutes=5)
LONG_AGO = datetime.min.replace(tzinfo=UTC)
HEARTBEAT_EVERY = timedelta(seconds=15)

COUNT_COLUMNS = (
    "reconciled",
    "paid",
    "declined",
    "uncollectible",
    "needs_operator",
    "unknown",
    "released",
    "network_retries",
    "awaiting_customer",
    "not_processed",
)

Liveness = Callable[[ProcessIdentity], "bool | None"]


@dataclass(frozen=True, slots=True)
class StartedRun:
    run_id: int
    took_over_from: int | None  # the crashed run whose lock this pass inherited


def start_run(
    store: Store,
    *,
    command: str,
    clock: PassClock,
    provider: str,
    me: ProcessIdentity,
    now: datetime,
    is_alive: Liveness,
) -> StartedRun:
    """Take the pass lock and record a new run, atomically; raise LockHeld if a live
    pass holds it."""
    stamp = now.isoformat()
    with store.transaction() as conn:
        holder = lock_holder(conn)
        took_over = None
        if holder is not None:
            if holder.alive(now, is_alive):
                raise LockHeld(
                    f"another pass holds the lock: {holder}; try again when it has finished"
                )
            took_over = holder.run_id
            conn.execute("DELETE FROM pass_lock")
        _crashed(conn, store.namespace, stamp)
        run_id = conn.execute(
            "INSERT INTO billing_run (command, as_of, as_of_instant, provider, host, pid, "
            "started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                command,
                clock.company_date.isoformat(),
                clock.as_of.instant.isoformat() if clock.as_of.instant else None,
                provider,
                me.host,
                me.pid,
                stamp,
            ),
        ).lastrowid
        conn.execute(
            "INSERT INTO pass_lock (id, run_id, host, pid, process_tag, acquired_at, "
            "heartbeat_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (run_id, me.host, me.pid, me.tag, stamp, stamp),
        )
    return StartedRun(int(run_id or 0), took_over)


CRASHED = "the process ended without finishing the run; the next pass reconciled it"


def _crashed(conn: sqlite3.Connection, namespace: str, stamp: str) -> None:
    """Mark the runs whose process died as crashed, and tell the operator of each."""
    ended = conn.execute(
        "SELECT id, command, as_of, as_of_instant, needs_operator FROM billing_run "
        "WHERE status = 'running'"
    ).fetchall()
    conn.execute(
        "UPDATE billing_run SET status = 'crashed', finished_at = ?, stop_reason = ? "
        "WHERE status = 'running'",
        (stamp, CRASHED),
    )
    for run_id, command, as_of, instant, needs_operator in ended:
        body = {
            "command": command,
            "as_of": as_of,
            "as_of_instant": instant,
            "status": "crashed",
            "stop_reason": CRASHED,
            "needs_operator": needs_operator,
            "held": [],
        }
        outbox.record_summary(conn, namespace=namespace, run_id=run_id, stamp=stamp, body=body)


@dataclass(frozen=True, slots=True)
class LockHolder:
    run_id: int
    command: str
    started_at: str
    process: ProcessIdentity
    heartbeat_at: datetime

    def alive(self, now: datetime, is_alive: Liveness) -> bool:
        known = is_alive(self.process)
        if known is None:  # another host: trust the heartbeat for a while
            return now - self.heartbeat_at < LEASE_TTL
        return known

    def __str__(self) -> str:
        return f"'{self.command}' run {self.run_id}, {self.process}, since {self.started_at}"


def lock_holder(conn: sqlite3.Connection) -> LockHolder | None:
    row = conn.execute(
        "SELECT l.run_id, r.command, r.started_at, l.host, l.pid, l.process_tag, l.heartbeat_at "
        "FROM pass_lock l JOIN billing_run r ON r.id = l.run_id"
    ).fetchone()
    if row is None:
        return None
    host, pid = str(row[3]), row[4]
    if type(pid) is not int or pid <= 0:  # edited by hand: no process to ask, here or there
        host, pid = f"{host} (pid {str(pid)[:20]!r} unreadable)", 0
    return LockHolder(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        ProcessIdentity(host, pid, str(row[5])),
        _heartbeat_at(row[6]),
    )


def _heartbeat_at(value: object) -> datetime:
    """A heartbeat as written (UTC); one edited into something else is long ago: a
    living pass writes it again within HEARTBEAT_EVERY."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return LONG_AGO
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def heartbeat(
    conn: sqlite3.Connection, run_id: int, now: datetime, counts: Mapping[str, int]
) -> None:
    """Inside a write transaction: prove the lock is still ours and publish progress.

    Raises LockLost if another pass took the lock over (this one was presumed dead,
    e.g. it was paused for longer than the lease); the caller then stops at once.
    """
    updated = conn.execute(
        "UPDATE pass_lock SET heartbeat_at = ? WHERE id = 1 AND run_id = ?",
        (now.isoformat(), run_id),
    ).rowcount
    if updated != 1:
        raise LockLost(
            f"run {run_id} lost the pass lock to another pass while it ran; it stopped "
            "without charging more. Check 'antaeus report' for the runs involved"
        )
    _write_counts(conn, run_id, counts)


def finish_run(
    store: Store,
    run_id: int,
    *,
    status: str,
    reason: str | None,
    counts: Mapping[str, int],
    now: datetime,
    summary: Mapping[str, object] | None = None,
) -> None:
    """Record how the run ended and release the lock, in one transaction; with the
    operator's summary of the run, if it has one."""
    with store.transaction() as conn:
        released = conn.execute("DELETE FROM pass_lock WHERE run_id = ?", (run_id,)).rowcount
        if released != 1:
            raise LockLost(
                f"run {run_id} lost the pass lock to another pass before it could finish; "
                "its work is committed and the other pass reconciles the rest"
            )
        _write_counts(conn, run_id, counts)
        conn.execute(
            "UPDATE billing_run SET status = ?, stop_reason = ?, finished_at = ? "
            "WHERE id = ? AND status = 'running'",
            (status, reason, now.isoformat(), run_id),
        )
        if summary is not None:
            outbox.record_summary(
                conn, namespace=store.namespace, run_id=run_id, stamp=now.isoformat(), body=summary
            )


def _write_counts(conn: sqlite3.Connection, run_id: int, counts: Mapping[str, int]) -> None:
    assignments = ", ".join(f"{column} = ?" for column in COUNT_COLUMNS)
    conn.execute(
        f"UPDATE billing_run SET {assignments} WHERE id = ?",
        (*(counts.get(column, 0) for column in COUNT_COLUMNS), run_id),
    )
