"""The call wrapper: in-pass retries of lost requests, always under one key."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from antaeus_cli.billing.calls import RetryPolicy, call_provider
from antaeus_cli.domain.attempt import Attempt, CallResult
from antaeus_cli.domain.invoice import AttemptOutcome, DunningState, Invoice, InvoiceStatus
from antaeus_cli.domain.money import Currency, Money
from tests.conftest import Sleeps
from tests.fakes import (
    DECLINED,
    LOST_REQUEST,
    LOST_RESPONSE,
    MISMATCH,
    NOT_FOUND,
    REFUSED,
    FakeProvider,
)

ATTEMPT = Attempt(
    Invoice(5, 5, Money(1000, Currency.EUR)), 1, "ns-inv-5-1", DunningState(), InvoiceStatus.PENDING
)


def call(
    provider: FakeProvider, sleeps: Sleeps, stop: threading.Event | None = None, **policy: Any
) -> CallResult:
    return call_provider(
        provider, ATTEMPT, RetryPolicy(sleep=sleeps, **policy), stop or threading.Event()
    )


def test_success_needs_one_call_and_no_wait(sleeps: Sleeps) -> None:
    result = call(FakeProvider(), sleeps)
    assert result.outcome is AttemptOutcome.CHARGED
    assert result.calls == 1
    assert sleeps.waits == []


def test_lost_requests_are_retried_with_the_same_key_and_backoff(sleeps: Sleeps) -> None:
    provider = FakeProvider(script={5: [LOST_REQUEST, LOST_RESPONSE, "charged"]})
    result = call(provider, sleeps, jitter=0.0)
    assert result.outcome is AttemptOutcome.CHARGED
    assert result.calls == 3
    assert {key for _, key in provider.calls} == {"ns-inv-5-1"}
    assert provider.charged_keys == ["ns-inv-5-1"]
    assert sleeps.waits == pytest.approx([0.2, 0.4])  # exponential from the first wait


def test_waits_carry_jitter_within_its_bound(sleeps: Sleeps) -> None:
    for _ in range(20):
        call(FakeProvider(script={5: [LOST_REQUEST, "charged"]}), sleeps, jitter=0.2)
    assert all(0.2 <= wait <= 0.4 for wait in sleeps.waits)
    assert len(set(sleeps.waits)) > 1  # spread out, not in lock-step


def test_retries_are_bounded_by_calls_and_end_unknown(sleeps: Sleeps) -> None:
    provider = FakeProvider(script={5: [LOST_REQUEST]})
    result = call(provider, sleeps, max_calls=4)
    assert result.outcome is AttemptOutcome.UNKNOWN
    assert result.calls == 4
    assert len(provider.calls) == 4
    assert "network" in (result.detail or "")


def test_waits_are_bounded(sleeps: Sleeps) -> None:
    call(FakeProvider(script={5: [LOST_REQUEST]}), sleeps, max_calls=12, max_wait=1.5, jitter=0.1)
    assert max(sleeps.waits) <= 1.5


def test_a_stop_request_ends_retrying_at_once(sleeps: Sleeps) -> None:
    stop = threading.Event()
    stop.set()
    provider = FakeProvider(script={5: [LOST_REQUEST]})
    result = call(provider, sleeps, stop=stop)
    assert result.outcome is AttemptOutcome.UNKNOWN
    assert len(provider.calls) == 1


@pytest.mark.parametrize(
    ("step", "outcome"),
    [
        (DECLINED, AttemptOutcome.DECLINED),
        (NOT_FOUND, AttemptOutcome.CUSTOMER_NOT_FOUND),
        (MISMATCH, AttemptOutcome.CURRENCY_MISMATCH),
        (REFUSED, AttemptOutcome.PROVIDER_ERROR),
    ],
)
def test_definitive_answers_are_never_retried(
    sleeps: Sleeps, step: str, outcome: AttemptOutcome
) -> None:
    provider = FakeProvider(script={5: [step]})
    result = call(provider, sleeps)
    assert result.outcome is outcome
    assert len(provider.calls) == 1
    assert sleeps.waits == []


def test_an_answer_after_a_lost_request_is_still_classified(sleeps: Sleeps) -> None:
    result = call(FakeProvider(script={5: [LOST_REQUEST, NOT_FOUND]}), sleeps)
    assert result.outcome is AttemptOutcome.CUSTOMER_NOT_FOUND
    assert result.calls == 2
