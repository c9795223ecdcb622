"""Claims, settlements and releases: the writes of a billing pass, batch by batch.

Every function here runs inside a transaction the caller opened with
`Store.transaction()`, so a batch of claims or outcomes commits whole or not at all.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from antaeus_cli.domain.attempt import Attempt, Settled
from antaeus_cli.domain.invoice import (
    DunningState,
    Invoice,
    InvoiceRow,
    InvoiceStatus,
    Rejection,
)
from antaeus_cli.domain.money import Currency, Money
from antaeus_cli.errors import ClaimConflict, LedgerConflict

_ROW_COLUMNS = (
    "i.id, i.customer_id, i.amount, i.currency, c.currency, i.status, i.attempt_count, "
    "i.decline_count, i.first_declined_on, "
    "(SELECT max(a.attempt_no) FROM payment_attempt a WHERE a.invoice_id = i.id)"
)
_FROM = "FROM invoice i LEFT JOIN customer c ON c.id = i.customer_id"


class Due(enum.Enum):
    """Which invoices a pass charges; each value is a constant SQL condition."""

    BILL = "i.status = 'PENDING' AND i.due_date <= :as_of"
    RETRY = "i.status = 'FAILED' AND i.next_retry_on <= :as_of"


def due_batch(
    conn: sqlite3.Connection, due: Due, as_of: date, after_id: int, limit: int
) -> list[InvoiceRow]:
    """The next due invoices after `after_id`, in id order (keyset pagination, so each
    batch is one index range scan however large the table is)."""
    rows = conn.execute(
        f"SELECT {_ROW_COLUMNS} {_FROM} WHERE {due.value} AND i.id > :after "
        "ORDER BY i.id LIMIT :limit",
        {"as_of": as_of.isoformat(), "after": after_id, "limit": limit},
    ).fetchall()
    return [_invoice_row(row) for row in rows]


def count_due(conn: sqlite3.Connection, due: Due, as_of: date) -> int:
    """How many invoices a pass would select; for progress reporting only."""
    row = conn.execute(
        f"SELECT count(*) FROM invoice i WHERE {due.value}", {"as_of": as_of.isoformat()}
    ).fetchone()
    return int(row[0])


def invoices_by_id(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, InvoiceRow]:
    placeholders = ", ".join("?" for _ in ids)
    rows = conn.execute(f"SELECT {_ROW_COLUMNS} {_FROM} WHERE i.id IN ({placeholders})", ids)
    return {int(row[0]): _invoice_row(row) for row in rows}


def _invoice_row(row: tuple[Any, ...]) -> InvoiceRow:
    """Columns the schema constrains are typed; the others stay raw, to be checked."""
    first = row[8]
    return InvoiceRow(
        id=row[0],
        customer_id=row[1],
        amount=row[2],
        currency=row[3],
        customer_currency=row[4],
        status=InvoiceStatus(row[5]),
        attempt_count=row[6],
        dunning=DunningState(row[7], date.fromisoformat(first) if first else None),
        last_attempt_no=row[9] or 0,
    )


def claim(
    conn: sqlite3.Connection,
    *,
    run_id: int,
    command: str,
    now: datetime,
    attempts: Sequence[Attempt],
) -> None:
    """Mark each invoice PROCESSING and write its attempt row, before any provider call.

    The guard (status and attempt_count as they were read) makes the claim atomic:
    if any invoice changed in between, the whole batch rolls back, nothing is charged.
    """
    stamp = now.isoformat()
    claimed = conn.executemany(
        "UPDATE invoice SET status = 'PROCESSING', attempt_count = ?, updated_at = ? "
        "WHERE id = ? AND status = ? AND attempt_count = ?",
        [
            (a.attempt_no, stamp, a.invoice.id, a.from_status.value, a.read_attempt_count)
            for a in attempts
        ],
    ).rowcount
    if claimed != len(attempts):
        raise ClaimConflict(
            f"{len(attempts) - claimed} of {len(attempts)} invoices changed while this pass "
            "claimed them; nothing in the batch was charged. Another process is writing "
            "invoices: try again when it has finished"
        )
    conn.executemany(
        "INSERT INTO payment_attempt (invoice_id, attempt_no, idempotency_key, run_id, command, "
        "amount, currency, from_status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                a.invoice.id,
                a.attempt_no,
                a.key,
                run_id,
                command,
                a.invoice.amount.minor,
                a.invoice.amount.currency.value,
                a.from_status.value,
                stamp,
            )
            for a in attempts
        ],
    )


def reject(
    conn: sqlite3.Connection, *, now: datetime, rejected: Sequence[tuple[InvoiceRow, Rejection]]
) -> None:
    """Send invoices that failed a local check to an operator, without calling the provider."""
    stamp = now.isoformat()
    conn.executemany(
        "UPDATE invoice SET status = 'NEEDS_OPERATOR', failure_code = ?, failure_detail = ?, "
        "next_retry_on = NULL, updated_at = ? WHERE id = ? AND status = ?",
        [
            (rejection.code.value, rejection.detail, stamp, row.id, row.status.value)
            for row, rejection in rejected
        ],
    )


def settle(
    conn: sqlite3.Connection, *, run_id: int, now: datetime, settled: Sequence[Settled]
) -> None:
    """Record each provider answer on its attempt, and move its invoice on."""
    stamp = now.isoformat()
    updated = conn.executemany(
        "UPDATE payment_attempt SET outcome = ?, error = ?, provider_calls = provider_calls + ?, "
        "finished_at = ?, settled_by_run_id = ? WHERE invoice_id = ? AND attempt_no = ? "
        "AND outcome IN ('started', 'unknown')",
        [
            (
                s.result.outcome.value,
                s.result.detail,
                s.result.calls,
                None if s.transition is None else stamp,
                None if s.transition is None else run_id,
                s.attempt.invoice.id,
                s.attempt.attempt_no,
            )
            for s in settled
        ],
    ).rowcount
    if updated != len(settled):
        raise LedgerConflict(
            f"{len(settled) - updated} attempts in this batch were settled by another pass "
            "meanwhile; nothing from the batch was recorded. Check 'antaeus report'"
        )
    moves = [s for s in settled if s.transition is not None]
    conn.executemany(
        "UPDATE invoice SET status = ?, failure_code = ?, failure_detail = ?, next_retry_on = ?, "
        "decline_count = ?, first_declined_on = ?, paid_at = ?, updated_at = ? WHERE id = ?",
        [_invoice_move(s, stamp) for s in moves],
    )


def _invoice_move(s: Settled, stamp: str) -> tuple[object, ...]:
    t = s.transition
    if t is None:
        raise ValueError(f"invoice {s.attempt.invoice.id} has no transition to record")
    first = t.dunning.first_declined_on
    return (
        t.status.value,
        None if t.failure is None else t.failure.code.value,
        None if t.failure is None else t.failure.detail,
        None if t.next_retry_on is None else t.next_retry_on.isoformat(),
        t.dunning.declines,
        None if first is None else first.isoformat(),
        stamp if t.status is InvoiceStatus.PAID else None,
        stamp,
        s.attempt.invoice.id,
    )


def release(
    conn: sqlite3.Connection, *, run_id: int, now: datetime, attempts: Sequence[Attempt]
) -> None:
    """Hand back claimed invoices whose attempts were never sent (the pass stopped).

    Only attempts still `started` are released: they provably never left this
    process, so no money can have moved under their keys.
    """
    stamp = now.isoformat()
    conn.executemany(
        "UPDATE payment_attempt SET outcome = 'abandoned', error = 'not sent: the pass stopped', "
        "finished_at = ?, settled_by_run_id = ? WHERE invoice_id = ? AND attempt_no = ? "
        "AND outcome = 'started'",
        [(stamp, run_id, a.invoice.id, a.attempt_no) for a in attempts],
    )
    conn.executemany(
        "UPDATE invoice SET status = ?, updated_at = ? WHERE id = ? AND status = 'PROCESSING' "
        "AND EXISTS (SELECT 1 FROM payment_attempt a WHERE a.invoice_id = invoice.id "
        "AND a.attempt_no = ? AND a.outcome = 'abandoned' AND a.settled_by_run_id = ?)",
        [(a.from_status.value, stamp, a.invoice.id, a.attempt_no, run_id) for a in attempts],
    )


_OPEN_ATTEMPTS = (
    "SELECT a.id, a.invoice_id, a.attempt_no, a.idempotency_key, a.amount, a.currency, "
    "a.from_status, i.customer_id, i.decline_count, i.first_declined_on "
    "FROM payment_attempt a JOIN invoice i ON i.id = a.invoice_id "
    "WHERE a.outcome IN ('started', 'unknown') AND a.id > ? ORDER BY a.id LIMIT ?"
)


def open_attempts(conn: sqlite3.Connection, after_id: int, limit: int) -> list[tuple[int, Attempt]]:
    """Attempts whose outcome is not known, with their row ids, to replay."""
    found = []
    for row in conn.execute(_OPEN_ATTEMPTS, (after_id, limit)):
        invoice = Invoice(row[1], row[7], Money(row[4], Currency(row[5])))
        first = row[9]
        dunning = DunningState(row[8], date.fromisoformat(first) if first else None)
        attempt = Attempt(invoice, row[2], row[3], dunning, InvoiceStatus(row[6]), replay=True)
        found.append((int(row[0]), attempt))
    return found


def count_open_attempts(conn: sqlite3.Connection) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM payment_attempt WHERE outcome IN ('started', 'unknown')"
        ).fetchone()[0]
    )
