"""The outbox's deliveries: pending notices claimed under a lease, then marked.

A claim moves each row's `next_attempt_at` to the end of the lease and names the
claiming run in `lease_owner`, in one write transaction. Overlapping `notify` runs
therefore never take the same row: the second one finds it due only once the lease
has run out, which is when the first one has crashed or stalled. A row is marked
sent after its delivery; a crash in between leaves it due again after the lease,
and it is delivered again under the same identity.

A notice waits for the end of the run that recorded it, so that a run can still
withdraw what it wrote (the breaker hands declines back). The run that holds the pass
lock counts as running until it ends or is proven dead by the lock's own rule
(`runs.LockHolder.alive`: on this host, by its process, however long it has been
frozen; on another, by its heartbeat): the claim then takes no notice of that run,
and, to keep to an index range, none written after it started.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

from antaeus_cli.domain.notices import NoticeKind, NoticeStatus, notice_key
from antaeus_cli.store import runs
from antaeus_cli.store.database import lenient_text
from antaeus_cli.store.runs import Liveness

# Every row a claim needs in one read: the notice, and the attempt that caused it (the
# ledger's figures: what was charged, under which reference).
SELECT_NOTICES = (
    "SELECT n.id, n.dedupe_key, n.kind, n.run_id, n.recipient, n.next_retry_on, n.body, "
    "n.tries, n.created_at, a.invoice_id, a.customer_id, a.amount, a.currency, "
    "a.provider_ref, a.decline_code, a.decline_class, a.started_at, a.outcome, "
    "(SELECT c.timezone FROM customer c WHERE c.id = a.customer_id), "
    "a.idempotency_key, a.attempt_no, a.customer_ref, "
    "(SELECT c.locale FROM customer c WHERE c.id = a.customer_id) "
    "FROM notification n LEFT JOIN payment_attempt a ON a.id = n.attempt_id "
)
_CLAIMABLE = (
    f"{SELECT_NOTICES}WHERE n.status = 'pending' AND n.next_attempt_at <= :now "
    "AND n.next_attempt_at < :cutoff "
    "AND n.run_id IS NOT :live_run ORDER BY n.next_attempt_at, n.id LIMIT :limit"
)
_LEASE = (
    "UPDATE notification SET lease_owner = :owner, next_attempt_at = :until, tries = tries + 1 "
    "WHERE status = 'pending' AND id IN (SELECT value FROM json_each(:ids))"
)
# Every write after the claim names the run that claimed: a run whose lease ran out,
# and whose rows another run took over, changes none of them.
_EXTEND = (
    "UPDATE notification SET next_attempt_at = :until WHERE status = 'pending' "
    "AND lease_owner = :owner AND id IN (SELECT value FROM json_each(:ids)) RETURNING id"
)
_SENT = (
    "UPDATE notification SET status = 'sent', sent_at = :stamp, lease_owner = NULL, "
    "last_error = NULL WHERE status = 'pending' AND lease_owner = :owner "
    "AND id IN (SELECT value FROM json_each(:ids))"
)
_AGAIN = (
    "UPDATE notification SET next_attempt_at = :at, lease_owner = NULL, last_error = :error "
    "WHERE status = 'pending' AND lease_owner = :owner AND id = :id"
)
_END = (
    "UPDATE notification SET status = :status, lease_owner = NULL, last_error = :error "
    "WHERE status = 'pending' AND (lease_owner = :owner OR lease_owner IS NULL) AND id = :id"
)
# What a customer notice says must be what its attempt's outcome was.
_TOLD = {
    NoticeKind.RECEIPT: frozenset({"charged"}),
    NoticeKind.PAYMENT_FAILED: frozenset({"declined"}),
    NoticeKind.ACTION_REQUIRED: frozenset({"declined", "declined_hard", "needs_customer"}),
    NoticeKind.FINAL_NOTICE: frozenset({"declined"}),
}
# A row no notice can be made of is failed whoever claimed it last: it is due, so any
# lease on it has run out.
_UNREADABLE = (
    "UPDATE notification SET status = 'failed', lease_owner = NULL, last_error = ? "
    "WHERE status = 'pending' AND id = ?"
)
# A key names the message in headers (Message-ID, a MIME boundary, an event id): ours
# are namespace, words and numbers; a row edited into anything else is not sent.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
MAX_ERROR = 500  # the reason kept for a notice, in characters
NO_CUTOFF = "9999-12-31T23:59:59.999999+00:00"  # after any stamp the clock can give


class Pending(NamedTuple):
    """A notice as `notify` renders it: its row and its attempt's figures."""

    id: int
    key: str
    kind: NoticeKind
    run_id: int
    recipient: str | None
    next_retry_on: date | None
    body: str | None  # a run summary's JSON
    tries: int  # including the current one
    created_at: datetime
    invoice_id: int | None
    customer_id: int | None
    amount: int | None
    currency: str | None
    reference: str | None
    decline_code: str | None
    decline_class: str | None
    charged_at: datetime | None  # when its attempt's request went: the charge's moment
    customer_zone: str | None = None  # customer.timezone: the zone its dates are told in
    attempt_no: int | None = None  # how many times its invoice was tried, this one included
    customer_ref: str | None = None  # the provider's customer, as the attempt charged it
    customer_locale: str | None = None  # customer.locale: the language it is written in

    def summary(self) -> dict[str, object]:
        """A run summary's body; empty when it is not one, or cannot be read."""
        try:
            body = json.loads(self.body or "{}", parse_constant=_no_constant)
        except (ValueError, RecursionError):  # edited by hand: nothing to say of it
            return {}
        return body if isinstance(body, dict) else {}


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON receivers accept")


def read_pending(row: tuple[object, ...]) -> Pending:
    """Raises ValueError or TypeError for a row edited into something unreadable."""
    (nid, key, kind, run_id, recipient, next_retry, body, tries, created, *facts) = row
    (invoice_id, customer_id, amount, currency, reference, code, klass, charged_at, told, tz,
     attempt_key, attempt_no, customer_ref, locale) = facts  # fmt: skip
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"its dedupe_key {str(key)[:80]!r} cannot name a message")
    notice_kind = NoticeKind(str(kind))
    outcomes = _TOLD.get(notice_kind)
    if outcomes is not None and told not in outcomes:
        found = "no such attempt" if told is None else f"an attempt that ended {told!r}"
        article = "an" if notice_kind.value[0] in "aeiou" else "a"
        raise ValueError(f"{article} {notice_kind.value} notice for {found}")
    if outcomes is not None and key != notice_key(str(attempt_key), notice_kind):
        # its attempt_id was edited to another attempt: whose notice is it? Nobody's.
        raise ValueError(f"its attempt is not the one its key names ({str(attempt_key)[:80]!r})")
    return Pending(
        _whole(nid),
        str(key),
        notice_kind,
        _whole(run_id),
        _text(recipient),
        None if next_retry is None else date.fromisoformat(str(next_retry)),
        _text(body),
        _whole(tries) + 1,
        datetime.fromisoformat(str(created)),
        None if invoice_id is None else _whole(invoice_id),
        None if customer_id is None else _whole(customer_id),
        None if amount is None else _whole(amount),
        _text(currency),
        _text(reference),
        _text(code),
        _text(klass),
        None if charged_at is None else datetime.fromisoformat(str(charged_at)),
        _text(tz),
        None if attempt_no is None else _whole(attempt_no),
        _text(customer_ref),
        _text(locale),
    )


def _whole(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"{value!r} is not a whole number")
    return value


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class _Waiting(NamedTuple):
    """The live pass whose notices wait, if any: its run, and when it started."""

    run_id: int | None
    cutoff: str


def _waiting(conn: sqlite3.Connection, now: datetime, is_alive: Liveness) -> _Waiting:
    """The pass holding the lock, unless it is proven dead (a process that died holds
    nothing back, though only the next pass marks its run crashed)."""
    holder = runs.lock_holder(conn)
    if holder is None or not holder.alive(now, is_alive):
        return _Waiting(None, NO_CUTOFF)
    return _Waiting(holder.run_id, holder.started_at)


def _due(
    conn: sqlite3.Connection, now: datetime, limit: int, is_alive: Liveness
) -> list[tuple[object, ...]]:
    waiting = _waiting(conn, now, is_alive)
    conn.text_factory = lenient_text  # bytes that are not UTF-8 fail their row, not the run
    try:
        return conn.execute(
            _CLAIMABLE,
            {
                "now": now.isoformat(),
                "cutoff": waiting.cutoff,
                "live_run": waiting.run_id,
                "limit": limit,
            },
        ).fetchall()
    finally:
        conn.text_factory = str


class Broken(NamedTuple):
    """A row edited into something no notice can be made of: failed, not delivered."""

    id: int
    key: str
    reason: str


def claim(
    conn: sqlite3.Connection,
    *,
    owner: str,
    now: datetime,
    until: datetime,
    limit: int,
    is_alive: Liveness,
) -> tuple[list[Pending], list[Broken]]:
    """Inside a write transaction: take up to `limit` due notices until `until`. A row
    edited into something unreadable (text that is not UTF-8 included) is failed with
    the reason, and returned apart."""
    claimed, broken = [], []
    for row in _due(conn, now, limit, is_alive):
        try:
            claimed.append(read_pending(row))
        except (ValueError, TypeError, OverflowError) as exc:
            reason = f"its row cannot be read ({type(exc).__name__}: {exc})"[:MAX_ERROR]
            conn.execute(_UNREADABLE, (reason, row[0]))
            broken.append(Broken(int(row[0]), str(row[1])[:80], reason))  # type: ignore[call-overload]
    ids = json.dumps([notice.id for notice in claimed])
    conn.execute(_LEASE, {"owner": owner, "until": until.isoformat(), "ids": ids})
    return claimed, broken


def peek(
    conn: sqlite3.Connection, *, now: datetime, limit: int, is_alive: Liveness
) -> tuple[int, list[Pending]]:
    """What a claim would take now, without taking it: how many, and the first ones."""
    waiting = _waiting(conn, now, is_alive)
    due = conn.execute(
        "SELECT count(*) FROM notification WHERE status = 'pending' AND next_attempt_at <= ? "
        "AND next_attempt_at < ? AND run_id IS NOT ?",
        (now.isoformat(), waiting.cutoff, waiting.run_id),
    ).fetchone()[0]
    shown = []
    for row in _due(conn, now, limit, is_alive):
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            shown.append(read_pending(row))
    return int(due), shown


def extend(
    conn: sqlite3.Connection, *, owner: str, until: datetime, notice_ids: Sequence[int]
) -> set[int]:
    """Keep the lease on notices still to be delivered; return those still this run's
    (another run may have taken the others over once the lease ran out)."""
    ids = json.dumps(list(notice_ids))
    rows = conn.execute(_EXTEND, {"owner": owner, "until": until.isoformat(), "ids": ids})
    return {int(row[0]) for row in rows}


def release(
    conn: sqlite3.Connection, *, owner: str, now: datetime, notice_ids: Sequence[int]
) -> None:
    """Hand back claimed notices that were never tried (the run stopped first)."""
    conn.execute(
        "UPDATE notification SET next_attempt_at = :now, lease_owner = NULL, "
        "tries = max(tries - 1, 0) WHERE status = 'pending' AND lease_owner = :owner "
        "AND id IN (SELECT value FROM json_each(:ids))",
        {"now": now.isoformat(), "owner": owner, "ids": json.dumps(list(notice_ids))},
    )


def mark_sent(
    conn: sqlite3.Connection, *, owner: str, now: datetime, notice_ids: Sequence[int]
) -> None:
    ids = json.dumps(list(notice_ids))
    conn.execute(_SENT, {"stamp": now.isoformat(), "owner": owner, "ids": ids})


def again_at(
    conn: sqlite3.Connection, *, owner: str, notice_id: int, at: datetime, error: str
) -> None:
    """A transient failure: due again at `at`."""
    values = {"at": at.isoformat(), "error": error[:MAX_ERROR], "id": notice_id, "owner": owner}
    conn.execute(_AGAIN, values)


def end(
    conn: sqlite3.Connection, *, owner: str, notice_id: int, status: NoticeStatus, error: str
) -> None:
    """Failed for good, or skipped: not tried again, with the reason."""
    values = {"status": status.value, "error": error[:MAX_ERROR], "id": notice_id, "owner": owner}
    conn.execute(_END, values)
