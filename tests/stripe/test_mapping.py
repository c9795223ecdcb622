"""What the Stripe adapter reads out of Stripe's objects: facts, not judgements."""

from __future__ import annotations

import pytest

from antaeus_cli.domain.currencies import ZERO_DECIMAL
from antaeus_cli.domain.money import CURRENCIES, Currency, Money
from antaeus_cli.domain.outcomes import AnswerKind
from antaeus_cli.provider.stripe_objects import answer_of_intent, stripe_currency, unchargeable


@pytest.mark.parametrize(
    ("code", "digits", "amount"),
    [
        ("EUR", 2, 1234),  # most: two-decimal, as at Stripe
        ("JPY", 0, 500),  # Stripe's zero-decimal list: 500 is 500 yen
        ("HUF", 2, 1050),  # CLDR writes no fillér, but Stripe counts them
        ("IDR", 2, 1050),
        ("BHD", 3, 1230),  # three-decimal: 1.230 dinar
        ("ISK", 2, 4000),  # two-decimal at Stripe, whole krónur only
    ],
)
def test_an_amount_goes_to_stripe_in_the_ledger_s_minor_units_and_lower_case(
    code: str, digits: int, amount: int
) -> None:
    currency = Currency(code)
    assert currency.minor_digits == digits
    assert stripe_currency(currency) == code.lower()
    assert unchargeable(Money(amount, currency)) is None


@pytest.mark.parametrize(
    ("code", "amount", "step"), [("ISK", 4010, 100), ("KWD", 5124, 10), ("TND", 1, 10)]
)
def test_an_amount_stripe_would_refuse_is_named_before_anything_is_sent(
    code: str, amount: int, step: int
) -> None:
    refused = unchargeable(Money(amount, Currency(code)))
    assert refused is not None
    assert f"multiples of {step} minor units" in refused


def test_every_zero_decimal_currency_at_stripe_has_no_minor_unit_here() -> None:
    assert {c for c in CURRENCIES if c.minor_digits == 0} == ZERO_DECIMAL


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
