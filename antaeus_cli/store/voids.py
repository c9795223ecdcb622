"""Voiding invoices: the facts a void is judged by, and the void itself.

`void` runs inside a write transaction its caller opened with `Store.transaction()`,
in which the facts were read: no claim can come between the judgement and the write
(a claim takes the same write lock), so an invoice found without an open attempt is
voided without one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from antaeus_cli.domain.invoice import STATUS_BY_VALUE
from antaeus_cli.domain.notices import DECLINE_KINDS
from antaeus_cli.domain.voiding import VoidFacts
from antaeus_cli.errors import NotVoidable
from antaeus_cli.store.claims import unknown_status
from antaeus_cli.store.database import lenient_text

if TYPE_CHECKING:  # sqlite-utils costs an hourly pass about 50 ms to import
    from sqlite_utils import Database

# Each invoice with its own attempts' money facts (one probe each of the attempts'
# unique index on (invoice_id, attempt_no)), another invoice's charge for its month
# (store.claims.MONTH_CHARGED's probe, without a hold's exemption: every such charge
# is named), and its latest voiding.
_FACTS = (
    "SELECT i.id, i.customer_id, i.amount, i.currency, i.due_date, i.status, i.failure_code, "
    "i.failure_detail, "
    "(SELECT a.idempotency_key FROM payment_attempt a WHERE a.invoice_id = i.id "
    "AND a.finished_at IS NULL ORDER BY a.attempt_no DESC LIMIT 1), "
    "(SELECT a.idempotency_key FROM payment_attempt a WHERE a.invoice_id = i.id "
    "AND a.outcome = 'charged' ORDER BY a.attempt_no DESC LIMIT 1), "
    "(SELECT m.idempotency_key FROM payment_attempt m INDEXED BY payment_attempt_period "
    "WHERE m.customer_id = i.customer_id AND m.period = substr(i.due_date, 1, 7) "
    "AND m.invoice_id <> i.id AND (m.outcome = 'charged' OR m.finished_at IS NULL) LIMIT 1), "
    "v.voided_at, v.reason "
    "FROM invoice i LEFT JOIN voiding v ON v.id = (SELECT max(w.id) FROM voiding w "
    "WHERE w.invoice_id = i.id) "
    "WHERE i.id IN (SELECT value FROM json_each(?))"
)
_RECORD = (
    "INSERT INTO voiding (invoice_id, from_status, failure_code, failure_detail, reason, "
    "voided_at, voided_by, host, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The invoice keeps its figures and its dunning history; its hold moves to `voiding`.
# It names the status it was judged in: nothing can have moved it since, in this
# transaction, and a count that disagrees stops the void.
_VOID = (
    "UPDATE invoice SET status = 'VOID', failure_code = NULL, failure_detail = NULL, "
    "next_retry_on = NULL, updated_at = ? WHERE id = ? AND status = ?"
)
# The notices of its declines that have not gone out yet ("we will try again on ...",
# "please update your card") would tell its customer of a debt no longer claimed.
_WITHDRAW = (
    "UPDATE notification SET status = 'withdrawn', last_error = ? WHERE status = 'pending' "
    "AND dedupe_key IN (SELECT a.idempotency_key || '-' || k.value FROM payment_attempt a, "
    "json_each(?) k WHERE a.invoice_id IN (SELECT value FROM json_each(?)))"
)
WITHDRAWN_BY_VOID = "withdrawn: its invoice was voided before it went out"


def facts(conn: sqlite3.Connection, invoice_ids: Sequence[int]) -> dict[int, VoidFacts]:
    """Each invoice that exists of `invoice_ids`, as a void judges it. Text a hand
    edit stored as bytes that are not UTF-8 is read with U+FFFD in their place: an
    invoice whose hold reads so may be voided all the same."""
    factory = conn.text_factory
    conn.text_factory = lenient_text
    try:
        found = conn.execute(_FACTS, (json.dumps(list(invoice_ids)),)).fetchall()
    finally:
        conn.text_factory = factory
    unknown = [(row[0], row[5]) for row in found if row[5] not in STATUS_BY_VALUE]
    if unknown:
        raise NotVoidable(unknown_status(unknown) + "; nothing was voided")
    return {
        int(row[0]): VoidFacts(
            int(row[0]),
            row[1],
            row[2],
            row[3],
            row[4],
            STATUS_BY_VALUE[row[5]],
            row[6],
            row[7],
            open_key=row[8],
            charged_key=row[9],
            month_charged=row[10],
            voided_at=row[11],
            void_reason=row[12],
        )
        for row in found
    }


class VoidConflict(Exception):
    """An invoice was not in the status its facts were read in (cannot happen inside one
    write transaction; the void is rolled back whole if it does)."""


def void(
    conn: sqlite3.Connection,
    judged: Sequence[VoidFacts],
    *,
    reason: str,
    stamp: str,
    voided_by: str,
    host: str,
    pid: int,
) -> int:
    """Record and void each invoice as judged; return how many of their notices not yet
    sent were withdrawn."""
    for one in judged:
        conn.execute(
            _RECORD,
            (
                one.invoice_id,
                one.status.value,
                one.failure_code,
                one.failure_detail,
                reason,
                stamp,
                voided_by,
                host,
                pid,
            ),
        )
        moved = conn.execute(_VOID, (stamp, one.invoice_id, one.status.value)).rowcount
        if moved != 1:
            raise VoidConflict(f"invoice {one.invoice_id} changed while it was voided")
    kinds = json.dumps(sorted(kind.value for kind in DECLINE_KINDS))
    ids = json.dumps([one.invoice_id for one in judged])
    return int(conn.execute(_WITHDRAW, (WITHDRAWN_BY_VOID, kinds, ids)).rowcount)


def voided(db: Database, limit: int | None) -> list[dict[str, Any]]:
    """VOID invoices with their latest voiding (when, why, who, and what they were),
    the latest voided first (by invoice within one void); all of them when limit is
    None. From the covering index of VOID invoices and one probe of voiding_by_invoice
    each. An invoice set to VOID by hand, with no voiding recorded, shows NULLs
    there, last."""
    return list(
        db.query(
            "SELECT i.id AS invoice_id, i.customer_id, i.amount, i.currency, i.due_date, "
            "v.voided_at, v.reason, v.voided_by, v.host, v.from_status, v.failure_code "
            "FROM invoice i INDEXED BY invoice_void LEFT JOIN voiding v ON v.id = "
            "(SELECT max(w.id) FROM voiding w WHERE w.invoice_id = i.id) "
            "WHERE i.status = 'VOID' ORDER BY v.id IS NULL, v.voided_at DESC, i.id LIMIT ?",
            (-1 if limit is None else limit,),
        )
    )
