from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antaeus_cli.domain.dunning import DunningSchedule
from antaeus_cli.domain.invoice import AttemptOutcome, DunningState, FailureCode, InvoiceStatus
from antaeus_cli.domain.settlement import settle

DAY = date(2026, 12, 1)


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


@pytest.mark.parametrize("outcome", [AttemptOutcome.UNKNOWN, AttemptOutcome.STARTED])
def test_an_unknown_outcome_settles_nothing(outcome: AttemptOutcome) -> None:
    assert settle(outcome, None, DunningState(), as_of=DAY, schedule=DunningSchedule()) is None


def test_abandoned_is_not_a_provider_answer() -> None:
    with pytest.raises(ValueError, match="does not settle"):
        settle(
            AttemptOutcome.ABANDONED, None, DunningState(), as_of=DAY, schedule=DunningSchedule()
        )


@given(st.lists(st.sampled_from(list(AttemptOutcome)[:7]), max_size=20))
def test_declines_only_ever_grow_and_a_final_status_has_a_reason(
    outcomes: list[AttemptOutcome],
) -> None:
    state = DunningState()
    schedule = DunningSchedule()
    for outcome in outcomes:
        t = settle(outcome, "x", state, as_of=DAY, schedule=schedule)
        if t is None:
            continue
        assert t.dunning.declines >= state.declines
        assert (t.status is InvoiceStatus.FAILED) == (t.next_retry_on is not None)
        assert (t.failure is None) == (t.status is InvoiceStatus.PAID)
        state = t.dunning
