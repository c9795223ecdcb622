"""One charge under one idempotency key: the provider call, its in-pass network
retries, and the classification of the answer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential_jitter,
)

from antaeus_cli.billing.pacing import NotSent
from antaeus_cli.domain.attempt import (
    CHARGED_ONCE,
    DECLINED_DETAIL,
    DECLINED_ONCE,
    Attempt,
    CallResult,
)
from antaeus_cli.domain.invoice import AttemptOutcome
from antaeus_cli.provider.port import (
    CurrencyMismatch,
    CustomerNotFound,
    NetworkError,
    PaymentProvider,
    ProviderError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """In-pass retries of a lost request, always under the same idempotency key.

    Bounded twice: by calls per key and by seconds per key. Waits grow
    exponentially with jitter, so many invoices failing together do not retry in
    lock-step. Only NetworkError is retried; every other answer is final.
    """

    max_calls: int = 4
    max_seconds: float = 10.0
    first_wait: float = 0.2  # then 0.4, 0.8, ... up to max_wait
    max_wait: float = 2.0
    jitter: float = 0.2  # up to this much extra, at random, on every wait
    # None waits on the pass's stop event, so SIGTERM cuts a wait short. Tests
    # pass a recorder here and never sleep.
    sleep: Callable[[float], None] | None = None


def call_provider(
    provider: PaymentProvider, attempt: Attempt, policy: RetryPolicy, stop: threading.Event
) -> CallResult | None:
    """Charge once; on a lost request or response, retry the same key with backoff.

    The first call goes straight to the provider: tenacity is only set up once a
    call has failed, so the success path pays nothing for it. None means the
    request was never sent (the pass stopped while it waited for a rate slot).
    """
    try:
        # The common case, one call, shares one immutable result per answer.
        return CHARGED_ONCE if provider.charge(attempt.invoice, attempt.key) else DECLINED_ONCE
    except NetworkError as first_error:
        return _retry(provider, attempt, policy, stop, first_error)
    except ProviderError as error:
        return _refused(error, 1)
    except NotSent:
        return None


def _retry(
    provider: PaymentProvider,
    attempt: Attempt,
    policy: RetryPolicy,
    stop: threading.Event,
    first_error: NetworkError,
) -> CallResult:
    calls = 1
    replay_first: list[NetworkError] = [first_error]

    def once() -> bool:
        nonlocal calls
        if replay_first:
            # Hand tenacity the failure the first call already had, so it counts it
            # and waits before calling again.
            raise replay_first.pop()
        calls += 1
        return provider.charge(attempt.invoice, attempt.key)

    retrying = Retrying(
        retry=retry_if_exception_type(NetworkError),
        stop=(
            stop_after_attempt(policy.max_calls)
            | stop_after_delay(policy.max_seconds)
            | stop_when_event_set(stop)
        ),
        wait=wait_exponential_jitter(
            multiplier=policy.first_wait, max=policy.max_wait, jitter=policy.jitter
        ),
        sleep=policy.sleep or _waiter(stop),
        reraise=True,
    )
    try:
        return _classify(retrying(once), calls)
    except NotSent:  # an earlier request may have arrived: only a replay can tell
        return CallResult(AttemptOutcome.UNKNOWN, "network: stopped before retrying", calls)
    except NetworkError as error:
        return CallResult(AttemptOutcome.UNKNOWN, f"network: {error}", calls)
    except ProviderError as error:
        return _refused(error, calls)


def _classify(charged: bool, calls: int) -> CallResult:
    """The answer after retries; a first-call answer is one of the shared results."""
    if charged:
        return CallResult(AttemptOutcome.CHARGED, None, calls)
    return CallResult(AttemptOutcome.DECLINED, DECLINED_DETAIL, calls)


def _refused(error: ProviderError, calls: int) -> CallResult:
    if isinstance(error, CustomerNotFound):
        return CallResult(AttemptOutcome.CUSTOMER_NOT_FOUND, str(error), calls)
    if isinstance(error, CurrencyMismatch):
        return CallResult(AttemptOutcome.CURRENCY_MISMATCH, str(error), calls)
    return CallResult(AttemptOutcome.PROVIDER_ERROR, f"{type(error).__name__}: {error}", calls)


def _waiter(stop: threading.Event) -> Callable[[float], None]:
    """Sleep that wakes as soon as the pass is asked to stop."""

    def wait(seconds: float) -> None:
        stop.wait(seconds)

    return wait
