"""Settling one attempt at a time, for what a whole batch cannot settle.

`ledger.settle` writes a batch of fresh answers in a few set-based statements. Any
row that does not fit (a replay, an invoice edited or deleted while its charge was
in flight, a value the schema allows but an update cannot hold) comes here and is
settled alone inside its own savepoint, so that one bad row holds only itself:

1. The answer is written on its attempt, whatever became of the invoice: the
   ledger says what was charged, and a charge counts in `collected`.
2. The invoice row is read again and judged by `antaeus_cli.domain.edits.rule`.
3. If the invoice cannot take its transition, it goes to an operator with the
   reason; if it cannot take even that, the reason is noted on the attempt.

Nothing here ends the pass, except a failure of the database itself (busy, full,
read-only, damaged), which is no row's fault.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

from antaeus_cli.domain.attempt import RESTORE, CallResult, Settled, Transition
from antaeus_cli.domain.edits import Found, Ruling, Verdict, rule, unrecorded
from antaeus_cli.domain.invoice import AttemptOutcome, FailureCode, InvoiceStatus, Rejection
from antaeus_cli.domain.notices import NoticeKind, after_decline
from antaeus_cli.store import outbox

# SQLite's primary result codes that a row's values cause, as opposed to the state of
# the database (busy, locked, read-only, I/O, full, corrupt), which no row causes.
_ROW_ERRORS = frozenset({1, 18, 19, 20, 25})  # ERROR, TOOBIG, CONSTRAINT, MISMATCH, RANGE
MAX_REASON = 300


NO_ATTEMPT = 0  # Held.attempt_id when no attempt row was written (row ids start at 1)


class Held(NamedTuple):
    """An answer recorded, and an invoice left for an operator, with the reason."""

    invoice_id: int
    attempt_id: int
    rejection: Rejection


def is_row_error(exc: BaseException) -> bool:
    """An error that this row's values caused: it holds the row, not the pass.

    SQLite's own errors say by their code. Those the sqlite3 module raises itself have
    none: a text that is not UTF-8 is the row's; a misuse (a closed connection, a
    statement and its parameters that do not match) is the program's.
    """
    if isinstance(exc, sqlite3.ProgrammingError):
        return False
    if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.InterfaceError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is None or (code & 0xFF) in _ROW_ERRORS
    return isinstance(exc, (OverflowError, ValueError, TypeError, sqlite3.InterfaceError))


@contextlib.contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """A nested transaction: rolled back alone if its block raises. Savepoints of one
    name nest: each ROLLBACK TO and RELEASE acts on the innermost."""
    conn.execute("SAVEPOINT antaeus_row")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO antaeus_row")
        conn.execute("RELEASE antaeus_row")
        raise
    conn.execute("RELEASE antaeus_row")


# How an answer is written on its attempt, and how a charge is added to `collected`:
# one definition each, for the batch (store.ledger) and for one row (here).
SETTLE_ATTEMPT = (
    "UPDATE payment_attempt SET outcome = ?, error = ?, provider_calls = provider_calls + ?, "
    "provider_ref = coalesce(?, provider_ref), decline_code = ?, decline_class = ?, "
    "finished_at = ?, settled_by_run_id = ? WHERE finished_at IS NULL AND "
)
COLLECT = (
    "INSERT INTO collected (currency, count, amount) VALUES (?, ?, ?) "
    "ON CONFLICT (currency) DO UPDATE SET count = count + excluded.count, "
    "amount = amount + excluded.amount"
)
_ATTEMPT = SETTLE_ATTEMPT + "id = ?"
# The answer alone, should the counters not take the full update.
_ATTEMPT_BARE = (
    "UPDATE payment_attempt SET outcome = ?, error = ?, finished_at = ?, settled_by_run_id = ? "
    "WHERE id = ? AND finished_at IS NULL"
)
_NOTE = "UPDATE payment_attempt SET error = ? WHERE id = ?"
_ORPHAN = "INSERT OR IGNORE INTO charge_without_invoice (attempt_id, noted_at) VALUES (?, ?)"
_FOUND = (
    "SELECT i.status, i.amount, i.currency, i.customer_id, a.outcome <> 'started' "
    "FROM payment_attempt a JOIN invoice i ON i.id = a.invoice_id WHERE a.id = ?"
)
_MOVE = (
    "UPDATE invoice SET status = ?, failure_code = ?, failure_detail = ?, next_retry_on = ?, "
    "decline_count = ?, first_declined_on = ?, paid_at = ?, updated_at = ? WHERE id = ?"
)
_PROCESSING = "UPDATE invoice SET status = 'PROCESSING', updated_at = ? WHERE id = ?"
_RESTORE = "UPDATE invoice SET status = ?, updated_at = ? WHERE id = ? AND status = 'PROCESSING'"
_HOLD = (
    "UPDATE invoice SET status = 'NEEDS_OPERATOR', failure_code = ?, failure_detail = ?, "
    "next_retry_on = NULL, paid_at = NULL, updated_at = ? WHERE id = ?"
)


def settle_one(
    conn: sqlite3.Connection, *, run_id: int, stamp: str, settled: Settled
) -> Held | None:
    """Record one answer, and move its invoice on if it still can be; None when the
    invoice went where the answer sends it."""
    attempt, result, transition = settled
    invoice_id = attempt.invoice.id
    row = conn.execute(_FOUND, (attempt.id,)).fetchone()
    ruling = rule(attempt, result, transition, None if row is None else Found(*row))
    note = ruling.reason if ruling.verdict is Verdict.ORPHAN else None
    try:
        written = _write_attempt(conn, run_id, stamp, settled, note)
    except Exception as exc:
        if not is_row_error(exc):
            raise
        return _held(conn, stamp, invoice_id, attempt.id, _unwritable(result, exc))
    if not written:
        return _held(conn, stamp, invoice_id, attempt.id, _closed_by_hand(attempt.attempt_no))
    if result.outcome is AttemptOutcome.CHARGED:
        money = attempt.invoice.amount
        conn.execute(COLLECT, (money.currency.value, 1, money.minor))
        outbox.record_one(
            conn, run_id=run_id, stamp=stamp, attempt_id=attempt.id, kind=NoticeKind.RECEIPT
        )
        if ruling.verdict is Verdict.ORPHAN:
            conn.execute(_ORPHAN, (attempt.id, stamp))
    return _judged(conn, run_id, stamp, settled, ruling)


def _judged(
    conn: sqlite3.Connection, run_id: int, stamp: str, settled: Settled, ruling: Ruling
) -> Held | None:
    """The invoice's part, once its answer is recorded."""
    attempt, result, transition = settled
    invoice_id = attempt.invoice.id
    if ruling.verdict is Verdict.ORPHAN:
        return Held(invoice_id, attempt.id, ruling.rejection())
    if ruling.verdict is Verdict.HOLD:
        return _held(conn, stamp, invoice_id, attempt.id, ruling.rejection())
    if ruling.verdict is Verdict.KEEP:
        return None
    try:
        with savepoint(conn):
            _move(conn, stamp, settled)
    except Exception as exc:
        if not is_row_error(exc):
            raise
        failure = unrecorded(result, reason_of(exc))
        if failure is None:
            return None  # open: the invoice waits as it is for the look-up
        return _held(conn, stamp, invoice_id, attempt.id, failure)
    kind = after_decline(result, transition)
    if kind is not None and transition is not None:
        outbox.record_one(
            conn,
            run_id=run_id,
            stamp=stamp,
            attempt_id=attempt.id,
            kind=kind,
            next_try=transition.next_retry_on,
        )
    return None


def _write_attempt(
    conn: sqlite3.Connection, run_id: int, stamp: str, settled: Settled, note: str | None
) -> bool:
    """The answer on its attempt row; False if the row was closed meanwhile (by hand:
    the pass's lock rules out another pass). Should the counters not take the update,
    the answer alone is written, with a note saying so."""
    attempt, result, transition = settled
    finished = None if transition is None else stamp
    settled_by = None if transition is None else run_id
    error = _joined(result.detail, note)
    try:
        with savepoint(conn):
            return bool(
                conn.execute(
                    _ATTEMPT,
                    (
                        result.outcome,
                        error,
                        result.calls,
                        result.reference,
                        result.decline_code,
                        result.decline_class,
                        finished,
                        settled_by,
                        attempt.id,
                    ),
                ).rowcount
            )
    except Exception as exc:
        if not is_row_error(exc):
            raise
        error = _joined(error, f"its counters could not be updated ({reason_of(exc)})")
    with savepoint(conn):
        return bool(
            conn.execute(
                _ATTEMPT_BARE, (result.outcome, error, finished, settled_by, attempt.id)
            ).rowcount
        )


def _move(conn: sqlite3.Connection, stamp: str, settled: Settled) -> None:
    attempt, _, transition = settled
    invoice_id = attempt.invoice.id
    if transition is None:
        conn.execute(_PROCESSING, (stamp, invoice_id))
    elif transition is RESTORE:
        conn.execute(_RESTORE, (attempt.from_status, stamp, invoice_id))
    else:
        conn.execute(_MOVE, (*invoice_values(transition, stamp), invoice_id))


def invoice_values(t: Transition, stamp: str) -> tuple[object, ...]:
    """The invoice columns a transition writes, in the order the updates name them."""
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


def hold(conn: sqlite3.Connection, stamp: str, item: Held) -> None:
    """Send an invoice to an operator without recording any answer."""
    _held(conn, stamp, item.invoice_id, item.attempt_id, item.rejection)


def _held(
    conn: sqlite3.Connection, stamp: str, invoice_id: int, attempt_id: int, rejection: Rejection
) -> Held:
    """Send the invoice to an operator; if it is gone, or cannot take even that, note
    why on the attempt, where `report` shows it."""
    try:
        with savepoint(conn):
            held = conn.execute(_HOLD, (rejection.code, rejection.detail, stamp, invoice_id))
            if held.rowcount:
                return Held(invoice_id, attempt_id, rejection)
        why = "it no longer exists"
    except Exception as exc:
        if not is_row_error(exc):
            raise
        why = reason_of(exc)
    with contextlib.suppress(sqlite3.Error), savepoint(conn):
        note = f"{rejection.detail}; the invoice could not be held: {why}"
        conn.execute(_NOTE, (note, attempt_id))
    return Held(invoice_id, attempt_id, rejection)


def _unwritable(result: CallResult, exc: BaseException) -> Rejection:
    return Rejection(
        FailureCode.MALFORMED,
        f"the provider answered {result.outcome}, but its attempt row could not record it "
        f"({reason_of(exc)}); it stays open and is looked up again next pass",
    )


def _closed_by_hand(attempt_no: int) -> Rejection:
    return Rejection(
        FailureCode.EDITED_IN_FLIGHT,
        f"attempt {attempt_no} was closed by hand while its charge was in flight; its row "
        "was left as it is: compare it with the provider's records",
    )


def _joined(first: str | None, second: str | None) -> str | None:
    if first and second:
        return f"{first}; {second}"
    return first or second


def reason_of(exc: BaseException) -> str:
    """An exception as a reason for an operator: its type and text, capped."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON else f"{text[:MAX_REASON]}..."
