"""What the Stripe adapter reads out of Stripe's objects: facts, not judgements."""

from __future__ import annotations

import pytest

from antaeus_cli.domain.money import Currency
from antaeus_cli.domain.outcomes import AnswerKind
from antaeus_cli.provider.stripe_objects import ZERO_DECIMAL, answer_of_intent, stripe_currency


@pytest.mark.parametrize("currency", list(Currency))
def test_every_currency_we_bill_is_two_decimal_at_stripe_and_sent_in_lower_case(
    currency: Currency,
) -> None:
    assert currency.value.lower() not in ZERO_DECIMAL
    assert currency.minor_digits == 2
    assert stripe_currency(currency) == currency.value.lower()


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("succeeded", AnswerKind.CHARGED),
        ("processing", AnswerKind.PROCESSING),
        ("requires_action", AnswerKind.REQUIRES_ACTION),
        ("requires_capture", AnswerKind.PROCESSING),  # funds held: not final
        ("requires_confirmation", AnswerKind.PROCESSING),  # a request may still run
        ("requires_payment_method", AnswerKind.PROCESSING),  # no error yet: the same
        ("canceled", AnswerKind.REFUSED),
    ],
)
def test_a_payment_intent_status_is_an_answer(status: str, kind: AnswerKind) -> None:
    answer = answer_of_intent({"id": "pi_1", "status": status})
    assert answer.kind is kind
    assert answer.reference == "pi_1"


def test_a_declined_payment_intent_carries_its_codes() -> None:
    answer = answer_of_intent(
        {
            "id": "pi_2",
            "status": "requires_payment_method",
            "last_payment_error": {
                "code": "card_declined",
                "decline_code": "stolen_card",
                "advice_code": "do_not_try_again",
                "message": "Your card was declined.",
            },
        }
    )
    assert answer.kind is AnswerKind.DECLINED
    assert (answer.code, answer.advice_code) == ("stolen_card", "do_not_try_again")


@pytest.mark.parametrize(
    ("metadata", "kind"),
    [
        ({"antaeus_key": "k", "antaeus_canceled": "requires_action"}, AnswerKind.REQUIRES_ACTION),
        ({"antaeus_key": "k"}, AnswerKind.REFUSED),  # canceled by somebody else
        ({"antaeus_key": "k", "antaeus_canceled": "something else"}, AnswerKind.REFUSED),
        (None, AnswerKind.REFUSED),
        ("not an object", AnswerKind.REFUSED),
    ],
)
def test_a_payment_intent_antaeus_canceled_because_it_required_action_still_says_so(
    metadata: object, kind: AnswerKind
) -> None:
    """Canceled, the PaymentIntent no longer says it required action: our mark does."""
    answer = answer_of_intent(
        {"id": "pi_3", "status": "canceled", "metadata": metadata, "last_payment_error": None}
    )
    assert answer.kind is kind
    assert answer.reference == "pi_3"
