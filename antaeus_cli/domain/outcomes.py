"""Every classification of a provider's answer, as tables. Pure.

A provider adapter does not judge: it reports what the provider said as an `Answer`
(what kind of answer, the provider's reference, its codes). This module turns that
into an attempt outcome (`result_of`), and an outcome into what the invoice becomes
(`settle`). docs/design.md quotes these tables.

| answer                        | outcome            | the invoice becomes                |
|-------------------------------|--------------------|------------------------------------|
| charged                       | charged            | PAID; the reference is kept        |
| declined, soft code           | declined           | FAILED, then UNCOLLECTIBLE         |
| declined, unknown code        | declined           | the same, retried once at most     |
| declined, hard code           | declined_hard      | AWAITING_CUSTOMER (hard_decline)   |
| needs the customer            | needs_customer     | AWAITING_CUSTOMER (needs_customer) |
| processing                    | processing         | PROCESSING, looked up later        |
| customer not found            | customer_not_found | NEEDS_OPERATOR                     |
| currency mismatch             | currency_mismatch  | NEEDS_OPERATOR                     |
| any other refusal             | provider_error     | NEEDS_OPERATOR                     |
| 429 on every try, or 401/403  | not_processed      | as it was; a later pass charges it |
| network, timeout, 5xx, 409    | unknown            | PROCESSING, looked up, re-sent     |
| not found, key past retention | lapsed             | as it was; a new key charges it    |

"Needs the customer" is a decline whose class is CUSTOMER, or a charge that
requires action (3-D Secure off-session).
"""

from __future__ import annotations

import enum
from datetime import date
from typing import NamedTuple

from antaeus_cli.domain import words
from antaeus_cli.domain.attempt import (
    CHARGED_ONCE,
    PAID_FIRST_TIME,
    RESTORE,
    CallResult,
    Transition,
)
from antaeus_cli.domain.dunning import DunningSchedule
from antaeus_cli.domain.invoice import (
    NEVER_DECLINED,
    AttemptOutcome,
    DunningState,
    FailureCode,
    InvoiceStatus,
    Rejection,
)


class AnswerKind(enum.StrEnum):
    """What a provider said, before any judgement."""

    CHARGED = "charged"
    DECLINED = "declined"  # the card was declined; `code` says why
    REQUIRES_ACTION = "requires_action"  # the charge needs the customer (3-D Secure)
    PROCESSING = "processing"  # accepted; it settles later
    CUSTOMER_NOT_FOUND = "customer_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    REFUSED = "refused"  # a definitive error that is none of the above


MAX_PROVIDER_TEXT = 1000  # characters of one text field of an answer that the ledger keeps


class Answer(NamedTuple):
    kind: AnswerKind
    reference: str | None = None  # the provider's id for the charge (Stripe: pi_...)
    code: str | None = None  # the decline code, or else the error code
    advice_code: str | None = None  # Stripe's advice_code, when it gives one
    message: str | None = None


CHARGED = Answer(AnswerKind.CHARGED)  # shared: the common answer of a reference-less provider


class DeclineClass(enum.StrEnum):
    SOFT = "soft"  # retried on the dunning schedule
    SOFT_UNKNOWN = "soft_unknown"  # a code this table does not know: soft, with a short cap
    HARD = "hard"  # never retried on the same card
    CUSTOMER = "needs_customer"  # not retried until the customer acts


# Stripe's decline codes (https://docs.stripe.com/declines/codes) and the error codes a
# card error may carry instead. A code not here is SOFT_UNKNOWN.
DECLINE_CLASSES: dict[str, DeclineClass] = {
    # soft: the same card may well work on a later day
    "insufficient_funds": DeclineClass.SOFT,
    "try_again_later": DeclineClass.SOFT,
    "processing_error": DeclineClass.SOFT,
    "generic_decline": DeclineClass.SOFT,
    "card_declined": DeclineClass.SOFT,  # the error code of a decline with no decline code
    "do_not_honor": DeclineClass.SOFT,
    "issuer_not_available": DeclineClass.SOFT,
    "reenter_transaction": DeclineClass.SOFT,
    "approve_with_id": DeclineClass.SOFT,
    "card_velocity_exceeded": DeclineClass.SOFT,
    "withdrawal_count_limit_exceeded": DeclineClass.SOFT,
    "no_action_taken": DeclineClass.SOFT,
    # hard: charging this card again is wrong, or dangerous
    "lost_card": DeclineClass.HARD,
    "stolen_card": DeclineClass.HARD,
    "fraudulent": DeclineClass.HARD,
    "pickup_card": DeclineClass.HARD,
    "invalid_account": DeclineClass.HARD,
    "do_not_try_again": DeclineClass.HARD,
    "restricted_card": DeclineClass.HARD,
    "merchant_blacklist": DeclineClass.HARD,
    "security_violation": DeclineClass.HARD,
    "service_not_allowed": DeclineClass.HARD,
    "stop_payment_order": DeclineClass.HARD,
    "revocation_of_all_authorizations": DeclineClass.HARD,
    "revocation_of_authorization": DeclineClass.HARD,
    "transaction_not_allowed": DeclineClass.HARD,
    "not_permitted": DeclineClass.HARD,
    "duplicate_transaction": DeclineClass.HARD,
    "invalid_amount": DeclineClass.HARD,
    # the customer must act: authenticate, replace the card, correct its details
    "authentication_required": DeclineClass.CUSTOMER,
    "payment_intent_authentication_failure": DeclineClass.CUSTOMER,
    "expired_card": DeclineClass.CUSTOMER,
    "incorrect_number": DeclineClass.CUSTOMER,
    "incorrect_cvc": DeclineClass.CUSTOMER,
    "incorrect_pin": DeclineClass.CUSTOMER,
    "incorrect_zip": DeclineClass.CUSTOMER,
    "incorrect_address": DeclineClass.CUSTOMER,
    "invalid_cvc": DeclineClass.CUSTOMER,
    "invalid_expiry_month": DeclineClass.CUSTOMER,
    "invalid_expiry_year": DeclineClass.CUSTOMER,
    "invalid_number": DeclineClass.CUSTOMER,
    "invalid_pin": DeclineClass.CUSTOMER,
    "card_not_supported": DeclineClass.CUSTOMER,
    "currency_not_supported": DeclineClass.CUSTOMER,
    "call_issuer": DeclineClass.CUSTOMER,
    "new_account_information_available": DeclineClass.CUSTOMER,
    "offline_pin_required": DeclineClass.CUSTOMER,
    "online_or_offline_pin_required": DeclineClass.CUSTOMER,
    "pin_try_exceeded": DeclineClass.CUSTOMER,
    "testmode_decline": DeclineClass.CUSTOMER,
}
# Stripe's advice codes outrank the decline code.
ADVICE_CLASSES: dict[str, DeclineClass] = {
    "do_not_try_again": DeclineClass.HARD,
    "confirm_card_data": DeclineClass.CUSTOMER,
    "try_again_later": DeclineClass.SOFT,
}
# A decline with a code nobody listed is retried, but only this many times.
UNKNOWN_CODE_RETRIES = 1


def decline_class(code: str | None, advice_code: str | None = None) -> DeclineClass:
    if advice_code is not None and advice_code in ADVICE_CLASSES:
        return ADVICE_CLASSES[advice_code]
    if code is None:
        return DeclineClass.SOFT_UNKNOWN
    return DECLINE_CLASSES.get(code, DeclineClass.SOFT_UNKNOWN)


_OUTCOME_OF_CLASS = {
    DeclineClass.SOFT: AttemptOutcome.DECLINED,
    DeclineClass.SOFT_UNKNOWN: AttemptOutcome.DECLINED,
    DeclineClass.HARD: AttemptOutcome.DECLINED_HARD,
    DeclineClass.CUSTOMER: AttemptOutcome.NEEDS_CUSTOMER,
}
_OUTCOME_OF_KIND = {
    AnswerKind.CHARGED: AttemptOutcome.CHARGED,
    AnswerKind.PROCESSING: AttemptOutcome.PROCESSING,
    AnswerKind.CUSTOMER_NOT_FOUND: AttemptOutcome.CUSTOMER_NOT_FOUND,
    AnswerKind.CURRENCY_MISMATCH: AttemptOutcome.CURRENCY_MISMATCH,
    AnswerKind.REFUSED: AttemptOutcome.PROVIDER_ERROR,
}


def result_of(answer: Answer, calls: int) -> CallResult:
    """The attempt outcome an answer means."""
    if answer is CHARGED and calls == 1:
        return CHARGED_ONCE
    answer = answer._replace(
        reference=_storable(answer.reference),
        code=_storable(answer.code),
        advice_code=_storable(answer.advice_code),
        message=_storable(answer.message),
    )
    kind = answer.kind
    if kind is AnswerKind.DECLINED or kind is AnswerKind.REQUIRES_ACTION:
        klass = (
            DeclineClass.CUSTOMER
            if kind is AnswerKind.REQUIRES_ACTION
            else decline_class(answer.code, answer.advice_code)
        )
        code = answer.code or ("requires_action" if kind is AnswerKind.REQUIRES_ACTION else None)
        return CallResult(
            _OUTCOME_OF_CLASS[klass],
            _detail(answer, klass),
            calls,
            answer.reference,
            code,
            klass.value,
        )
    detail = answer.message
    if answer.code and answer.code not in (detail or ""):
        detail = f"{answer.code}: {detail}" if detail else answer.code
    return CallResult(_OUTCOME_OF_KIND[kind], detail, calls, answer.reference)


def _storable(text: str | None) -> str | None:
    """A provider's text as the ledger can hold it: no lone surrogates (which no UTF-8
    column takes; a JSON body may carry them), and at most MAX_PROVIDER_TEXT characters.
    The ledger records every answer, so what the provider says must never break that."""
    if text is None:
        return None
    if len(text) > MAX_PROVIDER_TEXT:
        text = f"{text[:MAX_PROVIDER_TEXT]}... ({len(text)} chars)"
    return text.encode(errors="backslashreplace").decode()  # str's codec is always UTF-8


def _detail(answer: Answer, klass: DeclineClass) -> str:
    code = answer.code or "no code"
    advice = f", advice {answer.advice_code}" if answer.advice_code else ""
    text = f": {answer.message}" if answer.message else ""
    return f"{klass.value} decline ({code}{advice}){text}"


# What the invoice becomes, for the outcomes that send it to an operator or a customer.
_OPERATOR, _CUSTOMER = InvoiceStatus.NEEDS_OPERATOR, InvoiceStatus.AWAITING_CUSTOMER
_PARKED = {
    AttemptOutcome.CUSTOMER_NOT_FOUND: (
        InvoiceStatus.NEEDS_OPERATOR,
        FailureCode.CUSTOMER_NOT_FOUND,
    ),
    AttemptOutcome.CURRENCY_MISMATCH: (InvoiceStatus.NEEDS_OPERATOR, FailureCode.CURRENCY_MISMATCH),
    AttemptOutcome.PROVIDER_ERROR: (InvoiceStatus.NEEDS_OPERATOR, FailureCode.PROVIDER_ERROR),
    AttemptOutcome.DECLINED_HARD: (InvoiceStatus.AWAITING_CUSTOMER, FailureCode.HARD_DECLINE),
    AttemptOutcome.NEEDS_CUSTOMER: (InvoiceStatus.AWAITING_CUSTOMER, FailureCode.NEEDS_CUSTOMER),
}
# No money moved: the invoice is handed back as it was.
_RESTORED = frozenset({AttemptOutcome.NOT_PROCESSED, AttemptOutcome.LAPSED})


def settle(
    result: CallResult, state: DunningState, as_of: date, schedule: DunningSchedule
) -> Transition | None:
    """The invoice's next state, or None while the outcome is still open."""
    outcome = result.outcome
    if outcome is AttemptOutcome.CHARGED:
        return (
            PAID_FIRST_TIME
            # Not mutated: PAID_FIRST_TIME equals Transition(PAID, dunning=NEVER_DECLINED);
            # it is shared so that the ledger and the counts spot the common case by identity
            if state is NEVER_DECLINED or state == NEVER_DECLINED  # pragma: no mutate
            else Transition(InvoiceStatus.PAID, dunning=state)
        )
    if outcome is AttemptOutcome.DECLINED:
        cap = UNKNOWN_CODE_RETRIES if result.decline_class == DeclineClass.SOFT_UNKNOWN else None
        return _declined(result.detail, state, as_of=as_of, schedule=schedule, cap=cap)
    parked = _PARKED.get(outcome)
    if parked is not None:
        status, code = parked
        counted = status is InvoiceStatus.AWAITING_CUSTOMER
        return Transition(
            status,
            failure=Rejection(code, result.detail or outcome),
            dunning=_one_more(state, as_of) if counted else state,
        )
    if outcome in _RESTORED:
        return RESTORE
    if outcome.is_open:
        return None
    raise ValueError(f"outcome {outcome} does not settle an invoice")


def _one_more(state: DunningState, as_of: date) -> DunningState:
    return DunningState(state.declines + 1, state.first_declined_on or as_of)


def _declined(
    detail: str | None,
    state: DunningState,
    *,
    as_of: date,
    schedule: DunningSchedule,
    cap: int | None,
) -> Transition:
    first = state.first_declined_on or as_of
    declines = state.declines + 1
    after = DunningState(declines, first)
    retry_on = schedule.next_retry_on(first, declines, as_of)
    # the cap it went past, if it did: an unlisted code is retried only so often
    over = cap if retry_on is not None and cap is not None and declines > cap else None
    if retry_on is None or over is not None:
        spent = (
            f"a decline code nobody listed is retried only {words.counted(over, 'time')}"
            if over is not None
            else f"the dunning schedule ({schedule}) is spent"
        )
        return Transition(
            InvoiceStatus.UNCOLLECTIBLE,
            failure=Rejection(
                FailureCode.DUNNING_EXHAUSTED,
                f"declined {words.counted(declines, 'time')}; {spent}",
            ),
            dunning=after,
        )
    reason = detail or "declined"
    return Transition(
        InvoiceStatus.FAILED,
        failure=Rejection(FailureCode.DECLINED, f"{reason}; decline {declines}"),
        next_retry_on=retry_on,
        dunning=after,
    )
