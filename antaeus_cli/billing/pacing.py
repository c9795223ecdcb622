"""Pacing provider requests to a provider's rate limit.

`--max-rate`: a generic cell rate algorithm (the scheduling form of a token bucket):
every request books the next slot, `1/rate` seconds after the previous one, and may
go up to `burst - 1` slots early. So over any span of T seconds at most
`burst + rate * T` requests are sent, and a long pass runs at `rate` exactly. The
burst is one concurrency window: the requests that were in flight together when a
pass starts.

Without `--max-rate`, a network provider is paced adaptively (`AdaptivePacer`): no
limit until it answers 429, then additive increase, multiplicative decrease, as TCP
does. A charge that costs several requests (Stripe's two) books that many slots.

No request waits for a slot longer than the pass's bound on waits
(`waits.MAX_WAIT_S`). At a fixed pace, a request waits for the ones booked before
it, so a pass sends no more calls at once than the rate serves within the bound
(`most_at_once`). The adaptive pace is a guess at the provider's limit: a request
that has waited the bound for it goes, and the provider's answer decides.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from antaeus_cli.domain import waits
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.outcomes import Answer
from antaeus_cli.provider.port import NotSent, PaymentProvider, ProviderWrapper, RateLimited


class Pacer:
    """Thread-safe: call threads book slots under a lock and wait outside it."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._interval = 1.0 / rate
        self._burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._next: float | None = None  # the theoretical time of the next request

    def book(self, cost: int = 1) -> float:
        """Book the next `cost` slots; return how long to wait before sending (0: now)."""
        with self._lock:
            now = self._clock()
            slot = now if self._next is None else max(self._next, now)
            self._next = slot + cost * self._interval
            earliest = slot - (self._burst - 1) * self._interval
        return max(0.0, earliest - now)

    def wait_for_slot(self, stop: threading.Event, cost: int = 1) -> bool:
        """Block until a request may be sent; False if the pass is stopping meanwhile
        (the request must then not be sent)."""
        return _wait(self.book(cost), stop)

    def answered(self, cost: int = 1) -> None:
        """A fixed pace learns nothing from answers."""

    def rate_limited(self, retry_after: float | None) -> None:
        """A fixed pace learns nothing from 429s either: the operator set it."""


def most_at_once(rate: float, cost: int) -> int:
    """How many calls may wait for slots of a fixed pace at once, none of them longer
    than the bound on waits. Each waits for those booked before it: c calls of `cost`
    requests at `rate` wait c * cost / rate seconds. More would add no speed (a call
    takes far less than the bound), only waiting. At least one."""
    return max(1, int(waits.MAX_WAIT_S * rate / cost))


class AdaptivePacer:
    """No limit until the provider answers 429; then it probes, and then additive
    increase, multiplicative decrease, as TCP does. Thread-safe. Rates are in requests
    a second; a charge of several requests books and reports that many.

    At the first 429 the rate becomes what was answered in the last second, or
    MIN_RATE if nothing was yet. It then grows eightfold a second (each answered
    request adds ln 8) until the next 429, which ends the probing and multiplies the
    rate by PROBE_EXIT: by then it has grown a few round trips past the limit. From
    then on each 429 multiplies the rate by DECREASE, at most once a COOLDOWN_S (the
    requests already in flight meet the same limit and say nothing new), and the
    answers make it grow by INCREASE of the rate the limit was last met at, each
    second. A Retry-After holds every request until it has passed, or the bound on
    waits has. The rate grows only while it binds (requests wait for it), so a pass
    that sends less than it may does not inflate it. The cycle averages about
    (1 + DECREASE) / 2 of the limit, and each crossing costs a few rejected requests.
    """

    DECREASE = 0.9
    INCREASE = 0.01  # of the rate the limit was last met at, per second
    COOLDOWN_S = 0.25
    MIN_RATE = 1.0
    BINDS_S = 1.0  # the rate binds if a request waited for it this recently
    BURST_S = 0.05  # unused room that may be spent at once, in seconds of the rate
    RECHECK_S = 0.02  # how often a waiting request asks again
    WINDOW = 4096  # answers remembered while unlimited, to measure the rate at a first 429
    _PROBE = 2.0794415416798357  # ln 8: eightfold a second
    PROBE_EXIT = 0.75  # the 429 that ends probing finds the rate further past the limit

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.rate: float | None = None  # requests per second; None: no limit yet
        self.probing = False
        self._waited_at = float("-inf")
        self._last = (float("-inf"), 0)  # when the last request went, and its cost
        self._step = 0.0
        self._next = 0.0  # nothing goes before this: a Retry-After
        self._started: float | None = None
        self._decreased_at = float("-inf")
        self._answered: deque[tuple[float, int]] = deque(maxlen=self.WINDOW)

    def book(self, cost: int = 1) -> float:
        """Take the next slot if it has come (0.0), else say how long until it comes.

        Unlike `Pacer.book`, a slot is never booked ahead: the rate may rise while a
        request waits, so a waiting request asks again rather than keep an old slot."""
        with self._lock:
            now = self._clock()
            if self.rate is None:
                if self._started is None:
                    self._started = now
                return max(0.0, self._next - now)  # only a Retry-After holds it
            # The next slot follows the last request at the rate as it is now.
            last_at, last_cost = self._last
            allowed = max(self._next, last_at + last_cost / self.rate)
            if allowed > now:
                self._waited_at = now  # the rate binds: answers may raise it
                return allowed - now
            self._last = (max(allowed, now - self.BURST_S), cost)
            return 0.0

    def wait_for_slot(self, stop: threading.Event, cost: int = 1) -> bool:
        deadline = self._clock() + waits.MAX_WAIT_S
        while True:
            delay = self.book(cost)
            if delay <= 0.0:
                return not stop.is_set()
            left = deadline - self._clock()
            if left <= 0.0:
                # Waited the bound: it goes, and the provider's answer decides. A 429 is
                # harmless (nothing processed) and teaches the pace.
                self._sent_anyway(cost)
                return not stop.is_set()
            if stop.wait(min(delay, self.RECHECK_S, left)):
                return False

    def _sent_anyway(self, cost: int) -> None:
        with self._lock:
            self._last = (self._clock(), cost)

    def answered(self, cost: int = 1) -> None:
        with self._lock:
            if self.rate is None:
                self._answered.append((self._clock(), cost))
            elif self._clock() - self._waited_at > self.BINDS_S:
                return  # the pass sends less than it may: more room would go unused
            elif self.probing:
                self.rate += self._PROBE * cost
            else:
                self.rate += self._step * cost / self.rate

    def rate_limited(self, retry_after: float | None) -> None:
        with self._lock:
            now = self._clock()
            if retry_after is not None:
                self._next = max(self._next, now + waits.bounded(retry_after))
            if now - self._decreased_at < self.COOLDOWN_S:
                return
            if self.rate is None:
                span = min(1.0, max(0.05, now - (self._started or now)))
                answered = sum(cost for stamp, cost in self._answered if now - stamp <= span)
                self._answered.clear()
                met_at = self.rate = max(self.MIN_RATE, answered / span)
                self.probing = True
            else:
                met_at = self.rate
                cut = self.PROBE_EXIT if self.probing else self.DECREASE
                self.rate = max(self.MIN_RATE, met_at * cut)
                self.probing = False
            self._step = max(self.INCREASE * met_at, 0.05)
            self._decreased_at = now


AnyPacer = Pacer | AdaptivePacer


def _wait(delay: float, stop: threading.Event) -> bool:
    if delay > 0:
        return not stop.wait(delay)
    return not stop.is_set()


class PacedProvider(ProviderWrapper):
    """The port, with every request (retries included) waiting for a slot first."""

    def __init__(self, provider: PaymentProvider, pacer: AnyPacer, stop: threading.Event) -> None:
        super().__init__(provider)
        self._pacer = pacer
        self._stop = stop
        self._cost = provider.requests_per_charge

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        pacer = self._pacer
        if not pacer.wait_for_slot(self._stop, self._cost):
            raise NotSent(idempotency_key)
        try:
            answer = self._provider.charge(invoice, idempotency_key)
        except RateLimited as limited:
            pacer.rate_limited(limited.retry_after)
            raise
        pacer.answered(self._cost)
        return answer

    def lookup(
        self,
        invoice: Invoice,
        idempotency_key: str,
        *,
        since: datetime,
        reference: str | None,
    ) -> Answer | None:
        pacer = self._pacer
        if not pacer.wait_for_slot(self._stop):
            raise NotSent(idempotency_key)
        try:
            found = self._provider.lookup(
                invoice, idempotency_key, since=since, reference=reference
            )
        except RateLimited as limited:
            pacer.rate_limited(limited.retry_after)
            raise
        pacer.answered()
        return found
