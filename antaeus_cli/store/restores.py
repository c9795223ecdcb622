"""What the ledger knows of its own keys, to tell a restored database (one that does
not know charges made under its keys after its backup was taken)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime


def newest_attempt(conn: sqlite3.Connection) -> datetime | None:
    """When the newest attempt of the ledger began (None: it has none)."""
    row = conn.execute("SELECT max(started_at) FROM payment_attempt").fetchone()
    return None if row[0] is None else datetime.fromisoformat(row[0])


def unknown(conn: sqlite3.Connection, keys: Iterable[str]) -> list[str]:
    """The keys of `keys` that no attempt of the ledger was made under, in their order."""
    return [
        key
        for key in keys
        if conn.execute(
            "SELECT 1 FROM payment_attempt WHERE idempotency_key = ?", (key,)
        ).fetchone()
        is None
    ]


def adopt(
    conn: sqlite3.Connection,
    run_id: int,
    forgotten: Iterable[tuple[int, int, str, datetime]],
) -> dict[str, str]:
    """Record each forgotten charge (invoice id, attempt number, key, when the provider
    created it) as an open attempt of run `run_id`, as a claim would have recorded it
    before sending: the next pass looks it up under its key and settles it with the
    provider's answer. Return the keys that could not be recorded, each with why."""
    refused: dict[str, str] = {}
    for invoice_id, attempt_no, key, created in forgotten:
        try:
            written = conn.execute(
                "INSERT INTO payment_attempt (invoice_id, customer_id, customer_ref, "
                "attempt_no, idempotency_key, run_id, command, amount, currency, from_status, "
                "started_at, period) "
                "SELECT i.id, i.customer_id, c.provider_ref, ?, ?, ?, 'bill', i.amount, "
                "i.currency, CASE WHEN i.status = 'PENDING' OR i.status = 'FAILED' "
                "OR i.status = 'NEEDS_OPERATOR' OR i.status = 'UNCOLLECTIBLE' "
                "OR i.status = 'AWAITING_CUSTOMER' THEN i.status ELSE 'PENDING' END, ?, "
                "substr(i.due_date, 1, 7) FROM invoice i "
                "LEFT JOIN customer c ON c.id = i.customer_id WHERE i.id = ?",
                (attempt_no, key, run_id, created.isoformat(), invoice_id),
            ).rowcount
        except sqlite3.IntegrityError as exc:
            refused[key] = _why_not(exc)
            continue
        if written != 1:
            refused[key] = NOT_HERE
    return refused


NOT_HERE = "its invoice is not in this database"


def _why_not(exc: sqlite3.IntegrityError) -> str:
    """Why the ledger refused a forgotten charge, in words for the operator."""
    text = str(exc)
    if "payment_attempt.invoice_id, payment_attempt.attempt_no" in text:
        return "its attempt number is another key's in the ledger"
    if "payment_attempt.invoice_id" in text:  # payment_attempt_one_open
        return (
            "its invoice has another charge open: settle that one first ('antaeus report "
            "--section open-attempts'), then reconcile again"
        )
    return f"the ledger cannot carry it ({text[:200]})"
