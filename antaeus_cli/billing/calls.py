"""One charge under one idempotency key: the provider call, its in-pass retries, and
the look-up that comes before any request that repeats a key.

The rule: a key whose earlier request may have reached the provider (a lost
response, a timeout, a 5xx, a crash before the answer was committed) is looked up
first. Found: that is the answer. Not found and inside the provider's key
retention: it is re-sent under the same key. Not found and past it: no money moved,
and the attempt lapses so that a new key charges the invoice. A provider that
cannot look up leaves the attempt open, with the reason: never a blind re-send.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from antaeus_cli.domain import waits
from antaeus_cli.domain.attempt import CHARGED_ONCE, Attempt, CallResult, KeepOpen
from antaeus_cli.domain.invoice import AttemptOutcome
from antaeus_cli.domain.outcomes import CHARGED, Answer, result_of
from antaeus_cli.provider.port import (
    CredentialsRejected,
    Interrupted,
    LookupUnavailable,
    NetworkError,
    NotSent,
    PaymentProvider,
    RateLimited,
)

Clock = Callable[[], datetime]
# A key is re-sent only while it is this far inside the provider's retention window,
# so that a slow pass cannot carry a re-send past it.
_T = TypeVar("_T")
MAX_KEY_MARGIN = timedelta(hours=1)
NO_LOOKUP = "cannot look the charge up"
KEPT_OPEN = "not sent again in this pass"
STOPPED = "stopped"


def lost_to_the_network(result: CallResult) -> bool:
    """The answer was lost (network, timeout, 5xx): what an outage is made of. An
    attempt left open because the provider cannot look charges up, because a run cap
    kept its key from being sent again, or because the pass stopped (before a retry, or
    with its request in flight), was not lost to the network."""
    # pragma: no mutate start - an unknown outcome always carries its reason
    return result.outcome is AttemptOutcome.UNKNOWN and not (result.detail or "").startswith(
        (NO_LOOKUP, KEPT_OPEN, STOPPED)
    )
    # pragma: no mutate end


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """In-pass retries of a lost or rate-limited request, always under the same key.

    Bounded three times: by tries per key, by seconds per key, and by the pass's bound
    on waits (`waits.MAX_WAIT_S`), which no wait of a key passes, nor all its waits
    added up. Waits grow exponentially with jitter, so many invoices failing together
    do not retry in lock-step; a 429's Retry-After is honoured up to that bound, and a
    key refused again once it has waited the bound ends `not_processed`. Only
    NetworkError and RateLimited are retried; every other answer is final.
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
    provider: PaymentProvider,
    attempt: Attempt,
    policy: RetryPolicy,
    stop: threading.Event,
    clock: Clock,
) -> CallResult | None:
    """Charge once (or, for a replay, look up first); retry what is transient.

    The first call goes straight to the provider: tenacity is only set up once a
    call has failed, so the success path pays nothing for it. None means the
    request under the key was never sent (the pass stopped while it waited for a rate
    slot, or between the requests of the charge): nothing moved.
    """
    if attempt.replay:
        return _KeyCall(provider, attempt, policy, stop, clock, maybe_sent=True).run(None)
    try:
        answer = provider.charge(attempt.invoice, attempt.key)
    except (NetworkError, RateLimited) as first_error:
        # pragma: no mutate start - maybe_sent is only tested for truth: None is as false
        call = _KeyCall(provider, attempt, policy, stop, clock, maybe_sent=False)
        # pragma: no mutate end
        call.calls = 1
        return call.run(first_error)
    except NotSent:
        return None
    except CredentialsRejected as refused:
        # Refused before it was processed, as a 429 is: nothing under the key moved.
        return CallResult(AttemptOutcome.NOT_PROCESSED, _refusal(refused), 1)
    # The common case, one call, shares one immutable result.
    # result_of gives the shared CHARGED_ONCE too: this only saves the call
    return CHARGED_ONCE if answer is CHARGED else result_of(answer, 1)  # pragma: no mutate


class _Lapsed(Exception):
    """Not found at the provider, and the key is past its retention: no money moved."""


class _KeptOpen(Exception):
    """Not found at the provider, and not sent again in this pass: it stays open."""


class _KeyCall:
    """The retries and look-ups for one key, after its first call failed (or, for a
    replay, before any is sent)."""

    def __init__(
        self,
        provider: PaymentProvider,
        attempt: Attempt,
        policy: RetryPolicy,
        stop: threading.Event,
        clock: Clock,
        *,
        maybe_sent: bool,
    ) -> None:
        self._provider = provider
        self._attempt = attempt
        self._policy = policy
        self._stop = stop
        self._clock = clock
        # When the key's first request went, for look-ups: claimed at, or about now.
        self._since = attempt.started_at or clock()
        self.calls = 0
        self.maybe_sent = maybe_sent  # an earlier request under the key may have arrived
        self.sent_any = maybe_sent  # any request under the key left this process

    def run(self, first_error: Exception | None) -> CallResult:  # noqa: PLR0911 - one per ending
        policy = self._policy
        pending: list[Exception] = [] if first_error is None else [first_error]
        if isinstance(first_error, NetworkError):
            self.maybe_sent = self.sent_any = True

        def once() -> Answer:
            if pending:
                # Hand tenacity the failure the first call already had, so it counts
                # it and waits before calling again.
                raise pending.pop()
            return self._try()

        retrying = Retrying(
            retry=retry_if_exception_type((NetworkError, RateLimited)),
            stop=(
                stop_after_attempt(policy.max_calls)
                | stop_after_delay(policy.max_seconds)
                | stop_when_event_set(self._stop)
                | _WaitedTheBound()
            ),
            wait=_wait(policy),
            sleep=policy.sleep or _waiter(self._stop),
            reraise=True,
        )
        try:
            return result_of(retrying(once), self.calls)
        except _Lapsed as lapsed:
            return CallResult(AttemptOutcome.LAPSED, str(lapsed), self.calls)
        except _KeptOpen as kept:
            return self._open(str(kept))
        except LookupUnavailable as error:
            return self._open(f"{NO_LOOKUP}, so it is not re-sent: {error}")
        except NotSent:
            return self._open(f"{STOPPED} before retrying")
        except CredentialsRejected as refused:
            # This request moved nothing; one before it under the key may have.
            return self._open(_refusal(refused))
        except Interrupted as error:
            return self._open(f"{STOPPED} with the request in flight: {error}")
        except NetworkError as error:
            return self._open(f"network: {error}")
        except RateLimited as error:
            if self.maybe_sent:  # an earlier request may still have arrived
                return self._open(f"rate limited after a lost request: {error}")
            return self._not_processed(f"rate limited on every try: {error}")

    def _not_processed(self, why: str) -> CallResult:
        return CallResult(AttemptOutcome.NOT_PROCESSED, why, self.calls)

    def _open(self, why: str) -> CallResult:
        if not self.sent_any:
            # Nothing under this key ever left: it is safe to hand the invoice back. (A
            # replay starts as maybe sent, so it never ends here.)
            return CallResult(AttemptOutcome.NOT_PROCESSED, why, self.calls)
        return CallResult(AttemptOutcome.UNKNOWN, why, self.calls, self._attempt.reference)

    def _try(self) -> Answer:
        attempt, provider = self._attempt, self._provider
        if self.maybe_sent:
            found = self._counted(
                lambda: provider.lookup(
                    attempt.invoice, attempt.key, since=self._since, reference=attempt.reference
                )
            )
            if found is not None:
                return found
            if attempt.reference is not None:
                raise LookupUnavailable(
                    f"the provider no longer knows the charge {attempt.reference}"
                )
            if isinstance(attempt.no_resend, KeepOpen):
                raise _KeptOpen(
                    f"{KEPT_OPEN}: no charge under {attempt.key} at the provider, and "
                    f"{attempt.no_resend}"
                )
            if attempt.no_resend is not None:
                raise _Lapsed(
                    f"no charge under {attempt.key} at the provider, and it is not sent "
                    f"again: {attempt.no_resend}; no money moved"
                )
            self._check_window()
        try:
            answer = self._counted(lambda: provider.charge(attempt.invoice, attempt.key))
        except NetworkError:
            self.maybe_sent = self.sent_any = True
            raise
        except RateLimited:
            raise  # refused before processing: this request moved nothing
        return answer

    def _counted(self, request: Callable[[], _T]) -> _T:
        """Make a request, counting it unless it was never sent (the pass stopped while
        it waited for a rate slot)."""
        self.calls += 1
        try:
            return request()
        except NotSent:
            self.calls -= 1
            raise

    def _check_window(self) -> None:
        retention = self._provider.key_retention
        started = self._attempt.started_at
        if retention is None or started is None:
            return
        margin = min(MAX_KEY_MARGIN, retention / 10)
        age = self._clock() - started
        if age >= retention - margin:
            raise _Lapsed(
                f"no charge under {self._attempt.key} at the provider, and the key is "
                f"{_hours(age)} old, past the {_hours(retention - margin)} it may safely be "
                "re-sent within; no money moved, so a new key charges the invoice"
            )


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f} h"


def _refusal(refused: CredentialsRejected) -> str:
    return f"the provider refused the credentials: {refused.refusal}"


class _WaitedTheBound(stop_base):
    """A key whose waits add up to the bound is not retried again: a provider that
    still refuses it after that is answered `not_processed` (or, if an earlier request
    may have arrived, left open), never waited for longer."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for >= waits.MAX_WAIT_S


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(
        multiplier=policy.first_wait, max=policy.max_wait, jitter=policy.jitter
    )

    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        # pragma: no mutate start - tenacity always gives a wait the outcome it follows
        error = None if outcome is None else outcome.exception()
        # pragma: no mutate end
        if isinstance(error, RateLimited):
            # The provider said when, or else the pacer spaces the retry: no growth.
            wanted = policy.first_wait if error.retry_after is None else error.retry_after
        else:
            wanted = float(backoff(state))
        # What is left of the key's share of the bound: all its waits add up to it.
        return min(waits.bounded(wanted), max(0.0, waits.MAX_WAIT_S - state.idle_for))

    return wait


def _waiter(stop: threading.Event) -> Callable[[float], None]:
    """Sleep that wakes as soon as the pass is asked to stop."""

    def wait(seconds: float) -> None:
        stop.wait(seconds)

    return wait
