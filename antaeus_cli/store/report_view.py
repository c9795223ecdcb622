"""The store's port for `report` and `check`: every fact they show, read in one
snapshot (`Store.report_view()`), in domain terms. The SQL is in `store.queries`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from antaeus_cli.domain.overdue import OpenAttempt
from antaeus_cli.store import ledger, queries, replays, runs, voids

if TYPE_CHECKING:
    from sqlite_utils import Database

Rows = list[dict[str, Any]]


class ReportView:
    """Read-only facts for people and monitoring. `limit` caps a list (None: all)."""

    def __init__(self, conn: sqlite3.Connection, db: Callable[[], Database]) -> None:
        self._conn = conn
        self._db = db  # sqlite-utils over the same connection, built when first asked for

    def totals(self) -> list[queries.Total]:
        """Invoices per status and currency: status, currency, count, amount."""
        return queries.totals_by_status_and_currency(self._conn)

    def collected(self) -> list[tuple[str, int, int]]:
        """Charged through antaeus per currency, by the ledger: currency, count, amount."""
        return queries.collected_by_currency(self._conn)

    def needs_operator(self, limit: int | None) -> Rows:
        return queries.needs_operator(self._db(), limit)

    def awaiting_customer(self, limit: int | None) -> Rows:
        return queries.awaiting_customer(self._db(), limit)

    def voided(self, limit: int | None) -> Rows:
        return voids.voided(self._db(), limit)

    def retries_scheduled(self, limit: int | None) -> Rows:
        return queries.retries_scheduled(self._db(), limit)

    def retries_due(self) -> list[tuple[str, int]]:
        return queries.retries_due(self._conn)

    def count_open_attempts(self) -> int:
        return ledger.count_open_attempts(self._conn)

    def open_attempts(self, limit: int) -> Rows:
        return queries.open_attempts(self._db(), limit)

    def looked_up_often(self) -> list[OpenAttempt]:
        return replays.looked_up_often(self._conn)

    def declines_by_code(self) -> list[tuple[str, str, int]]:
        return queries.declines_by_code(self._conn)

    def charges_without_invoice(self, limit: int) -> Rows:
        return queries.charges_without_invoice(self._db(), limit)

    def lock_holder(self) -> runs.LockHolder | None:
        return runs.lock_holder(self._conn)

    def recent_runs(self, limit: int) -> Rows:
        return queries.recent_runs(self._db(), limit)

    def last_completed_bill(self) -> str | None:
        return queries.last_completed_bill(self._conn)

    def last_bill_ending(self) -> str | None:
        return queries.last_bill_ending(self._conn)

    def notifications_by_status(self) -> list[tuple[str, int]]:
        return queries.notifications_by_status(self._conn)

    def failed_notifications(self, limit: int | None) -> Rows:
        return queries.failed_notifications(self._db(), limit)

    def notices_waiting(self) -> tuple[int, int, str | None]:
        """Failed notices, pending ones, and when the oldest pending one was due."""
        return queries.notices_waiting(self._conn)

    def customers_without_email(self) -> int:
        return queries.customers_without_email(self._conn)
