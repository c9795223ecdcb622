"""The store's port for `notify`: the outbox's reads and units of work, in domain terms.

`notify` never holds a connection. It leases due notices, marks what was sent, ends
or delays what was not, and reads a customer's latest notice, through a
`NoticeView` (`Store.notice_view()`) or a `NoticeWork` (`Store.notices()`, one write
transaction committed whole). The SQL is in `store.deliveries`, `store.letters` and
`store.requeue`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from antaeus_cli.domain.notices import NoticeKind, NoticeStatus
from antaeus_cli.store import deliveries, letters, requeue
from antaeus_cli.store.deliveries import Broken, Pending
from antaeus_cli.store.letters import CustomerCard
from antaeus_cli.store.requeue import Undelivered
from antaeus_cli.store.runs import Liveness


class NoticeView:
    """The outbox's reads."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def peek(self, *, now: datetime, limit: int, is_alive: Liveness) -> tuple[int, list[Pending]]:
        """How many notices are due, and the first `limit` of them, leasing none."""
        return deliveries.peek(self._conn, now=now, limit=limit, is_alive=is_alive)

    def latest_notice(self, *, customer_id: int, kind: NoticeKind) -> Pending | None:
        return letters.latest_notice(self._conn, customer_id=customer_id, kind=kind)

    def customer_card(self, customer_id: int) -> CustomerCard | None:
        return letters.customer_card(self._conn, customer_id)

    def undelivered(
        self,
        *,
        statuses: Sequence[str],
        kinds: Sequence[str] | None,
        customers: Sequence[int] | None,
        since: datetime | None,
    ) -> list[Undelivered]:
        """The notices `notify` failed or skipped that the filters take, oldest first."""
        return requeue.undelivered(
            self._conn, statuses=statuses, kinds=kinds, customers=customers, since=since
        )


class NoticeWork(NoticeView):
    """One write transaction of the outbox."""

    def lease(
        self, *, owner: str, now: datetime, until: datetime, limit: int, is_alive: Liveness
    ) -> tuple[list[Pending], list[Broken]]:
        """Lease the next due notices to `owner` until `until`; those whose rows cannot
        be read are failed with the reason, and returned apart."""
        return deliveries.claim(
            self._conn, owner=owner, now=now, until=until, limit=limit, is_alive=is_alive
        )

    def extend(self, *, owner: str, until: datetime, notice_ids: Sequence[int]) -> set[int]:
        return deliveries.extend(self._conn, owner=owner, until=until, notice_ids=notice_ids)

    def release(self, *, owner: str, now: datetime, notice_ids: Sequence[int]) -> None:
        deliveries.release(self._conn, owner=owner, now=now, notice_ids=notice_ids)

    def mark_sent(self, *, owner: str, now: datetime, notice_ids: Sequence[int]) -> None:
        deliveries.mark_sent(self._conn, owner=owner, now=now, notice_ids=notice_ids)

    def again_at(self, *, owner: str, notice_id: int, at: datetime, error: str) -> None:
        deliveries.again_at(self._conn, owner=owner, notice_id=notice_id, at=at, error=error)

    def end(self, *, owner: str, notice_id: int, status: NoticeStatus, error: str) -> None:
        deliveries.end(self._conn, owner=owner, notice_id=notice_id, status=status, error=error)

    def requeue(self, notice_ids: Sequence[int], *, now: datetime) -> int:
        """Put failed or skipped notices back in the outbox; how many went back."""
        return requeue.requeue(self._conn, notice_ids, now=now)
