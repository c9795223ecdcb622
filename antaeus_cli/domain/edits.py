"""What an answer does to an invoice that was changed by hand while its charge was in
flight, or that cannot hold the answer at all. Pure.

The rule: the ledger records what the provider said, always; money facts win over
edits. An invoice row is moved on only when it still is what the attempt asked the
provider to charge. Otherwise:

- the provider charged, and the row now says something else (its figures or its
  status): the invoice waits for an operator with both figures, never PAID silently;
- no money moved, and the figures were edited: the invoice waits for an operator,
  who releases it once the new figures are right;
- no money moved, and only its status was edited: the edit stands;
- the answer is still open: the row stays as it is until a look-up settles it;
- the row is gone: the attempt records the answer with a note, and the charge is
  listed as one without an invoice.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from antaeus_cli.domain.attempt import Attempt, CallResult, Transition
from antaeus_cli.domain.invoice import (
    AttemptOutcome,
    DunningState,
    FailureCode,
    InvoiceStatus,
    Rejection,
)
from antaeus_cli.domain.money import format_minor

MAX_SHOWN = 40  # characters of an odd value shown in a reason


class Found(NamedTuple):
    """An invoice row as the settlement finds it: any field may have been edited."""

    status: object
    amount: object
    currency: object
    customer_id: object
    # An earlier answer under the key was recorded as open, which left the invoice
    # PROCESSING; otherwise it is still in the status it was claimed from.
    left_processing: bool = False


class Verdict(enum.Enum):
    APPLY = "apply"  # the row is as claimed: the answer's transition is written
    KEEP = "keep"  # the row is left as it is
    HOLD = "hold"  # the invoice goes to an operator with the reason
    ORPHAN = "orphan"  # the row is gone: a note on the attempt, the charge listed


class Ruling(NamedTuple):
    verdict: Verdict
    reason: str = ""  # why, for HOLD and ORPHAN

    def rejection(self) -> Rejection:
        return Rejection(FailureCode.EDITED_IN_FLIGHT, self.reason)


def rule(
    attempt: Attempt, result: CallResult, transition: Transition | None, found: Found | None
) -> Ruling:
    """What to do with the invoice row once the answer for `attempt` is known."""
    invoice = attempt.invoice
    answer = _answer_text(attempt, result)
    if found is None:
        return Ruling(
            Verdict.ORPHAN,
            f"invoice {invoice.id} was deleted while its charge was in flight; {answer}",
        )
    changes = _changes(attempt, found)
    expected = InvoiceStatus.PROCESSING if found.left_processing else attempt.from_status
    status_edited = found.status != expected
    if not changes and not status_edited:
        return Ruling(Verdict.APPLY)
    if transition is None:  # open: a later look-up settles it
        return Ruling(Verdict.KEEP)
    figures_edited = bool(changes)
    if status_edited:
        changes.append(f"its status {expected} became {shown(found.status)}")
    edited = "; ".join(changes)
    if result.outcome is AttemptOutcome.CHARGED:
        return Ruling(
            Verdict.HOLD,
            f"{answer}, but the invoice was changed by hand meanwhile ({edited}): compare "
            "the two, then refund or settle it by hand",
        )
    if figures_edited:
        return Ruling(
            Verdict.HOLD,
            f"{answer}; the invoice was changed by hand meanwhile ({edited}): release it "
            "with 'retry-failed --invoice' once its figures are right",
        )
    return Ruling(Verdict.KEEP)  # only the status was edited, and no money moved


def unrecordable(result: CallResult, state: DunningState, reason: str) -> Transition | None:
    """The transition of an answer whose invoice cannot take its usual one (a value at
    a limit the rules cannot hold): an operator, its dunning state kept, unless the
    answer is still open."""
    failure = unrecorded(result, reason)
    return (
        None if failure is None else Transition(InvoiceStatus.NEEDS_OPERATOR, failure, None, state)
    )


def unrecorded(result: CallResult, reason: str) -> Rejection | None:
    """Why an operator must see an answer its invoice could not take; None while the
    answer is still open, as a look-up settles it later."""
    if result.outcome.is_open:
        return None
    return Rejection(
        FailureCode.MALFORMED,
        f"the provider's answer ({result.outcome}) could not be recorded on this "
        f"invoice: {reason}; the ledger has it",
    )


def _answer_text(attempt: Attempt, result: CallResult) -> str:
    invoice = attempt.invoice
    ref = f" ({result.reference})" if result.reference else ""
    asked = f"{invoice.amount} for customer {invoice.customer_id}"
    if result.outcome is AttemptOutcome.CHARGED:
        return f"the provider charged {asked} under attempt {attempt.attempt_no}{ref}"
    return f"the provider answered {result.outcome} to {asked}: no money moved"


def _changes(attempt: Attempt, found: Found) -> list[str]:
    invoice = attempt.invoice
    money = invoice.amount
    changes = []
    if found.amount != money.minor or found.currency != money.currency.value:
        changes.append(f"its amount {money} became {_money(found.amount, found.currency)}")
    if found.customer_id != invoice.customer_id:
        changes.append(f"its customer {invoice.customer_id} became {shown(found.customer_id)}")
    return changes


def _money(amount: object, currency: object) -> str:
    if type(amount) is int and isinstance(currency, str):
        return format_minor(amount, currency[:MAX_SHOWN])
    return f"{shown(amount)} {shown(currency)}"


def shown(value: object) -> str:
    """An odd value as a reason shows it: text as it is, anything else as its repr, capped."""
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text)} chars)"
