"""When an open attempt needs a person. Pure.

An open attempt (`started`, `unknown`, `processing`) may have moved money, so it is
never settled as failed: every pass looks its key up again, for as long as it takes.
But an attempt that no look-up settles must not stay silent. It is *overdue*, and
every pass exits 1 and lists it until it is settled, once both of these hold:

| open as              | passes that looked it up | and since it was sent |
|----------------------|--------------------------|-----------------------|
| `unknown`, `started` | LOOKUP_PASSES (3)        | UNKNOWN_AGE (6 hours) |
| `processing`         | LOOKUP_PASSES (3)        | PROCESSING_AGE (21 days) |

Both, so whichever comes later. Passes alone would call an operator for a provider
hiccup that an hourly cron outlives in three hours. Age alone would call one on the
first pass after a long pause, before any look-up had a chance. A `processing`
charge is one the provider says it is still working on: a bank debit takes up to 14
business days to settle, so it gets three calendar weeks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from antaeus_cli.domain.invoice import AttemptOutcome
from antaeus_cli.domain.money import format_minor

LOOKUP_PASSES = 3
UNKNOWN_AGE = timedelta(hours=6)
PROCESSING_AGE = timedelta(days=21)


class OpenAttempt(NamedTuple):
    """An open attempt as the ledger holds it (amount, currency and time as stored)."""

    attempt_id: int
    invoice_id: int
    key: str
    amount: object
    currency: object
    started_at: object
    outcome: str
    lookup_passes: int
    reference: str | None
    error: str | None


def is_overdue(outcome: str, lookup_passes: int, started_at: object, now: datetime) -> bool:
    """Whether an open attempt has waited long enough that a person must settle it.
    A start time that is not one (a row written by hand) counts as long ago."""
    if lookup_passes < LOOKUP_PASSES:
        return False
    waits = PROCESSING_AGE if outcome == AttemptOutcome.PROCESSING else UNKNOWN_AGE
    sent = _instant(started_at)
    return sent is None or now - sent >= waits


def overdue(attempts: list[OpenAttempt], now: datetime) -> list[OpenAttempt]:
    """The attempts of `attempts` that are overdue, in their order."""
    return [a for a in attempts if is_overdue(a.outcome, a.lookup_passes, a.started_at, now)]


def advice(attempt: OpenAttempt) -> str:
    """What the operator does about an overdue attempt."""
    known = f" (reference {attempt.reference})" if attempt.reference else ""
    return (
        f"money may have moved under key {attempt.key}: find that charge at the provider"
        f"{known}. The attempt stays open: every pass looks it up again, and exits 1, until "
        f"it is settled. Once you know, close attempt {attempt.attempt_id} by hand (error "
        f"'settled by hand: ...') and set invoice {attempt.invoice_id} to match: docs/design.md, "
        "Overdue attempts"
    )


def described(attempt: OpenAttempt) -> dict[str, object]:
    """An overdue attempt as the pass's JSON, the run summary and `report` show it."""
    amount = attempt.amount
    return {
        "attempt_id": attempt.attempt_id,
        "invoice_id": attempt.invoice_id,
        "idempotency_key": attempt.key,
        "amount": amount,
        "currency": attempt.currency,
        "amount_formatted": (
            format_minor(amount, str(attempt.currency)) if type(amount) is int else str(amount)
        ),
        "started_at": attempt.started_at,
        "outcome": attempt.outcome,
        "lookup_passes": attempt.lookup_passes,
        "provider_ref": attempt.reference,
        "error": attempt.error,
        "action": advice(attempt),
    }


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
