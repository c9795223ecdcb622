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
from datetime import datetime

from antaeus_cli.domain.attempt import (
    CHARGED_ONCE,
    PAID_FIRST_TIME,
    RESTORE,
    Attempt,
    CallResult,
    Settled,
    Transition,
)
from antaeus_cli.domain.invoice import (
    AttemptOutcome,
    InvoiceStatus,
)
from antaeus_cli.domain.money import Totals
from antaeus_cli.domain.notices import NoticeKind, after_decline
from antaeus_cli.store import careful, outbox, replays
from antaeus_cli.store.careful import Held

# Each update in two forms. A group of ids that get the same values is written by one
# statement over a JSON list of its ids once it has _SET_BASED_FROM of them; a smaller
# group row by row, with a prepared `id = ?` statement. Answers that carry a text of
# their own ("no account for customer 17") form groups of one, and setting up a JSON
# list for one row costs several times what the row does.
_SET_BASED_FROM = 8
_SETTLE_ATTEMPTS = (
    careful.SETTLE_ATTEMPT + "id IN (SELECT value FROM json_each(?))",
    careful.SETTLE_ATTEMPT + "id = ?",
)
# Every invoice update names the status the invoice was claimed in: a row edited by hand
# meanwhile is not updated, the counts disagree, and the batch is settled row by row.
_MOVE_INVOICE = (
    "UPDATE invoice SET status = ?, failure_code = ?, failure_detail = ?, next_retry_on = ?, "
    "decline_count = ?, first_declined_on = ?, paid_at = ?, updated_at = ? WHERE status = ? AND "
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
    "WHERE status = 'PENDING' AND id IN (SELECT value FROM json_each(?))"
)
# An answer that stays unknown leaves the invoice PROCESSING until a replay of the same
# key settles it. It keeps its last failure, so nothing is lost meanwhile.
_MARK_PROCESSING = (
    "UPDATE invoice SET status = 'PROCESSING', updated_at = ? "
    "WHERE status = ? AND id IN (SELECT value FROM json_each(?))"
)


class _Edited(Exception):
    """Some invoice of the batch is not in the status it was claimed in."""


def settle(
    conn: sqlite3.Connection, *, run_id: int, now: datetime, settled: Sequence[Settled]
) -> list[Held]:
    """Record each provider answer on its attempt, and move its invoice on; return the
    invoices held for an operator instead.

    Fresh answers are written by a few set-based statements, rows that get the same
    values by one UPDATE (their ids passed as a JSON list): most of a batch is
    "charged" or "declined" alike, and one statement per group costs a fraction of
    one statement per row. Replays, and every row of a batch that does not fit that
    way (an invoice edited meanwhile, a value an update cannot hold), are settled one
    by one by `careful.settle_one`, so that a bad row holds only itself.
    """
    stamp = now.isoformat()
    fresh = [one for one in settled if not one.attempt.replay]
    one_by_one = [one for one in settled if one.attempt.replay]
    if fresh:
        try:
            with careful.savepoint(conn):
                _settle_together(conn, run_id, stamp, fresh)
        except _Edited:
            one_by_one = list(settled)
        except Exception as exc:
            if not careful.is_row_error(exc):
                raise
            one_by_one = list(settled)
    held = []
    for one in one_by_one:
        found = careful.settle_one(conn, run_id=run_id, stamp=stamp, settled=one)
        if found is not None:
            held.append(found)
    still_open = [
        one.attempt.id for one in one_by_one if one.attempt.replay and one.transition is None
    ]
    if still_open:
        replays.count_lookups(conn, run_id=run_id, attempt_ids=still_open)
    return held


class _Batch:
    """A batch of fresh answers, sorted into the groups that one statement each writes."""

    def __init__(self, run_id: int, stamp: str) -> None:
        self.run_id, self.stamp = run_id, stamp
        self.attempts: defaultdict[tuple[object, ...], list[int]] = defaultdict(list)
        self.invoices: defaultdict[tuple[object, ...], list[int]] = defaultdict(list)
        self.paid_pending: list[int] = []
        self.processing: defaultdict[str, list[int]] = defaultdict(list)
        self.charged_ids: list[int] = []  # the common case, "charged, first time", by identity
        self.receipts: list[int] = []  # every other charge, whatever became of its invoice
        self.notices: defaultdict[outbox.Group, list[int]] = defaultdict(list)
        self.collected = Totals()

    def sort(self, settled: Sequence[Settled]) -> None:
        charged, pending = AttemptOutcome.CHARGED, InvoiceStatus.PENDING  # bound once, not per row
        stamp, run_id = self.stamp, self.run_id
        for attempt, result, transition in settled:
            if result.outcome is charged:
                money = attempt.invoice.amount
                self.collected.add(money.currency, money.minor)
            # pragma: no mutate start - which of two set-based statements records a first
            # payment: the shared objects pick the narrower one, the other writes the same row
            first_payment = (
                result is CHARGED_ONCE
                and transition is PAID_FIRST_TIME
                and attempt.from_status is pending
            )
            # pragma: no mutate end
            if first_payment:
                self.charged_ids.append(attempt.id)
                self.paid_pending.append(attempt.invoice.id)
                continue
            if result.outcome is charged:
                self.receipts.append(attempt.id)
            # The attempt's values are the answer's fields, in _SETTLE_ATTEMPT's order.
            if transition is None:
                self.attempts[(*result, None, None)].append(attempt.id)
                self.processing[attempt.from_status].append(attempt.invoice.id)
                continue
            self.attempts[(*result, stamp, run_id)].append(attempt.id)
            if transition is not RESTORE:  # a fresh attempt never moved its invoice
                self._move(attempt, result, transition)

    def _move(self, attempt: Attempt, result: CallResult, transition: Transition) -> None:
        kind = after_decline(result, transition)
        if kind is not None:
            next_try = transition.next_retry_on
            when = None if next_try is None else next_try.isoformat()
            self.notices[kind, when].append(attempt.id)
        if transition.status is InvoiceStatus.PAID and attempt.from_status is InvoiceStatus.PENDING:
            self.paid_pending.append(attempt.invoice.id)
        else:
            values = careful.invoice_values(transition, self.stamp)
            self.invoices[(*values, attempt.from_status)].append(attempt.invoice.id)

    def write(self, conn: sqlite3.Connection, expected_attempts: int) -> None:
        stamp = self.stamp
        updated = _update_groups(conn, _SETTLE_ATTEMPTS, self.attempts)
        if self.charged_ids:
            # Leaves the reference and decline columns alone: fewer columns to write, and
            # the partial index on decline codes is not consulted for the common case.
            ids = json.dumps(self.charged_ids)
            updated += conn.execute(_CHARGED_ONCE, (stamp, self.run_id, ids)).rowcount
        if updated != expected_attempts:
            raise _Edited  # an attempt of the batch was closed by hand
        moved = _update_groups(conn, _MOVE_INVOICES, self.invoices)
        if self.paid_pending:
            ids = json.dumps(self.paid_pending)
            moved += conn.execute(_PAY_PENDING, (stamp, stamp, ids)).rowcount
        for from_status, group in self.processing.items():
            moved += conn.execute(
                _MARK_PROCESSING, (stamp, from_status, json.dumps(group))
            ).rowcount
        expected = sum(map(len, self.invoices.values())) + len(self.paid_pending)
        if moved != expected + sum(map(len, self.processing.values())):
            raise _Edited  # an invoice of the batch was edited by hand
        totals = [(total.currency, total.count, total.minor) for total in self.collected.rows()]
        conn.executemany(careful.COLLECT, totals)
        self.notices[NoticeKind.RECEIPT, None] = self.charged_ids + self.receipts
        outbox.record(conn, run_id=self.run_id, stamp=stamp, groups=self.notices)


def _settle_together(
    conn: sqlite3.Connection, run_id: int, stamp: str, settled: Sequence[Settled]
) -> None:
    batch = _Batch(run_id, stamp)
    batch.sort(settled)
    batch.write(conn, len(settled))


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
        if len(ids) >= _SET_BASED_FROM:  # pragma: no mutate - which form: the same rows
            changed += conn.execute(by_ids, (*values, json.dumps(ids))).rowcount
        else:
            rows.extend((*values, row_id) for row_id in ids)
    if rows:
        changed += conn.executemany(by_id, rows).rowcount
    return changed


_RELEASE = (
    "UPDATE payment_attempt SET outcome = 'abandoned', error = 'not sent: the pass stopped', "
    "finished_at = ?, settled_by_run_id = ? WHERE id = ? AND outcome = 'started'"
)


def release(
    conn: sqlite3.Connection, *, run_id: int, now: datetime, attempts: Sequence[Attempt]
) -> None:
    """Close attempts that were claimed but never sent (the pass stopped).

    Only attempts still `started` are released: they provably never left this
    process, so no money can have moved under their keys. Their invoices were never
    touched, so there is nothing to hand back.
    """
    conn.executemany(_RELEASE, [(now.isoformat(), run_id, a.id) for a in attempts])


_HAND_BACK = (
    "UPDATE invoice SET status = 'PENDING', failure_code = NULL, failure_detail = NULL, "
    "next_retry_on = NULL, decline_count = 0, first_declined_on = NULL, updated_at = ? "
    "WHERE id IN (SELECT value FROM json_each(?)) "
    "AND (status = 'FAILED' OR status = 'AWAITING_CUSTOMER' OR status = 'UNCOLLECTIBLE') "
    "AND EXISTS (SELECT 1 FROM payment_attempt a WHERE a.invoice_id = invoice.id "
    "AND a.run_id = ? AND a.from_status = 'PENDING' AND (a.outcome = 'declined' "
    "OR a.outcome = 'declined_hard' OR a.outcome = 'needs_customer')) RETURNING id"
)
_AS_THEY_ARE = (
    "SELECT id, status, currency, amount FROM invoice WHERE id IN (SELECT value FROM json_each(?))"
)


def hand_back_declines(
    conn: sqlite3.Connection, *, run_id: int, now: datetime, invoice_ids: Sequence[int]
) -> list[tuple[str, str, int]]:
    """Undo the dunning step of first charges this run saw declined: back to PENDING,
    as if never charged, and their customers are not told. Their attempts keep the
    provider's answer. The status, currency and amount each invoice handed back had,
    for the tally (one already PENDING is not handed back again)."""
    ids = json.dumps(list(invoice_ids))
    was = {row[0]: row[1:] for row in conn.execute(_AS_THEY_ARE, (ids,))}
    handed_back = [row[0] for row in conn.execute(_HAND_BACK, (now.isoformat(), ids, run_id))]
    outbox.withdraw_declines(conn, run_id=run_id, invoice_ids=invoice_ids)
    return [
        (str(status), str(currency), int(amount))
        for status, currency, amount in (was[invoice_id] for invoice_id in handed_back)
    ]


# Replayed first charges of a pass that a tripped breaker stopped, answered with a
# decline only now (their answers were lost in that pass, and it ran no sweep). A
# pass killed after its trip ends 'crashed': the notices its trip withdrew say it.
_LATE_DECLINES = (
    "SELECT a.run_id, a.invoice_id FROM payment_attempt a JOIN billing_run r ON r.id = a.run_id "
    "WHERE a.id IN (SELECT value FROM json_each(?)) AND a.from_status = 'PENDING' "
    "AND (a.outcome = 'declined' OR a.outcome = 'declined_hard' "
    "OR a.outcome = 'needs_customer') AND (r.status = 'stopped_breaker' "
    "OR (r.status = 'crashed' AND EXISTS (SELECT 1 FROM notification n "
    "INDEXED BY notification_undelivered WHERE n.status = 'withdrawn' "
    "AND n.run_id = a.run_id AND n.last_error = ?))) ORDER BY a.id"
)


def hand_back_late_declines(
    conn: sqlite3.Connection, *, now: datetime, attempt_ids: Sequence[int]
) -> list[tuple[str, str, int]]:
    """Replayed attempts that were first charges of a pass the breaker stopped, and
    declined: handed back as that pass handed back its own (PENDING, no dunning step,
    no notice), for a decline answered late is one of that pass's all the same. What
    each invoice handed back was, for the tally."""
    by_run: dict[int, list[int]] = defaultdict(list)
    found = conn.execute(
        _LATE_DECLINES, (json.dumps(list(attempt_ids)), outbox.WITHDRAWN_BY_BREAKER)
    )
    for run_id, invoice_id in found:
        by_run[run_id].append(invoice_id)
    return [
        handed_back
        for run_id, invoice_ids in by_run.items()
        for handed_back in hand_back_declines(conn, run_id=run_id, now=now, invoice_ids=invoice_ids)
    ]


def count_open_attempts(conn: sqlite3.Connection) -> int:
    # SQLite reads names, like keywords, in any case (and the count is read by position)
    count = "SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL"  # pragma: no mutate
    return int(conn.execute(count).fetchone()[0])
