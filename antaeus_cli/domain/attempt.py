"""Charge attempts: what is sent under one idempotency key, and what came back. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from antaeus_cli.domain.invoice import AttemptOutcome, DunningState, Invoice, InvoiceStatus
from antaeus_cli.domain.settlement import Transition


@dataclass(frozen=True, slots=True)
class Attempt:
    """A charge under one idempotency key: a new attempt, or the replay of an open one.

    A replay always sends the amount and currency recorded with the key, never the
    invoice's current ones, so the provider sees exactly the first request again.
    """

    invoice: Invoice
    attempt_no: int
    key: str
    dunning: DunningState
    from_status: InvoiceStatus  # where the invoice goes back to if this is never sent
    replay: bool = False
    read_attempt_count: int = 0  # as read before the claim: the claim's concurrency guard


@dataclass(frozen=True, slots=True)
class CallResult:
    """What the provider said about one key, after any in-pass network retries."""

    outcome: AttemptOutcome
    detail: str | None
    calls: int  # requests sent under the key in this pass, retries included


@dataclass(frozen=True, slots=True)
class Settled:
    """An attempt with its answer and the invoice transition it causes (None: unknown)."""

    attempt: Attempt
    result: CallResult
    transition: Transition | None
