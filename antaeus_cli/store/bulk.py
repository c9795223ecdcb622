"""Loading seed data into a new database, in one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from antaeus_cli.store.database import Store

BATCH = 5_000


def load_rows(
    store: Store,
    customers: Iterable[dict[str, object]],
    invoices: Iterable[dict[str, object]],
) -> None:
    """Insert customer and invoice rows (column name -> value) all at once or not at all.

    The schema's CHECK and foreign-key constraints apply, so a row the schema
    cannot hold fails the whole load and leaves nothing behind.
    """
    with store.transaction():
        store.db.table("customer").insert_all(customers, batch_size=BATCH)
        store.db.table("invoice").insert_all(invoices, batch_size=BATCH)
