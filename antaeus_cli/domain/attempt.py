"""Charge attempts: what is sent under one idempotency key, and what came back. Pure."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from antaeus_cli.domain.invoice import (
    AttemptOutcome,
    DunningState,
    Invoice,
    InvoiceStatus,
    Rejection,
)


class Attempt(NamedTuple):
    """A charge under one idempotency key: a new attempt, or the replay of an open one.

    A replay always sends the amount, currency and customer recorded with the key,
    never the invoice's current ones, so the provider sees exactly the first request
    again.
    """

    invoice: Invoice
    attempt_no: int
    key: str
    dunning: DunningState
    from_status: InvoiceStatus  # where the invoice goes back to if this is never sent
    replay: bool = False
    id: int = 0  # the ledger row, assigned when the attempt is claimed
    started_at: datetime | None = None  # replays: when the key was first claimed
    reference: str | None = None  # replays: the provider's id for the charge, if known
    # Replays: why the key must not be sent again, even if the provider has no charge
    # under it (its invoice is gone, or another attempt charged it): looked up only.
    no_resend: str | None = None
    # The customer's local date at the pass's moment: the day its dunning dates count
    # from (domain.clock). None: the company's date.
    local_date: date | None = None


class KeepOpen(str):
    """A replay's reason not to send its key again in this pass that leaves it open for
    a later one (a run cap): the key is looked up only; found, its answer stands; not
    found, it stays open. Unlike the other reasons, which end it `lapsed`."""

    __slots__ = ()


class CallResult(NamedTuple):
    """What the provider said about one key, after any in-pass retries and look-ups."""

    outcome: AttemptOutcome
    detail: str | None
    calls: int  # requests sent for the key in this pass, retries and look-ups included
    reference: str | None = None  # the provider's id for the charge (Stripe: pi_...)
    decline_code: str | None = None  # the provider's own code, as it gave it
    decline_class: str | None = None  # antaeus_cli.domain.outcomes.DeclineClass


class Transition(NamedTuple):
    """The invoice fields a settled attempt writes."""

    status: InvoiceStatus
    failure: Rejection | None = None
    next_retry_on: date | None = None
    dunning: DunningState = DunningState()


class Settled(NamedTuple):
    """An attempt with its answer and the invoice transition it causes (None: unknown)."""

    attempt: Attempt
    result: CallResult
    transition: Transition | None


# The common answer, shared: a batch of a thousand charges needs one object, not a
# thousand, and the ledger can group them by identity.
CHARGED_ONCE = CallResult(AttemptOutcome.CHARGED, None, 1)
# Shared by every first-time payment, so the ledger can spot the common case by identity.
PAID_FIRST_TIME = Transition(InvoiceStatus.PAID)
# "No money moved under this key": the invoice goes back to the status it was claimed
# from, untouched, and a later claim charges it under a new key.
RESTORE = Transition(InvoiceStatus.PENDING)
