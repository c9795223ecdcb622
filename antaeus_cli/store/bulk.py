"""Loading seed data into a new database, in one transaction.

Plain `executemany` rather than sqlite-utils' `insert_all`: at a million rows the
library's per-value conversion (it checks every value for JSON) costs most of the
time, and these rows are plain integers and text already.
"""

from __future__ import annotations

from collections.abc import Iterable

from antaeus_cli.store.database import Store

CUSTOMER_COLUMNS = ("id", "currency")
INVOICE_COLUMNS = (
    "id",
    "customer_id",
    "amount",
    "currency",
    "status",
    "due_date",
    "decline_count",
    "first_declined_on",
    "next_retry_on",
    "failure_code",
    "failure_detail",
    "created_at",
    "updated_at",
    "paid_at",
)


def load_rows(
    store: Store,
    customers: Iterable[tuple[object, ...]],
    invoices: Iterable[tuple[object, ...]],
) -> None:
    """Insert customer and invoice rows (in the column orders above), all or nothing.

    The schema's CHECK and foreign-key constraints apply, so a row the schema
    cannot hold fails the whole load and leaves nothing behind.
    """
    with store.transaction() as conn:
        conn.executemany(_insert("customer", CUSTOMER_COLUMNS), customers)
        conn.executemany(_insert("invoice", INVOICE_COLUMNS), invoices)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
