"""Settlements and releases: recording what happened to claimed attempts.

Every function here runs inside a transaction the caller opened with
`Store.transaction()`, so a batch of outcomes commits whole or not at all. Claims,
the writes made before any provider call, are in `antaeus_cli.store.claims`.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from antaeus_cli.domain.attempt import (
    CHARGED_ONCE,
    PAID_FIRST_TIME,
    RESTORE,
    Attempt,
    Settled,
    Transition,
)
from antaeus_cli.domain.invoice import (
    STATUS_BY_VALUE,
    AttemptOutcome,
    DunningState,
    Invoice,
    InvoiceStatus,
)
from antaeus_cli.domain.money import Currency, Money, Totals
from antaeus_cli.errors import LedgerConflict

# Each update in two forms. A group of ids that get the same values is written by one
# statement over a JSON list of its ids once it has _SET_BASED_FROM of them; a smaller
# group row by row, with a prepared `id = ?` statement. Answers that carry a text of
# their own ("no account for customer 17") form groups of one, and setting up a JSON
# list for one row costs several times what the row does.
_SET_BASED_FROM = 8
_SETTLE_ATTEMPT = (
    "UPDATE payment_attempt SET outcome = ?, error = ?, provider_calls = provider_calls + ?, "
    "provider_ref = coalesce(?, provider_ref), decline_code = ?, decline_class = ?, "
    "finished_at = ?, settled_by_run_id = ? WHERE finished_at IS NULL AND "
)
_SETTLE_ATTEMPTS = (
    _SETTLE_ATTEMPT + "id IN (SELECT value FROM json_each(?))",
    _SETTLE_ATTEMPT + "id = ?",
)
_MOVE_INVOICE = (
    "UPDATE invoice SET status = ?, failure_code = ?, failure_detail = ?, next_retry_on = ?, "
    "decline_count = ?, first_declined_on = ?, paid_at = ?, updated_at = ? WHERE "
)
_MOVE_INVOICES = (
    _MOVE_INVOICE + "id IN (SELECT value FROM json_each(?))",
    _MOVE_INVOICE + "id = ?",
)
_CHARGED_ONCE = (
    "UPDATE payment_attempt SET outcome = 'charged', provider_calls = provider_calls + 1, "
    "finished_at = ?, settled_by_run_id = ? "
    "WHERE finished_at IS NULL AND id IN (SELECT value FROM json_each(?))"
)
# A PENDING invoice has no failure to clear and no dunning to move: three columns do.
_PAY_PENDING = (
    "UPDATE invoice SET status = 'PAID', paid_at = ?, updated_at = ? "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
# An answer that stays unknown leaves the invoice PROCESSING until a replay of the same
# key settles it. It keeps its last failure, so nothing is lost meanwhile.
_MARK_PROCESSING = (
    "UPDATE invoice SET status = 'PROCESSING', updated_at = ? "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
# No money moved under the key: an invoice a replay had left PROCESSING goes back to
# the status it was claimed from, with its failure and retry date as they were.
_RESTORE = "UPDATE invoice SET status = ?, updated_at = ? WHERE id = ? AND status = 'PROCESSING'"


def settle(
    conn: sqlite3.Connection, *, run_id: int, now: datetime, settled: Sequence[Settled]
) -> None:
    """Record each provider answer on its attempt, and move its invoice on.

    Rows that get the same values are written by one set-based UPDATE (their ids
    passed as a JSON list): most of a batch is "charged" or "declined" alike, and
    one statement per group costs a fraction of one statement per row.
    """
    stamp = now.isoformat()
    attempts: defaultdict[tuple[object, ...], list[int]] = defaultdict(list)
    invoices: defaultdict[tuple[object, ...], list[int]] = defaultdict(list)
    paid_pending: list[int] = []
    processing: list[int] = []
    restored: list[tuple[str, str, int]] = []
    charged_ids: list[int] = []  # the common case, "charged, first time", by identity
    collected = Totals()
    charged, pending = AttemptOutcome.CHARGED, InvoiceStatus.PENDING  # bound once, not per row
    for attempt, result, transition in settled:
        if result.outcome is charged:
            money = attempt.invoice.amount
            collected.add(money.currency, money.minor)
        if (
            result is CHARGED_ONCE
            and transition is PAID_FIRST_TIME
            and attempt.from_status is pending
        ):
            charged_ids.append(attempt.id)
            paid_pending.append(attempt.invoice.id)
            continue
        invoice_id = attempt.invoice.id
        # The attempt's values are the answer's fields, in _SETTLE_ATTEMPT's order.
        if transition is None:
            attempts[(*result, None, None)].append(attempt.id)
            processing.append(invoice_id)
            continue
        attempts[(*result, stamp, run_id)].append(attempt.id)
        if transition is RESTORE:
            restored.append((attempt.from_status, stamp, invoice_id))
        elif transition.status is InvoiceStatus.PAID and attempt.from_status == "PENDING":
            paid_pending.append(invoice_id)
        else:
            invoices[_invoice_values(transition, stamp)].append(invoice_id)
    updated = _update_groups(conn, _SETTLE_ATTEMPTS, attempts)
    if charged_ids:
        # Leaves the reference and decline columns alone: fewer columns to write, and the
        # partial index on decline codes is not consulted for the common case.
        updated += conn.execute(_CHARGED_ONCE, (stamp, run_id, json.dumps(charged_ids))).rowcount
    if updated != len(settled):
        raise LedgerConflict(
            f"{len(settled) - updated} attempts in this batch were settled by another pass "
            "meanwhile; nothing from the batch was recorded. Check 'antaeus report'"
        )
    _update_groups(conn, _MOVE_INVOICES, invoices)
    if paid_pending:
        conn.execute(_PAY_PENDING, (stamp, stamp, json.dumps(paid_pending)))
    if processing:
        conn.execute(_MARK_PROCESSING, (stamp, json.dumps(processing)))
    if restored:
        conn.executemany(_RESTORE, restored)
    conn.executemany(
        "INSERT INTO collected (currency, count, amount) VALUES (?, ?, ?) "
        "ON CONFLICT (currency) DO UPDATE SET count = count + excluded.count, "
        "amount = amount + excluded.amount",
        [(total.currency, total.count, total.minor) for total in collected.rows()],
    )


def _update_groups(
    conn: sqlite3.Connection,
    update: tuple[str, str],
    groups: dict[tuple[object, ...], list[int]],
) -> int:
    """Run an update, in the form that suits its size, for every group of ids that get
    the same values; return how many rows it changed."""
    by_ids, by_id = update
    changed = 0
    rows: list[tuple[object, ...]] = []
    for values, ids in groups.items():
        if len(ids) >= _SET_BASED_FROM:
            changed += conn.execute(by_ids, (*values, json.dumps(ids))).rowcount
        else:
            rows.extend((*values, row_id) for row_id in ids)
    if rows:
        changed += conn.executemany(by_id, rows).rowcount
    return changed


def _invoice_values(t: Transition, stamp: str) -> tuple[object, ...]:
    """The _MOVE_INVOICES values for a transition, the ids aside."""
    first = t.dunning.first_declined_on
    return (
        t.status,
        None if t.failure is None else t.failure.code,
        None if t.failure is None else t.failure.detail,
        None if t.next_retry_on is None else t.next_retry_on.isoformat(),
        t.dunning.declines,
        None if first is None else first.isoformat(),
        stamp if t.status is InvoiceStatus.PAID else None,
        stamp,
    )


def release(
    conn: sqlite3.Connection, *, run_id: int, now: datetime, attempts: Sequence[Attempt]
) -> None:
    """Close attempts that were claimed but never sent (the pass stopped).

    Only attempts still `started` are released: they provably never left this
    process, so no money can have moved under their keys. Their invoices were never
    touched, so there is nothing to hand back.
    """
    conn.executemany(
        "UPDATE payment_attempt SET outcome = 'abandoned', error = 'not sent: the pass stopped', "
        "finished_at = ?, settled_by_run_id = ? WHERE id = ? AND outcome = 'started'",
        [(now.isoformat(), run_id, a.id) for a in attempts],
    )


_OPEN_ATTEMPTS = (
    "SELECT a.id, a.invoice_id, a.attempt_no, a.idempotency_key, a.amount, a.currency, "
    "a.from_status, a.customer_id, i.decline_count, i.first_declined_on, a.customer_ref, "
    "a.started_at, a.provider_ref "
    "FROM payment_attempt a JOIN invoice i ON i.id = a.invoice_id "
    "WHERE a.finished_at IS NULL AND a.id > ? ORDER BY a.id LIMIT ?"
)


def open_attempts(conn: sqlite3.Connection, after_id: int, limit: int) -> list[tuple[int, Attempt]]:
    """Attempts whose outcome is not known, with their row ids, to replay."""
    found = []
    for row in conn.execute(_OPEN_ATTEMPTS, (after_id, limit)):
        invoice = Invoice(row[1], row[7], Money(row[4], Currency(row[5])), row[10])
        first = row[9]
        dunning = DunningState(row[8], date.fromisoformat(first) if first else None)
        attempt = Attempt(
            invoice,
            row[2],
            row[3],
            dunning,
            STATUS_BY_VALUE[row[6]],
            replay=True,
            id=row[0],
            started_at=datetime.fromisoformat(row[11]),
            reference=row[12],
        )
        found.append((int(row[0]), attempt))
    return found


def count_open_attempts(conn: sqlite3.Connection) -> int:
    return int(
        conn.execute("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL").fetchone()[0]
    )
