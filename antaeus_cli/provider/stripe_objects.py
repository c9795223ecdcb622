"""What Stripe's objects say, read as facts: a PaymentIntent as an `Answer`, the
currency Stripe is sent, a customer's default payment method. No judgement:
`antaeus_cli.domain.outcomes` judges the answers.

Our PaymentIntents carry our idempotency key and the invoice id in their metadata.
One that requires action (3-D Secure) is canceled by antaeus (`stripe_api`), and
marked first (`antaeus_canceled: requires_action`), because nothing else on a
canceled PaymentIntent says why: it keeps no status history, `last_payment_error` is
empty while it requires action (and Stripe clears it on any update), and
`cancellation_reason` is one any Dashboard user may give (localstripe refuses the
parameter). A canceled PaymentIntent with the mark reads as requiring action: a
look-up after a crash between the cancel and our commit finds what the charge
found, that the customer must act.
"""

from __future__ import annotations

from typing import Any

from antaeus_cli.domain.money import Currency, Money
from antaeus_cli.domain.outcomes import Answer, AnswerKind

METADATA_KEY = "antaeus_key"
METADATA_INVOICE = "antaeus_invoice_id"
METADATA_CANCELED = "antaeus_canceled"  # why antaeus canceled it: set just before the cancel
CANCELED_FOR_ACTION = "requires_action"

_PI_KINDS = {
    "succeeded": AnswerKind.CHARGED,
    "processing": AnswerKind.PROCESSING,
    "requires_action": AnswerKind.REQUIRES_ACTION,
    # Not final: funds held, or a request still confirming it. Open: looked up again.
    "requires_capture": AnswerKind.PROCESSING,
    "requires_confirmation": AnswerKind.PROCESSING,
}


def stripe_currency(currency: Currency) -> str:
    """The code Stripe is sent: lower case. Our minor units are Stripe's
    (domain.currencies), so the amount goes as it is."""
    return currency.lower()


# Stripe's special cases (https://docs.stripe.com/currencies#special-cases): ISK is
# two-decimal in its API but takes whole krónur only; a three-decimal currency's last
# digit must be 0.
_STEPS = {"ISK": 100, "BHD": 10, "JOD": 10, "KWD": 10, "OMR": 10, "TND": 10}


def unchargeable(money: Money) -> str | None:
    """Why Stripe would refuse this amount, or None: checked before anything is sent."""
    step = _STEPS.get(money.currency, 1)
    if money.minor % step == 0:
        return None
    return (
        f"Stripe charges {money.currency} only in multiples of {step} minor units, and "
        f"{money} is not one: correct the invoice's amount"
    )


def refused_unsent(money: Money) -> Answer | None:
    """The answer a charge of `money` gets without a request, when Stripe would refuse
    the amount (`unchargeable`): the pass holds it for an operator, and so does a dry
    run through the same provider setting."""
    refused = unchargeable(money)
    if refused is None:
        return None
    return Answer(AnswerKind.REFUSED, code="amount_not_chargeable", message=refused)


def answer_of_intent(intent: dict[str, Any]) -> Answer:
    """What a PaymentIntent says, as an answer."""
    status = intent.get("status")
    reference = intent.get("id")
    kind = _PI_KINDS.get(str(status))
    if kind is not None:
        return Answer(kind, reference=reference)
    if status == "canceled" and metadata_of(intent).get(METADATA_CANCELED) == CANCELED_FOR_ACTION:
        return Answer(AnswerKind.REQUIRES_ACTION, reference=reference)  # as when it was sent
    error = intent.get("last_payment_error") or {}
    if status == "requires_payment_method":
        if not error:  # created, not yet confirmed: a request may still be running
            return Answer(AnswerKind.PROCESSING, reference=reference)
        return Answer(
            AnswerKind.DECLINED,
            reference=reference,
            code=error.get("decline_code") or error.get("code"),
            advice_code=error.get("advice_code"),
            message=error.get("message"),
        )
    return Answer(
        AnswerKind.REFUSED,
        reference=reference,
        code=f"status_{status}",
        message=f"PaymentIntent {reference} is {status}, which an off-session charge never is",
    )


def metadata_of(intent: dict[str, Any]) -> dict[str, Any]:
    """A PaymentIntent's metadata; empty if it has none, or none that is an object."""
    found = intent.get("metadata")
    return found if isinstance(found, dict) else {}


def default_payment_method(customer: dict[str, Any]) -> str | None:
    """The payment method an off-session charge uses: the invoice settings' default,
    else the default source. Stripe does not fill it in for a PaymentIntent."""
    settings = customer.get("invoice_settings") or {}
    for given in (settings.get("default_payment_method"), customer.get("default_source")):
        method = given.get("id") if isinstance(given, dict) else given
        if isinstance(method, str) and method:
            return method
    return None
