from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antaeus_cli.domain.attempt import RESTORE, CallResult, Transition
from antaeus_cli.domain.dunning import DunningSchedule
from antaeus_cli.domain.invoice import (
    AttemptOutcome,
    DunningState,
    FailureCode,
    InvoiceStatus,
    Rejection,
)
from antaeus_cli.domain.outcomes import (
    DECLINE_CLASSES,
    MAX_PROVIDER_TEXT,
    Answer,
    AnswerKind,
    DeclineClass,
    decline_class,
    result_of,
)
from antaeus_cli.domain.outcomes import settle as settle_result

DAY = date(2026, 12, 1)


def settle(
    outcome: AttemptOutcome,
    detail: str | None,
    state: DunningState,
    *,
    as_of: date,
    schedule: DunningSchedule,
    decline_class: str | None = None,
) -> Transition | None:
    result = CallResult(outcome, detail, 1, None, None, decline_class)
    return settle_result(result, state, as_of, schedule)


def test_charged_is_paid() -> None:
    t = settle(AttemptOutcome.CHARGED, None, DunningState(), as_of=DAY, schedule=DunningSchedule())
    assert t is not None
    assert t.status is InvoiceStatus.PAID
    assert t.failure is None


def test_a_first_decline_schedules_a_retry() -> None:
    t = settle(AttemptOutcome.DECLINED, "no", DunningState(), as_of=DAY, schedule=DunningSchedule())
    assert t is not None
    assert t.status is InvoiceStatus.FAILED
    assert t.next_retry_on == date(2026, 12, 2)
    assert t.dunning == DunningState(1, DAY)
    assert t.failure is not None
    assert t.failure.code is FailureCode.DECLINED


def test_the_decline_after_the_last_retry_is_uncollectible() -> None:
    state = DunningState(3, date(2026, 11, 24))
    t = settle(AttemptOutcome.DECLINED, "no", state, as_of=DAY, schedule=DunningSchedule())
    assert t is not None
    assert t.status is InvoiceStatus.UNCOLLECTIBLE
    assert t.next_retry_on is None
    assert t.failure is not None
    assert t.failure.code is FailureCode.DUNNING_EXHAUSTED


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (AttemptOutcome.CUSTOMER_NOT_FOUND, FailureCode.CUSTOMER_NOT_FOUND),
        (AttemptOutcome.CURRENCY_MISMATCH, FailureCode.CURRENCY_MISMATCH),
        (AttemptOutcome.PROVIDER_ERROR, FailureCode.PROVIDER_ERROR),
    ],
)
def test_errors_that_need_a_human_are_never_retried(
    outcome: AttemptOutcome, code: FailureCode
) -> None:
    t = settle(outcome, "why", DunningState(), as_of=DAY, schedule=DunningSchedule())
    assert t is not None
    assert t.status is InvoiceStatus.NEEDS_OPERATOR
    assert t.next_retry_on is None
    assert t.failure is not None
    assert t.failure.code is code


@pytest.mark.parametrize(
    "outcome", [AttemptOutcome.UNKNOWN, AttemptOutcome.STARTED, AttemptOutcome.PROCESSING]
)
def test_an_unknown_outcome_settles_nothing(outcome: AttemptOutcome) -> None:
    assert settle(outcome, None, DunningState(), as_of=DAY, schedule=DunningSchedule()) is None


def test_abandoned_is_not_a_provider_answer() -> None:
    with pytest.raises(ValueError, match="does not settle"):
        settle(
            AttemptOutcome.ABANDONED, None, DunningState(), as_of=DAY, schedule=DunningSchedule()
        )


SETTLING = [o for o in AttemptOutcome if o is not AttemptOutcome.ABANDONED]


@given(st.lists(st.sampled_from(SETTLING), max_size=20))
def test_declines_only_ever_grow_and_a_final_status_has_a_reason(
    outcomes: list[AttemptOutcome],
) -> None:
    state = DunningState()
    schedule = DunningSchedule()
    for outcome in outcomes:
        t = settle(outcome, "x", state, as_of=DAY, schedule=schedule)
        if t is None or t is RESTORE:
            continue
        assert t.dunning.declines >= state.declines
        assert (t.status is InvoiceStatus.FAILED) == (t.next_retry_on is not None)
        assert (t.failure is None) == (t.status is InvoiceStatus.PAID)
        state = t.dunning


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (AttemptOutcome.DECLINED_HARD, FailureCode.HARD_DECLINE),
        (AttemptOutcome.NEEDS_CUSTOMER, FailureCode.NEEDS_CUSTOMER),
    ],
)
def test_hard_declines_and_customer_actions_wait_for_the_customer(
    outcome: AttemptOutcome, code: FailureCode
) -> None:
    t = settle(outcome, "why", DunningState(), as_of=DAY, schedule=DunningSchedule())
    assert t is not None
    assert t.status is InvoiceStatus.AWAITING_CUSTOMER
    assert t.next_retry_on is None
    assert t.failure is not None
    assert t.failure.code is code
    assert t.dunning == DunningState(1, DAY)  # it was a decline, and counts as one


@pytest.mark.parametrize("outcome", [AttemptOutcome.NOT_PROCESSED, AttemptOutcome.LAPSED])
def test_no_money_moved_hands_the_invoice_back(outcome: AttemptOutcome) -> None:
    assert settle(outcome, "x", DunningState(), as_of=DAY, schedule=DunningSchedule()) is RESTORE


def test_an_unlisted_decline_code_is_retried_once_then_uncollectible() -> None:
    schedule = DunningSchedule()
    first = settle(
        AttemptOutcome.DECLINED,
        "x",
        DunningState(),
        as_of=DAY,
        schedule=schedule,
        decline_class=DeclineClass.SOFT_UNKNOWN,
    )
    assert first is not None
    assert first.status is InvoiceStatus.FAILED
    second = settle(
        AttemptOutcome.DECLINED,
        "x",
        first.dunning,
        as_of=DAY,
        schedule=schedule,
        decline_class=DeclineClass.SOFT_UNKNOWN,
    )
    assert second is not None
    assert second.status is InvoiceStatus.UNCOLLECTIBLE
    assert second.failure is not None
    assert "nobody listed" in second.failure.detail


# The decline table, row by row, written out independently of the code's table.
SOFT = [
    "insufficient_funds",
    "try_again_later",
    "processing_error",
    "generic_decline",
    "card_declined",
    "do_not_honor",
    "issuer_not_available",
    "reenter_transaction",
    "approve_with_id",
    "card_velocity_exceeded",
    "withdrawal_count_limit_exceeded",
    "no_action_taken",
]
HARD = [
    "lost_card",
    "stolen_card",
    "fraudulent",
    "pickup_card",
    "invalid_account",
    "do_not_try_again",
    "restricted_card",
    "merchant_blacklist",
    "security_violation",
    "service_not_allowed",
    "stop_payment_order",
    "revocation_of_all_authorizations",
    "revocation_of_authorization",
    "transaction_not_allowed",
    "not_permitted",
    "duplicate_transaction",
    "invalid_amount",
]
CUSTOMER = [
    "authentication_required",
    "payment_intent_authentication_failure",
    "expired_card",
    "incorrect_number",
    "incorrect_cvc",
    "incorrect_pin",
    "incorrect_zip",
    "incorrect_address",
    "invalid_cvc",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "invalid_number",
    "invalid_pin",
    "card_not_supported",
    "currency_not_supported",
    "call_issuer",
    "new_account_information_available",
    "offline_pin_required",
    "online_or_offline_pin_required",
    "pin_try_exceeded",
    "testmode_decline",
]
ROWS = (
    [(c, DeclineClass.SOFT) for c in SOFT]
    + [(c, DeclineClass.HARD) for c in HARD]
    + [(c, DeclineClass.CUSTOMER) for c in CUSTOMER]
)


@pytest.mark.parametrize(("code", "klass"), ROWS)
def test_each_decline_code_has_its_class(code: str, klass: DeclineClass) -> None:
    assert decline_class(code) is klass


def test_every_row_of_the_decline_table_is_tested() -> None:
    assert sorted(DECLINE_CLASSES) == sorted(code for code, _ in ROWS)


@pytest.mark.parametrize(
    ("code", "advice", "klass"),
    [
        ("insufficient_funds", "do_not_try_again", DeclineClass.HARD),
        ("generic_decline", "confirm_card_data", DeclineClass.CUSTOMER),
        ("lost_card", "try_again_later", DeclineClass.SOFT),
        ("no_such_code_anywhere", None, DeclineClass.SOFT_UNKNOWN),
        (None, None, DeclineClass.SOFT_UNKNOWN),
        ("insufficient_funds", "an_advice_nobody_listed", DeclineClass.SOFT),
    ],
)
def test_an_advice_code_outranks_the_decline_code(
    code: str | None, advice: str | None, klass: DeclineClass
) -> None:
    assert decline_class(code, advice) is klass


@pytest.mark.parametrize(
    ("answer", "outcome", "klass"),
    [
        (Answer(AnswerKind.CHARGED, "pi_1"), AttemptOutcome.CHARGED, None),
        (Answer(AnswerKind.DECLINED, code="insufficient_funds"), AttemptOutcome.DECLINED, "soft"),
        (Answer(AnswerKind.DECLINED, code="odd_code"), AttemptOutcome.DECLINED, "soft_unknown"),
        (Answer(AnswerKind.DECLINED, code="stolen_card"), AttemptOutcome.DECLINED_HARD, "hard"),
        (
            Answer(AnswerKind.DECLINED, code="expired_card"),
            AttemptOutcome.NEEDS_CUSTOMER,
            "needs_customer",
        ),
        (
            Answer(AnswerKind.REQUIRES_ACTION, "pi_2"),
            AttemptOutcome.NEEDS_CUSTOMER,
            "needs_customer",
        ),
        (Answer(AnswerKind.PROCESSING, "pi_3"), AttemptOutcome.PROCESSING, None),
        (Answer(AnswerKind.CUSTOMER_NOT_FOUND), AttemptOutcome.CUSTOMER_NOT_FOUND, None),
        (Answer(AnswerKind.CURRENCY_MISMATCH), AttemptOutcome.CURRENCY_MISMATCH, None),
        (Answer(AnswerKind.REFUSED), AttemptOutcome.PROVIDER_ERROR, None),
    ],
)
def test_each_kind_of_answer_has_its_outcome(
    answer: Answer, outcome: AttemptOutcome, klass: str | None
) -> None:
    result = result_of(answer, 2)
    assert result.outcome is outcome
    assert result.decline_class == klass
    assert result.reference == answer.reference
    assert result.calls == 2


def test_a_providers_text_is_made_storable_and_kept_short() -> None:
    odd = Answer(AnswerKind.DECLINED, code="card_declined", message="bad \ud800 text")
    result = result_of(odd, 1)
    assert result.detail == "soft decline (card_declined): bad \\ud800 text"
    result.detail.encode("utf-8")  # what the ledger's UTF-8 column takes
    huge = result_of(Answer(AnswerKind.REFUSED, message="x" * 5000, reference="pi_\udfff"), 2)
    assert huge.detail == f"{'x' * MAX_PROVIDER_TEXT}... (5000 chars)"
    assert huge.reference == "pi_\\udfff"
    plain = Answer(AnswerKind.CHARGED, reference="pi_" + "a" * (MAX_PROVIDER_TEXT - 3))
    assert result_of(plain, 1).reference == plain.reference


def test_a_charge_counts_every_request_it_took() -> None:
    from antaeus_cli.domain.outcomes import CHARGED

    assert result_of(CHARGED, 1) == CallResult(AttemptOutcome.CHARGED, None, 1)
    for calls in (2, 3):
        assert result_of(CHARGED, calls) == CallResult(AttemptOutcome.CHARGED, None, calls)


@pytest.mark.parametrize(
    ("answer", "detail", "code", "klass"),
    [
        (
            Answer(
                AnswerKind.DECLINED, "pi_1", "insufficient_funds", None, "Your card has no funds"
            ),
            "soft decline (insufficient_funds): Your card has no funds",
            "insufficient_funds",
            "soft",
        ),
        (
            Answer(AnswerKind.DECLINED, "pi_1", "insufficient_funds", "do_not_try_again"),
            "hard decline (insufficient_funds, advice do_not_try_again)",
            "insufficient_funds",
            "hard",
        ),
        (
            Answer(AnswerKind.DECLINED, code="generic_decline", advice_code="confirm_card_data"),
            "needs_customer decline (generic_decline, advice confirm_card_data)",
            "generic_decline",
            "needs_customer",
        ),
        (Answer(AnswerKind.DECLINED), "soft_unknown decline (no code)", None, "soft_unknown"),
        (
            Answer(AnswerKind.REQUIRES_ACTION, "pi_2"),
            "needs_customer decline (no code)",
            "requires_action",
            "needs_customer",
        ),
        (
            Answer(AnswerKind.REQUIRES_ACTION, "pi_2", "authentication_required", message="3DS"),
            "needs_customer decline (authentication_required): 3DS",
            "authentication_required",
            "needs_customer",
        ),
    ],
)
def test_a_decline_keeps_the_providers_code_and_says_why(
    answer: Answer, detail: str, code: str | None, klass: str
) -> None:
    assert result_of(answer, 1) == CallResult(
        DECLINE_OUTCOMES[klass], detail, 1, answer.reference, code, klass
    )


DECLINE_OUTCOMES = {
    "soft": AttemptOutcome.DECLINED,
    "soft_unknown": AttemptOutcome.DECLINED,
    "hard": AttemptOutcome.DECLINED_HARD,
    "needs_customer": AttemptOutcome.NEEDS_CUSTOMER,
}


@pytest.mark.parametrize(
    ("code", "message", "detail"),
    [
        ("resource_missing", "No such customer", "resource_missing: No such customer"),
        ("resource_missing", None, "resource_missing"),
        (
            "resource_missing",
            "resource_missing: no such customer",
            "resource_missing: no such customer",
        ),
        (None, "No such customer", "No such customer"),
        (None, None, None),
        ("X", None, "X"),  # however short
    ],
)
def test_a_refusal_names_its_code_once_beside_the_message(
    code: str | None, message: str | None, detail: str | None
) -> None:
    answer = Answer(AnswerKind.CUSTOMER_NOT_FOUND, code=code, message=message)
    assert result_of(answer, 1) == CallResult(AttemptOutcome.CUSTOMER_NOT_FOUND, detail, 1)


def test_every_text_of_an_answer_is_kept_short_codes_included() -> None:
    long = "c" * 2000
    declined = result_of(Answer(AnswerKind.DECLINED, code=long, advice_code=long), 1)
    kept = f"{'c' * MAX_PROVIDER_TEXT}... (2000 chars)"
    assert declined.decline_code == kept
    assert declined.detail == f"soft_unknown decline ({kept}, advice {kept})"
    refused = result_of(Answer(AnswerKind.REFUSED, code="\udc80"), 1)
    assert refused.detail == "\\udc80"


def test_a_text_of_exactly_the_limit_is_kept_whole_whatever_its_characters() -> None:
    text = "\u00e9" * MAX_PROVIDER_TEXT
    assert result_of(Answer(AnswerKind.REFUSED, message=text), 1).detail == text
    longer = "\u00e9" * (MAX_PROVIDER_TEXT + 1)
    assert result_of(Answer(AnswerKind.REFUSED, message=longer), 1).detail == (
        f"{text}... ({MAX_PROVIDER_TEXT + 1} chars)"
    )


SCHEDULE = DunningSchedule()


def test_a_decline_without_a_reason_still_says_it_was_declined() -> None:
    t = settle(AttemptOutcome.DECLINED, None, DunningState(), as_of=DAY, schedule=SCHEDULE)
    assert t == Transition(
        InvoiceStatus.FAILED,
        Rejection(FailureCode.DECLINED, "declined; decline 1"),
        date(2026, 12, 2),
        DunningState(1, DAY),
    )
    second = settle(
        AttemptOutcome.DECLINED,
        "soft decline (do_not_honor)",
        t.dunning,
        as_of=DAY,
        schedule=SCHEDULE,
    )
    assert second is not None
    assert second.failure == Rejection(
        FailureCode.DECLINED, "soft decline (do_not_honor); decline 2"
    )


def test_a_listed_soft_code_is_retried_to_the_end_of_the_schedule() -> None:
    state = DunningState()
    for declines in (1, 2, 3):
        t = settle(
            AttemptOutcome.DECLINED, "x", state, as_of=DAY, schedule=SCHEDULE, decline_class="soft"
        )
        assert t is not None
        assert t.status is InvoiceStatus.FAILED, declines
        state = t.dunning
    last = settle(
        AttemptOutcome.DECLINED, "x", state, as_of=DAY, schedule=SCHEDULE, decline_class="soft"
    )
    assert last == Transition(
        InvoiceStatus.UNCOLLECTIBLE,
        Rejection(
            FailureCode.DUNNING_EXHAUSTED, "declined 4 times; the dunning schedule (1,3,7) is spent"
        ),
        None,
        DunningState(4, DAY),
    )


def test_a_decline_with_no_retries_says_it_declined_once() -> None:
    """An empty schedule makes the first decline final: "1 time", never "1 times"."""
    t = settle(
        AttemptOutcome.DECLINED,
        "x",
        DunningState(0, None),
        as_of=DAY,
        schedule=DunningSchedule.parse(""),
        decline_class="soft",
    )
    assert t is not None
    assert t.status is InvoiceStatus.UNCOLLECTIBLE
    assert t.failure is not None
    assert t.failure.detail.startswith("declined 1 time; the dunning schedule ")


def test_an_unlisted_code_says_it_was_retried_once_only() -> None:
    state = DunningState(1, DAY)
    t = settle(
        AttemptOutcome.DECLINED,
        "x",
        state,
        as_of=DAY,
        schedule=SCHEDULE,
        decline_class="soft_unknown",
    )
    assert t is not None
    assert t.failure == Rejection(
        FailureCode.DUNNING_EXHAUSTED,
        "declined 2 times; a decline code nobody listed is retried only 1 time",
    )


@pytest.mark.parametrize(
    ("outcome", "status", "code", "counted"),
    [
        (
            AttemptOutcome.CUSTOMER_NOT_FOUND,
            InvoiceStatus.NEEDS_OPERATOR,
            FailureCode.CUSTOMER_NOT_FOUND,
            False,
        ),
        (
            AttemptOutcome.PROVIDER_ERROR,
            InvoiceStatus.NEEDS_OPERATOR,
            FailureCode.PROVIDER_ERROR,
            False,
        ),
        (
            AttemptOutcome.DECLINED_HARD,
            InvoiceStatus.AWAITING_CUSTOMER,
            FailureCode.HARD_DECLINE,
            True,
        ),
    ],
)
def test_a_parked_invoice_keeps_the_reason_or_names_the_outcome(
    outcome: AttemptOutcome, status: InvoiceStatus, code: FailureCode, counted: bool
) -> None:
    state = DunningState(2, date(2026, 11, 20))
    after = DunningState(3, date(2026, 11, 20)) if counted else state
    with_reason = settle(outcome, "why", state, as_of=DAY, schedule=SCHEDULE)
    assert with_reason == Transition(status, Rejection(code, "why"), None, after)
    without = settle(outcome, None, state, as_of=DAY, schedule=SCHEDULE)
    assert without == Transition(status, Rejection(code, outcome.value), None, after)


def test_a_charge_after_declines_keeps_the_dunning_it_went_through() -> None:
    state = DunningState(2, date(2026, 11, 20))
    t = settle(AttemptOutcome.CHARGED, None, state, as_of=DAY, schedule=SCHEDULE)
    assert t == Transition(InvoiceStatus.PAID, dunning=state)
    first = settle(AttemptOutcome.CHARGED, None, DunningState(), as_of=DAY, schedule=SCHEDULE)
    assert first == Transition(InvoiceStatus.PAID)
