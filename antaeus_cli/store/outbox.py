"""The outbox's writes: a notice recorded in the transaction of the outcome it tells of.

Every function here runs inside a transaction its caller opened, the same one that
records the outcome: a notice exists exactly when its cause was committed. Delivery
(claims, marks) is in `antaeus_cli.store.deliveries`; which notice an outcome causes
is `antaeus_cli.domain.notices`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from antaeus_cli.domain.notices import DECLINE_KINDS, NoticeKind, summary_key

# A customer notice is built from its attempt row: the key (domain.notices.notice_key,
# in SQL), the customer's address as it is now. One statement per group of attempts
# that take the same kind and next try; parameters: kind, run, next try, stamp.
_ATTEMPT_NOTICE = (
    "INSERT INTO notification (dedupe_key, kind, run_id, attempt_id, recipient, "
    "next_retry_on, next_attempt_at, created_at) "
    "SELECT a.idempotency_key || '-' || ?1, ?1, ?2, a.id, c.email, ?3, ?4, ?4 "
    "FROM payment_attempt a LEFT JOIN customer c ON c.id = a.customer_id WHERE "
)
_CONFLICT = " ON CONFLICT (dedupe_key) DO NOTHING"
_BY_IDS = _ATTEMPT_NOTICE + "a.id IN (SELECT value FROM json_each(?5))" + _CONFLICT
_BY_ID = _ATTEMPT_NOTICE + "a.id = ?5" + _CONFLICT
_SUMMARY = (
    "INSERT INTO notification (dedupe_key, kind, run_id, body, next_attempt_at, created_at) "
    "VALUES (?, 'run_summary', ?, ?, ?, ?)" + _CONFLICT
)
# The declines the breaker hands back burn no dunning step, and tell nobody: their
# notices are withdrawn before `notify` may take them (it waits for the run's end).
_WITHDRAW = (
    "UPDATE notification SET status = 'withdrawn', last_error = ? WHERE status = 'pending' "
    "AND dedupe_key IN (SELECT a.idempotency_key || '-' || k.value FROM payment_attempt a, "
    "json_each(?) k WHERE a.run_id = ? AND a.from_status = 'PENDING' "
    "AND a.invoice_id IN (SELECT value FROM json_each(?)))"
)
WITHDRAWN_BY_BREAKER = "withdrawn: the decline-rate breaker handed the decline back"

Group = tuple[NoticeKind, str | None]  # a kind and the date of the next try, if any


def record(
    conn: sqlite3.Connection, *, run_id: int, stamp: str, groups: Mapping[Group, Sequence[int]]
) -> None:
    """The notices of settled attempts, grouped by kind and next try."""
    for (kind, next_retry_on), attempt_ids in groups.items():
        if len(attempt_ids) == 1:
            conn.execute(_BY_ID, (kind.value, run_id, next_retry_on, stamp, attempt_ids[0]))
        elif attempt_ids:
            ids = json.dumps(list(attempt_ids))
            conn.execute(_BY_IDS, (kind.value, run_id, next_retry_on, stamp, ids))


def record_one(
    conn: sqlite3.Connection,
    *,
    run_id: int,
    stamp: str,
    attempt_id: int,
    kind: NoticeKind,
    next_try: date | None = None,
) -> None:
    """The notice of one settled attempt."""
    when = None if next_try is None else next_try.isoformat()
    record(conn, run_id=run_id, stamp=stamp, groups={(kind, when): [attempt_id]})


def record_summary(
    conn: sqlite3.Connection, *, namespace: str, run_id: int, stamp: str, body: Mapping[str, object]
) -> None:
    """The operator's summary of a run."""
    # repr: a value a hand edit left in the ledger (an invoice id stored as bytes) is
    # shown as it is rather than ending the pass
    text = json.dumps(body, ensure_ascii=False, default=repr)
    conn.execute(_SUMMARY, (summary_key(namespace, run_id), run_id, text, stamp, stamp))


def withdraw_declines(conn: sqlite3.Connection, *, run_id: int, invoice_ids: Iterable[int]) -> int:
    kinds = json.dumps(sorted(kind.value for kind in DECLINE_KINDS))
    ids = json.dumps(list(invoice_ids))
    return int(conn.execute(_WITHDRAW, (WITHDRAWN_BY_BREAKER, kinds, run_id, ids)).rowcount)


# A decline a tripped breaker handed back, whose card had said never: once a later
# pass's judgement holds its invoice for the customer, the notice of that answer is
# true after all, and goes out.
_REINSTATE = (
    "UPDATE notification SET status = 'pending', last_error = NULL "
    "WHERE status = 'withdrawn' AND last_error = ? AND attempt_id IN ("
    "SELECT (SELECT a.id FROM payment_attempt a WHERE a.invoice_id = k.value "
    "ORDER BY a.attempt_no DESC LIMIT 1) FROM json_each(?) k)"
)


def reinstate_latest(conn: sqlite3.Connection, *, invoice_ids: Iterable[int]) -> int:
    ids = json.dumps(list(invoice_ids))
    return int(conn.execute(_REINSTATE, (WITHDRAWN_BY_BREAKER, ids)).rowcount)
