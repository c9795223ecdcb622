"""The store's port for billing: reads and units of work in domain terms.

Billing never holds a connection. It asks a `View` (reads, outside any write) or a
`Work` (one write transaction, which `Store.work()` commits whole or rolls back) for
what it needs: "claim the next due batch", "settle these answers", "hand these
declines back". Each method is one of the store's functions over the transaction's
connection, so the SQL stays in `antaeus_cli.store` and a second store can answer the
same questions with its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime

from antaeus_cli.domain.attempt import Attempt, Settled
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.domain.guards import AmountGuard
from antaeus_cli.domain.invoice import InvoiceRow, Rejection
from antaeus_cli.domain.overdue import OpenAttempt
from antaeus_cli.domain.voiding import VoidFacts
from antaeus_cli.store import careful, claims, holds, ledger, replays, restores, runs, voids
from antaeus_cli.store.careful import Held
from antaeus_cli.store.spread import spread_ids


class View:
    """Reads, each in domain terms."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def zones(self) -> list[str | None]:
        """The distinct zones customers have (None: some have none)."""
        return claims.zones(self._conn)

    def count_due(self, due: claims.Due, days: claims.Days, only: claims.Latest | None) -> int:
        return claims.count_due(self._conn, due, days, only)

    def count_open_attempts(self) -> int:
        return ledger.count_open_attempts(self._conn)

    def invoices_by_id(self, ids: Sequence[int], guards: claims.Guards) -> dict[int, InvoiceRow]:
        return claims.invoices_by_id(self._conn, ids, guards)

    def spread_ids(self, due: claims.Due, days: claims.Days, count: int) -> list[int]:
        """A sample of due invoices spread over the id range (store.spread)."""
        return spread_ids(self._conn, due, days, count)

    def due_batch(
        self,
        due: claims.Due,
        days: claims.Days,
        after_id: float,
        limit: int,
        *,
        amount: AmountGuard,
    ) -> list[InvoiceRow]:
        return claims.due_batch(self._conn, due, days, after_id, limit, amount=amount)

    def open_attempts(self, after_id: float, limit: int, clock: PassClock) -> replays.OpenAttempts:
        return replays.open_attempts(self._conn, after_id, limit, clock)

    def lock_holder(self) -> runs.LockHolder | None:
        """The pass that holds the lock, if any (alive or not)."""
        return runs.lock_holder(self._conn)

    def looked_up_often(self) -> list[OpenAttempt]:
        return replays.looked_up_often(self._conn)

    def newest_attempt(self) -> datetime | None:
        return restores.newest_attempt(self._conn)

    def unknown_keys(self, keys: Iterable[str]) -> list[str]:
        """Which of the provider's keys the ledger has never recorded."""
        return restores.unknown(self._conn, keys)

    def void_facts(self, invoice_ids: Sequence[int]) -> dict[int, VoidFacts]:
        return voids.facts(self._conn, invoice_ids)


class Work(View):
    """One write transaction's reads and writes."""

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that a row error undoes alone."""
        with careful.savepoint(self._conn):
            yield

    def heartbeat(self, run_id: int, now: datetime, counts: Mapping[str, int]) -> None:
        runs.heartbeat(self._conn, run_id, now, counts)

    def claim_due(
        self,
        due: claims.Due,
        days: claims.Days,
        after_id: float,
        limit: int,
        *,
        namespace: str,
        run_id: int,
        command: str,
        now: datetime,
        amount: AmountGuard,
        latest: claims.Latest,
    ) -> claims.ClaimedBatch | None:
        return claims.claim_due(
            self._conn,
            due,
            days,
            after_id,
            limit,
            namespace=namespace,
            run_id=run_id,
            command=command,
            now=now,
            amount=amount,
            latest=latest,
        )

    def due_ids(self, due: claims.Due, days: claims.Days, after_id: float, limit: int) -> list[int]:
        return claims.due_ids(self._conn, due, days, after_id, limit)

    def claim(
        self, *, run_id: int, command: str, now: datetime, attempts: Sequence[Attempt]
    ) -> list[Attempt]:
        return claims.claim(self._conn, run_id=run_id, command=command, now=now, attempts=attempts)

    def reject(self, *, now: datetime, rejected: Sequence[tuple[InvoiceRow, Rejection]]) -> None:
        claims.reject(self._conn, now=now, rejected=rejected)

    def hold(self, now: datetime, held: Held) -> None:
        """Hold an invoice for an operator, with the reason."""
        careful.hold(self._conn, now.isoformat(), held)

    def hold_replays(self, *, now: datetime, held: Sequence[Held]) -> None:
        """Hold the invoices of open attempts that cannot be replayed."""
        replays.hold(self._conn, now=now, held=held)

    def settle(self, *, run_id: int, now: datetime, settled: Sequence[Settled]) -> list[Held]:
        return ledger.settle(self._conn, run_id=run_id, now=now, settled=settled)

    def release(self, *, run_id: int, now: datetime, attempts: Sequence[Attempt]) -> None:
        ledger.release(self._conn, run_id=run_id, now=now, attempts=attempts)

    def hand_back_declines(
        self, *, run_id: int, now: datetime, invoice_ids: Sequence[int]
    ) -> list[tuple[str, str, int]]:
        return ledger.hand_back_declines(
            self._conn, run_id=run_id, now=now, invoice_ids=invoice_ids
        )

    def hand_back_late_declines(
        self, *, now: datetime, attempt_ids: Sequence[int]
    ) -> list[tuple[str, str, int]]:
        return ledger.hand_back_late_declines(self._conn, now=now, attempt_ids=attempt_ids)

    def refresh_month_holds(self, *, now: datetime) -> list[tuple[int, str]]:
        return holds.refresh_month_holds(self._conn, now=now)

    def adopt(
        self, run_id: int, forgotten: Iterable[tuple[int, int, str, datetime]]
    ) -> dict[str, str]:
        """Record charges the provider has and a restored ledger forgot (store.restores);
        the keys it could not record, each with why."""
        return restores.adopt(self._conn, run_id, forgotten)

    def void(
        self,
        judged: Sequence[VoidFacts],
        *,
        reason: str,
        now: datetime,
        voided_by: str,
        host: str,
        pid: int,
    ) -> int:
        return voids.void(
            self._conn,
            judged,
            reason=reason,
            stamp=now.isoformat(),
            voided_by=voided_by,
            host=host,
            pid=pid,
        )
