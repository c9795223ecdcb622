"""Notices an operator puts back in the outbox: read the ones `notify` gave up on, and
make them pending again, as new, in one write transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from antaeus_cli.store.database import lenient_text
from antaeus_cli.store.deliveries import MAX_ERROR

# Each notice not delivered that the filters take, with what a decline notice needs to
# be still true: its invoice's status now, and whether its attempt is the latest.
# `:kinds` and `:customers` are JSON lists, or NULL for all; `:since` an instant or NULL.
_UNDELIVERED = (
    "SELECT n.id, n.dedupe_key, n.kind, n.status, n.created_at, "
    "CASE WHEN n.attempt_id IS NULL THEN n.recipient ELSE c.email END, n.last_error, "
    "a.customer_id, a.invoice_id, i.status, "
    "NOT EXISTS (SELECT 1 FROM payment_attempt b WHERE b.invoice_id = a.invoice_id "
    "AND b.attempt_no > a.attempt_no) "
    "FROM notification n "
    "LEFT JOIN payment_attempt a ON a.id = n.attempt_id "
    "LEFT JOIN invoice i ON i.id = a.invoice_id "
    "LEFT JOIN customer c ON c.id = a.customer_id "
    "WHERE n.status IN (SELECT value FROM json_each(:statuses)) "
    "AND (:kinds IS NULL OR n.kind IN (SELECT value FROM json_each(:kinds))) "
    "AND (:customers IS NULL OR a.customer_id IN (SELECT value FROM json_each(:customers))) "
    "AND (:since IS NULL OR julianday(n.created_at) >= julianday(:since)) "
    "ORDER BY n.id"
)
# As new: no try spent, due now, no lease, to the customer's address as it is now (the
# fix is often a corrected address); the reason it was given up on is kept after the
# word that it was put back. Only a row still undelivered: nothing sent goes twice.
_REQUEUE = (
    "UPDATE notification SET status = 'pending', tries = 0, next_attempt_at = :stamp, "
    "lease_owner = NULL, recipient = CASE WHEN attempt_id IS NULL THEN recipient ELSE "
    "(SELECT c.email FROM payment_attempt a JOIN customer c ON c.id = a.customer_id "
    "WHERE a.id = notification.attempt_id) END, "
    "last_error = substr('put back in the outbox at ' || :stamp || "
    "' after: ' || coalesce(last_error, status), 1, :cap) "
    "WHERE id IN (SELECT value FROM json_each(:ids)) "
    "AND (status = 'failed' OR status = 'skipped')"
)


class Undelivered(NamedTuple):
    id: int
    key: str
    kind: str
    status: str  # failed or skipped
    created_at: str
    recipient: str | None  # where it goes once put back: the customer's address now
    last_error: str | None
    customer_id: object
    invoice_id: object
    invoice_status: object  # as stored, None for a run summary or an invoice gone
    latest: bool  # its attempt is its invoice's latest


def undelivered(
    conn: sqlite3.Connection,
    *,
    statuses: Sequence[str],
    kinds: Sequence[str] | None,
    customers: Sequence[int] | None,
    since: datetime | None,
) -> list[Undelivered]:
    """The notices `notify` failed or skipped that the filters take, oldest first."""
    conn.text_factory = lenient_text  # bytes that are not UTF-8 are shown, not fatal
    try:
        rows = conn.execute(
            _UNDELIVERED,
            {
                "statuses": json.dumps(list(statuses)),
                "kinds": None if kinds is None else json.dumps(list(kinds)),
                "customers": None if customers is None else json.dumps(list(customers)),
                "since": None if since is None else since.isoformat(),
            },
        ).fetchall()
    finally:
        conn.text_factory = str
    return [
        Undelivered(
            int(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            str(row[4]),
            None if row[5] is None else str(row[5]),
            None if row[6] is None else str(row[6]),
            row[7],
            row[8],
            row[9],
            bool(row[10]),
        )
        for row in rows
    ]


def requeue(conn: sqlite3.Connection, notice_ids: Sequence[int], *, now: datetime) -> int:
    """Inside a write transaction: put the notices back as new; how many were."""
    cursor = conn.execute(
        _REQUEUE, {"ids": json.dumps(list(notice_ids)), "stamp": now.isoformat(), "cap": MAX_ERROR}
    )
    return int(cursor.rowcount)
