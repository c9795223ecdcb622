"""Open attempts: the ones whose outcome is not known, read back to be replayed.

A replay sends exactly the request its attempt recorded, so what is read here is
checked as a claim would check it: a row written by hand is never sent unless it is
one antaeus could have written, and one that cannot be replayed is held, with why.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from antaeus_cli.domain.attempt import Attempt
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.domain.edits import shown
from antaeus_cli.domain.invoice import (
    STATUS_BY_VALUE,
    DunningState,
    FailureCode,
    Invoice,
    Rejection,
    is_customer_ref,
)
from antaeus_cli.domain.judgement import InvoiceNow, replay_verdict
from antaeus_cli.domain.money import MAX_CHARGE_MINOR, Currency, Money
from antaeus_cli.domain.overdue import LOOKUP_PASSES, OpenAttempt
from antaeus_cli.store import careful
from antaeus_cli.store.careful import Held
from antaeus_cli.store.database import lenient_text

# LEFT JOIN: an attempt whose invoice was deleted while in flight is replayed all the
# same, because its key may have moved money.
_OPEN_ATTEMPTS = (
    "SELECT a.id, a.invoice_id, a.attempt_no, a.idempotency_key, a.amount, a.currency, "
    "a.from_status, a.customer_id, i.decline_count, i.first_declined_on, a.customer_ref, "
    "a.started_at, a.provider_ref, "
    "(SELECT CAST(z.timezone AS BLOB) FROM customer z WHERE z.id = a.customer_id), "
    # the money facts domain.judgement.replay_verdict reads: the invoice is gone, another
    # attempt charged it, another invoice's charge for the month succeeded or may have
    "i.id IS NULL, (SELECT c.id FROM payment_attempt c WHERE c.invoice_id = a.invoice_id "
    "AND c.outcome = 'charged' LIMIT 1), "
    "(SELECT m.idempotency_key FROM payment_attempt m INDEXED BY payment_attempt_period "
    "WHERE m.customer_id = a.customer_id AND m.period = a.period "
    "AND m.invoice_id <> a.invoice_id AND (m.outcome = 'charged' OR m.finished_at IS NULL) "
    "LIMIT 1), "
    # and the invoice as it is now, which a re-send (a new charge) must still fit
    "i.status, i.amount, i.currency, i.due_date "
    "FROM payment_attempt a LEFT JOIN invoice i ON i.id = a.invoice_id "
    "WHERE a.finished_at IS NULL AND a.id > ? ORDER BY a.id LIMIT ?"
)

# A pass counts once on each attempt its replays left open, whatever its sweeps do.
_LOOKED_UP = (
    "UPDATE payment_attempt SET lookup_passes = lookup_passes + 1, looked_up_by_run_id = ? "
    "WHERE id = ? AND finished_at IS NULL AND looked_up_by_run_id IS NOT ?"
)
# The open attempts enough passes have looked up to be judged by domain.overdue.
_LOOKED_UP_OFTEN = (
    "SELECT id, invoice_id, idempotency_key, amount, currency, started_at, outcome, "
    "lookup_passes, provider_ref, error FROM payment_attempt INDEXED BY payment_attempt_one_open "
    "WHERE finished_at IS NULL AND lookup_passes >= ? ORDER BY id"
)


class OpenAttempts(NamedTuple):
    attempts: list[Attempt]  # to replay, in attempt id order
    unreadable: list[Held]  # rows written by hand that no request can be built from
    last_id: int | None  # the highest attempt id read, for the next page


def open_attempts(
    conn: sqlite3.Connection, after_id: float, limit: int, clock: PassClock
) -> OpenAttempts:
    """Attempts whose outcome is not known, to replay; and those that cannot be. A
    replay's dunning dates count from its customer's local date now (the company's,
    should the customer's zone be unknown: a key that may have moved money is settled
    whatever its zone)."""
    found: list[Attempt] = []
    unreadable: list[Held] = []
    last_id = None
    for row in conn.execute(_OPEN_ATTEMPTS, (after_id, limit)):
        last_id = row[0]
        try:
            zone = None if row[13] is None else lenient_text(row[13])
            local = clock.local_date(zone)
            found.append(
                _open_attempt(row, local or clock.company_date, zone_known=local is not None)
            )
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            reason = (
                f"attempt {row[0]} is open but cannot be replayed ({careful.reason_of(exc)}); "
                "its row was written by hand? Ask the provider whether key "
                f"{shown(row[3])!r} charged, and settle the attempt and the invoice by hand"
            )
            unreadable.append(Held(row[1], row[0], Rejection(FailureCode.MALFORMED, reason)))
    return OpenAttempts(found, unreadable, last_id)


def _open_attempt(row: tuple[Any, ...], local_date: date, *, zone_known: bool) -> Attempt:
    """The request an open attempt recorded, checked as a claim would check it: a row
    written by hand is never sent unless it is one antaeus could have written."""
    if type(row[7]) is not int or type(row[1]) is not int or type(row[2]) is not int:
        raise TypeError("its invoice id, attempt number and customer id must be integers")
    amount = row[4]
    # pragma: no mutate start - equivalent while the schema's CHECK on payment_attempt.amount
    # (an integer above 0) stands: it refuses these rows before they are written
    if type(amount) is not int or amount <= 0:
        raise ValueError(f"its amount {shown(amount)} is not one a claim would send")
    # pragma: no mutate end
    if amount > MAX_CHARGE_MINOR:
        raise ValueError(f"its amount {amount} is past the sanity limit a claim would send")
    ref = row[10]
    if ref is not None and not is_customer_ref(ref):
        raise ValueError(f"its customer_ref {shown(ref)!r} is malformed")
    started = datetime.fromisoformat(row[11])
    if started.tzinfo is None:  # written by hand without a zone: ours are all UTC
        started = started.replace(tzinfo=UTC)
    invoice = Invoice(row[1], row[7], Money(amount, Currency(row[5])), ref)
    first = row[9]
    dunning = DunningState(row[8] or 0, date.fromisoformat(first) if first else None)
    return Attempt(
        invoice,
        row[2],
        row[3],
        dunning,
        STATUS_BY_VALUE[row[6]],
        replay=True,
        id=row[0],
        started_at=started,
        reference=row[12],
        no_resend=replay_verdict(
            invoice_gone=bool(row[14]),
            charged_by=row[15],
            month_charged=row[16],
            now=InvoiceNow(row[17], row[18], row[19], row[20]),
            sent=(amount, row[5], STATUS_BY_VALUE[row[6]]),
            local_date=local_date if zone_known else None,
        ),
        local_date=local_date,
    )


def hold(conn: sqlite3.Connection, *, now: datetime, held: Sequence[Held]) -> None:
    """Send the invoices of attempts that cannot be replayed to an operator."""
    for item in held:
        careful.hold(conn, now.isoformat(), item)


def count_lookups(conn: sqlite3.Connection, *, run_id: int, attempt_ids: Sequence[int]) -> None:
    """Count this pass on each attempt whose replay it could not settle. A count a hand
    edit left at the 64-bit limit is past every bar already: it holds only itself."""
    for attempt_id in attempt_ids:
        try:
            with careful.savepoint(conn):
                conn.execute(_LOOKED_UP, (run_id, attempt_id, run_id))
        except Exception as exc:
            if not careful.is_row_error(exc):
                raise


def looked_up_often(conn: sqlite3.Connection) -> list[OpenAttempt]:
    """Open attempts that LOOKUP_PASSES passes or more could not settle, oldest first."""
    return [OpenAttempt(*row) for row in conn.execute(_LOOKED_UP_OFTEN, (LOOKUP_PASSES,))]
