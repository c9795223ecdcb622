"""The rows `antaeus import` reads and writes, matched by the upstream system's own
identifier (`external_id`, schema version 11)."""

from __future__ import annotations

import sqlite3

from antaeus_cli.domain.imported import CustomerRow, InvoiceRow

StoredCustomer = tuple[int, str, str | None, str | None, str | None, str | None]
StoredInvoice = tuple[int, int, int, str, str, str, str | None]


_LARGEST_ID = {  # constants: the SQL scanner allows no name pasted into a statement
    "customer": "SELECT coalesce(max(id), 0) FROM customer",
    "invoice": "SELECT coalesce(max(id), 0) FROM invoice",
}


class ImportWork:
    """One import's unit of work (`Store.imports()`): the rows it reads and writes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def next_id(self, table: str) -> int:
        """The id SQLite gives the next row added to `table` (customer or invoice): one
        more than the largest, and so on, in one transaction."""
        (largest,) = self._conn.execute(_LARGEST_ID[table]).fetchone()
        return int(largest) + 1

    def customer(self, external_id: str) -> StoredCustomer | None:
        """id, currency, provider_ref, email, timezone, locale."""
        row = self._conn.execute(
            "SELECT id, currency, provider_ref, email, timezone, locale FROM customer "
            "INDEXED BY customer_by_external_id WHERE external_id = ?",
            (external_id,),
        ).fetchone()
        return None if row is None else (int(row[0]), *row[1:])

    def add_customer(self, row: CustomerRow) -> None:
        self._conn.execute(
            "INSERT INTO customer (currency, provider_ref, email, timezone, locale, external_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (row.currency, row.provider_ref, row.email, row.timezone, row.locale, row.external_id),
        )

    def update_customer(self, customer_id: int, row: CustomerRow) -> None:
        """What an upstream system may change of a customer: where to reach and charge them,
        and the locale to write to them in."""
        self._conn.execute(
            "UPDATE customer SET provider_ref = ?, email = ?, timezone = ?, locale = ? "
            "WHERE id = ?",
            (row.provider_ref, row.email, row.timezone, row.locale, customer_id),
        )

    def invoice(self, external_id: str) -> StoredInvoice | None:
        """id, customer_id, amount, currency, due_date, status, paid_at."""
        row = self._conn.execute(
            "SELECT id, customer_id, amount, currency, due_date, status, paid_at FROM invoice "
            "INDEXED BY invoice_by_external_id WHERE external_id = ?",
            (external_id,),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), *row[2:])

    def add_invoice(self, customer_id: int, row: InvoiceRow, now: str) -> None:
        self._conn.execute(
            "INSERT INTO invoice (customer_id, amount, currency, status, due_date, created_at, "
            "updated_at, paid_at, external_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer_id,
                row.amount_minor,
                row.currency,
                row.status,
                row.due_date.isoformat(),
                now,
                now,
                None if row.paid_at is None else f"{row.paid_at.isoformat()}T00:00:00+00:00",
                row.external_id,
            ),
        )
