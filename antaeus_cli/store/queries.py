"""Read-only queries behind `antaeus report`: aggregates in SQL, never a loop over rows.

Totals per status and currency come from the partial index each status but PAID
has, which holds currency and amount, so no table row is read. PAID, which most
invoices end in, is the total of all invoices per currency (kept exact by triggers,
see migrations/v3.py) minus the other statuses, checked against a count of PAID's own
index: an invoice set by hand to a status no rule knows is in no partial index, and
the totals are then counted row by row, where it shows under its own status.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlite_utils import Database

_BY_INDEX = (
    ("PENDING", "invoice_pending"),
    ("PROCESSING", "invoice_processing"),
    ("FAILED", "invoice_failed"),
    ("NEEDS_OPERATOR", "invoice_operator"),
    ("UNCOLLECTIBLE", "invoice_uncollectible"),
    ("AWAITING_CUSTOMER", "invoice_awaiting"),
    ("VOID", "invoice_void"),
)
_STATUS_TOTALS = tuple(
    (
        status,
        f"SELECT currency, count(*), sum(amount) FROM invoice INDEXED BY {index} "
        f"WHERE status = '{status}' GROUP BY currency",
    )
    for status, index in _BY_INDEX
)
_PAID_COUNT = (
    "SELECT count(*) FROM invoice INDEXED BY invoice_paid_by_customer WHERE status = 'PAID'"
)
_EXACT = (
    "SELECT status, currency, count(*), sum(amount) FROM invoice "
    "GROUP BY status, currency ORDER BY status, currency"
)

Total = tuple[str, Any, int, int]  # status, currency (as stored), count, amount


def totals_by_status_and_currency(conn: sqlite3.Connection) -> list[Total]:
    """Count and exact sum of amounts per (status, currency)."""
    try:
        fast = _fast_totals(conn)
    except sqlite3.OperationalError as exc:
        if "integer overflow" not in str(exc):
            raise
        fast = None
    return fast if fast is not None else _exact_totals(conn)


def _fast_totals(conn: sqlite3.Connection) -> list[Total] | None:
    rows: list[Total] = []
    others: dict[Any, list[int]] = {}
    for status, sql in _STATUS_TOTALS:
        for currency, count, amount in conn.execute(sql):
            if type(amount) is not int:  # a hand-written amount that is no whole number
                return None
            rows.append((status, currency, count, amount))
            entry = others.setdefault(currency, [0, 0])
            entry[0] += count
            entry[1] += amount
    for currency, count, amount, exact in conn.execute(
        "SELECT currency, count, amount, exact FROM invoice_total"
    ):
        if not exact or type(amount) is not int:  # a sum beyond 64 bits: count exactly
            return None
        other_count, other_amount = others.pop(currency, (0, 0))
        if count < other_count:
            return None
        if count > other_count:
            rows.append(("PAID", currency, count - other_count, amount - other_amount))
    if others:  # a currency the running totals do not know: trust the slow way
        return None
    (paid,) = conn.execute(_PAID_COUNT).fetchone()
    if paid != sum(row[2] for row in rows if row[0] == "PAID"):  # a status no rule knows
        return None
    return sorted(rows, key=lambda row: (row[0], str(row[1])))


ODD_AMOUNT = " (amount not a whole number)"  # after the status of such rows


def _exact_totals(conn: sqlite3.Connection) -> list[Total]:
    """Every row read; sums kept in Python integers, so corrupt amounts cannot overflow.
    A row whose amount a hand edit left as no whole number (text, a fraction, bytes) is
    counted apart, under its status with ODD_AMOUNT after it, and adds nothing to a sum."""
    sums: dict[tuple[str, Any], list[int]] = {}
    for status, currency, amount in conn.execute("SELECT status, currency, amount FROM invoice"):
        whole = type(amount) is int
        entry = sums.setdefault((str(status) + ("" if whole else ODD_AMOUNT), currency), [0, 0])
        entry[0] += 1
        entry[1] += amount if whole else 0
    return sorted(
        ((s, c, n, total) for (s, c), (n, total) in sums.items()),
        key=lambda row: (row[0], str(row[1])),
    )


# The invoices held for a person, by status: one covering partial index each.
_HELD = {
    "NEEDS_OPERATOR": "SELECT id AS invoice_id, customer_id, amount, currency, failure_code, "
    "failure_detail, updated_at FROM invoice INDEXED BY invoice_operator "
    "WHERE status = 'NEEDS_OPERATOR' ORDER BY id LIMIT ?",
    "AWAITING_CUSTOMER": "SELECT id AS invoice_id, customer_id, amount, currency, failure_code, "
    "failure_detail, updated_at FROM invoice INDEXED BY invoice_awaiting "
    "WHERE status = 'AWAITING_CUSTOMER' ORDER BY id LIMIT ?",
}


def needs_operator(db: Database, limit: int | None) -> list[dict[str, Any]]:
    """Invoices waiting for an operator, oldest first; all of them when limit is None."""
    return list(db.query(_HELD["NEEDS_OPERATOR"], (-1 if limit is None else limit,)))


def awaiting_customer(db: Database, limit: int | None) -> list[dict[str, Any]]:
    """Invoices waiting for their customer (a card to authenticate or replace), oldest
    first; all of them when limit is None."""
    return list(db.query(_HELD["AWAITING_CUSTOMER"], (-1 if limit is None else limit,)))


def retries_scheduled(db: Database, limit: int | None) -> list[dict[str, Any]]:
    """FAILED invoices with the date of their next try (in the customer's zone), soonest
    first; all of them when limit is None."""
    return list(
        db.query(
            "SELECT id AS invoice_id, customer_id, amount, currency, next_retry_on, "
            "decline_count, failure_code FROM invoice INDEXED BY invoice_failed "
            "WHERE status = 'FAILED' ORDER BY next_retry_on, id LIMIT ?",
            (-1 if limit is None else limit,),
        )
    )


def open_attempts(db: Database, limit: int) -> list[dict[str, Any]]:
    """Attempts whose outcome is not settled yet, oldest first, with why they are open."""
    return list(
        db.query(
            "SELECT id AS attempt_id, invoice_id, idempotency_key, outcome, provider_ref, "
            "started_at, lookup_passes, error FROM payment_attempt "
            "INDEXED BY payment_attempt_one_open WHERE finished_at IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
    )


def charges_without_invoice(db: Database, limit: int) -> list[dict[str, Any]]:
    """Charges the provider made whose invoice row was deleted while they were in flight:
    they count in `collected`, and an operator has to account for them. CROSS JOIN
    keeps the small table outside: the planner would otherwise walk the ledger."""
    return list(
        db.query(
            "SELECT a.id AS attempt_id, a.invoice_id, a.customer_id, a.amount, a.currency, "
            "a.idempotency_key, a.provider_ref, a.finished_at, a.error "
            "FROM charge_without_invoice o CROSS JOIN payment_attempt a ON a.id = o.attempt_id "
            "WHERE NOT EXISTS (SELECT 1 FROM invoice i WHERE i.id = a.invoice_id) "
            "ORDER BY a.id LIMIT ?",
            (limit,),
        )
    )


_UNDELIVERED = "(status = 'failed' OR status = 'skipped' OR status = 'withdrawn')"


def notifications_by_status(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """The outbox per status, from its indexes: a month of sent notices is counted, not
    read. Sent is what the others leave of the whole."""
    total = int(conn.execute("SELECT count(*) FROM notification").fetchone()[0])
    pending = int(
        conn.execute("SELECT count(*) FROM notification WHERE status = 'pending'").fetchone()[0]
    )
    counts = {"pending": pending}
    for status, count in conn.execute(
        "SELECT status, count(*) FROM notification INDEXED BY notification_undelivered "
        f"WHERE {_UNDELIVERED} GROUP BY status"
    ):
        counts[str(status)] = int(count)
    counts["sent"] = total - sum(counts.values())
    return [(status, n) for status, n in sorted(counts.items()) if n]


def failed_notifications(db: Database, limit: int | None) -> list[dict[str, Any]]:
    """Notices that will not go, with the reason: failed, skipped, withdrawn (the first
    `limit`; None: all)."""
    return list(
        db.query(
            "SELECT n.id, n.dedupe_key, n.kind, n.status, a.invoice_id, n.recipient, n.tries, "
            "n.last_error FROM notification n LEFT JOIN payment_attempt a ON a.id = n.attempt_id "
            "WHERE n.id IN (SELECT id FROM notification INDEXED BY notification_undelivered "
            f"WHERE {_UNDELIVERED}) ORDER BY n.status, n.id LIMIT ?",
            (-1 if limit is None else limit,),
        )
    )


def customers_without_email(conn: sqlite3.Connection) -> int:
    """Customers who get no e-mail: no address, or an empty one."""
    return int(
        conn.execute(
            "SELECT count(*) FROM customer INDEXED BY customer_without_email "
            "WHERE email IS NULL OR trim(email, char(32, 9, 10, 13, 11, 12)) = ''"
        ).fetchone()[0]
    )


def recent_runs(db: Database, limit: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM billing_run ORDER BY id DESC LIMIT ?", (limit,)))


def retries_due(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """FAILED invoices per next retry date."""
    return [
        (str(r[0]), int(r[1]))
        for r in conn.execute(
            "SELECT next_retry_on, count(*) FROM invoice INDEXED BY invoice_failed "
            "WHERE status = 'FAILED' GROUP BY next_retry_on ORDER BY next_retry_on"
        )
    ]


def declines_by_code(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """Settled declines per provider code and class, most frequent first."""
    return [
        (str(r[0]), str(r[1]), int(r[2]))
        for r in conn.execute(
            "SELECT decline_code, coalesce(decline_class, ''), count(*) FROM payment_attempt "
            "INDEXED BY payment_attempt_declines WHERE decline_code IS NOT NULL "
            "GROUP BY decline_code, decline_class ORDER BY count(*) DESC, decline_code"
        )
    ]


def collected_by_currency(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """What the ledger says was charged, per currency, kept by every settlement write.
    This is the figure to reconcile with the provider's own settlement report.

    The running totals only grow, so one that left 64 bits stays a REAL: then the
    charged attempts themselves are counted, in Python integers."""
    rows = conn.execute(
        "SELECT currency, count, amount FROM collected ORDER BY currency"
    ).fetchall()
    if all(type(count) is int and type(amount) is int for _, count, amount in rows):
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]
    sums: dict[str, list[int]] = {}
    for currency, amount in conn.execute(
        "SELECT currency, amount FROM payment_attempt WHERE outcome = 'charged'"
    ):
        entry = sums.setdefault(str(currency), [0, 0])
        entry[0] += 1
        entry[1] += int(amount)
    return [(currency, count, total) for currency, (count, total) in sorted(sums.items())]


def last_completed_bill(conn: sqlite3.Connection) -> str | None:
    """When the last `bill` pass that completed finished (ISO text), or None."""
    row = conn.execute(
        "SELECT max(finished_at) FROM billing_run WHERE command = 'bill' AND status = 'completed'"
    ).fetchone()
    return None if row[0] is None else str(row[0])


def last_bill_ending(conn: sqlite3.Connection) -> str | None:
    """How the latest finished `bill` pass ended, when it did not complete: `run N
    STATUS: reason`; None when it completed (or none has finished)."""
    row = conn.execute(
        "SELECT id, status, stop_reason FROM billing_run WHERE command = 'bill' "
        "AND status <> 'running' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None or row[1] == "completed":
        return None
    return f"run {row[0]} {row[1]}" + (f": {row[2]}" if row[2] else "")


def notices_waiting(conn: sqlite3.Connection) -> tuple[int, int, str | None]:
    """The notices failed for good, those waiting to go, and when the oldest of these
    was written (ISO text; None: none waits)."""
    failed = int(
        conn.execute(
            "SELECT count(*) FROM notification INDEXED BY notification_undelivered "
            "WHERE status = 'failed'"
        ).fetchone()[0]
    )
    pending, oldest = conn.execute(
        "SELECT count(*), min(created_at) FROM notification WHERE status = 'pending'"
    ).fetchone()
    return failed, int(pending), None if oldest is None else str(oldest)
