"""Loading seed data into a new database, in one transaction.

Plain `executemany` rather than sqlite-utils' `insert_all`: at a million rows the
library's per-value conversion (it checks every value for JSON) costs most of the
time, and these rows are plain integers and text already. The per-row triggers that
keep `invoice_total` are dropped for the load and the totals written once at the
end, from the same rows, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from antaeus_cli.store.database import Store
from antaeus_cli.store.migrations.v4 import TOTAL_TRIGGER_NAMES, TOTAL_TRIGGERS
from antaeus_cli.store.schema import statements

CUSTOMER_COLUMNS = ("id", "currency", "provider_ref", "email", "timezone", "locale")
# A customer without a locale may be given '' for it, stored as NULL (no locale is
# empty): the sqlite3 module binds text directly, but looks an adapter up for every None
# it binds, which costs a seed of 200,000 customers, most without a locale, 40 ms.
_CUSTOMER_INSERT = (
    "INSERT INTO customer (id, currency, provider_ref, email, timezone, locale) "
    "VALUES (?, ?, ?, ?, ?, nullif(?, ''))"
)
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
_AMOUNT, _CURRENCY = INVOICE_COLUMNS.index("amount"), INVOICE_COLUMNS.index("currency")


def load_rows(
    store: Store,
    customers: Iterable[tuple[object, ...]],
    invoices: Iterable[tuple[object, ...]],
) -> None:
    """Insert customer and invoice rows (in the column orders above) into a database
    nobody else has opened yet: `seed` builds it beside its target.

    The schema's CHECK and foreign-key constraints apply, so a row the schema cannot
    hold fails the load; the caller then deletes the file. Because the file is
    private until it is renamed into place, the load writes without a journal (each
    page once, not twice) and the file is synced before the caller renames it.
    """
    with store.writing_unjournaled():
        _load(store, customers, invoices)


def _load(
    store: Store,
    customers: Iterable[tuple[object, ...]],
    invoices: Iterable[tuple[object, ...]],
) -> None:
    totals: dict[object, list[int]] = {}
    with store.transaction() as conn:
        for trigger in TOTAL_TRIGGER_NAMES:
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.executemany(_CUSTOMER_INSERT, customers)
        conn.executemany(_insert("invoice", INVOICE_COLUMNS), _tallied(invoices, totals))
        conn.executemany(
            "INSERT INTO invoice_total (currency, count, amount, exact) VALUES (?, ?, ?, ?)",
            [
                (currency, count, _storable(amount), -(2**63) <= amount < 2**63)
                for currency, (count, amount) in totals.items()
            ],
        )
        for statement in statements(TOTAL_TRIGGERS):
            conn.execute(statement)


def _tallied(
    rows: Iterable[tuple[object, ...]], totals: dict[object, list[int]]
) -> Iterator[tuple[object, ...]]:
    for row in rows:
        entry = totals.setdefault(row[_CURRENCY], [0, 0])
        entry[0] += 1
        entry[1] += row[_AMOUNT]  # type: ignore[operator]
        yield row


def _storable(amount: int) -> int | float:
    """An amount beyond 64 bits is stored as a float, as SQLite's own arithmetic in the
    triggers would: the report sees a non-integer total and counts exactly instead."""
    return amount if -(2**63) <= amount < 2**63 else float(amount)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
