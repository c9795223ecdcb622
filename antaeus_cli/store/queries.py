"""Read-only queries behind `antaeus report`: aggregates in SQL, not loops in Python."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

TOTALS = (
    "SELECT status, currency, count(*), sum(amount) FROM invoice "
    "GROUP BY status, currency ORDER BY status, currency"
)


def totals_by_status_and_currency(conn: sqlite3.Connection) -> list[tuple[str, str, int, int]]:
    """Count and sum per (status, currency). Sums are exact integers; if corrupt rows make
    a sum overflow 64 bits, that group is summed in Python instead."""
    try:
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in conn.execute(TOTALS)]
    except sqlite3.OperationalError as exc:
        if "integer overflow" not in str(exc):
            raise
    sums: dict[tuple[str, str], list[int]] = {}
    for status, currency, amount in conn.execute("SELECT status, currency, amount FROM invoice"):
        entry = sums.setdefault((str(status), str(currency)), [0, 0])
        entry[0] += 1
        entry[1] += int(amount)
    return [(s, c, n, total) for (s, c), (n, total) in sorted(sums.items())]


def needs_operator(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    cursor = conn.execute(
        "SELECT id AS invoice_id, customer_id, amount, currency, failure_code, failure_detail, "
        "updated_at FROM invoice WHERE status = 'NEEDS_OPERATOR' ORDER BY id"
    )
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def recent_runs(conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    cursor = conn.execute("SELECT * FROM billing_run ORDER BY id DESC LIMIT ?", (limit,))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def retries_due(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """FAILED invoices per next retry date."""
    return [
        (str(r[0]), int(r[1]))
        for r in conn.execute(
            "SELECT next_retry_on, count(*) FROM invoice WHERE status = 'FAILED' "
            "GROUP BY next_retry_on ORDER BY next_retry_on"
        )
    ]


def collected_by_currency(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """What the ledger says was charged: attempts whose outcome is `charged`, per currency.
    This is the figure to reconcile with the provider's own settlement report."""
    return [
        (str(r[0]), int(r[1]), int(r[2]))
        for r in conn.execute(
            "SELECT currency, count(*), sum(amount) FROM payment_attempt "
            "WHERE outcome = 'charged' GROUP BY currency ORDER BY currency"
        )
    ]
