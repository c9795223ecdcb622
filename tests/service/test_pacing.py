"""--max-rate: the pacer's schedule, checked against a clock that never sleeps."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antaeus_cli.billing.engine import StopRequest
from antaeus_cli.billing.pacing import AdaptivePacer, Pacer, most_at_once
from antaeus_cli.domain.waits import MAX_WAIT_S
from tests.fakes import FakeProvider


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def schedule(pacer: Pacer, clock: Clock, requests: int) -> list[float]:
    """When each request is sent, if every sender waits exactly as told."""
    sent = []
    for _ in range(requests):
        clock.now += pacer.book()
        sent.append(clock.now)
    return sent


def test_a_long_run_goes_at_the_rate() -> None:
    clock = Clock()
    sent = schedule(Pacer(50, burst=8, clock=clock), clock, 1001)
    # The burst of 8 goes at once, then one request every 1/50 s.
    assert sent[-1] - sent[0] == pytest.approx((1000 - 7) / 50)


@given(
    rate=st.floats(1, 500),
    burst=st.integers(1, 64),
    gaps=st.lists(st.floats(0, 0.05), min_size=1, max_size=300),
)
def test_no_window_ever_holds_more_than_rate_plus_burst(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = Clock()
    pacer = Pacer(rate, burst=burst, clock=clock)
    sent = []
    for gap in gaps:  # requests arrive whenever they like; each waits its turn
        clock.now += gap
        clock.now += pacer.book()
        sent.append(clock.now)
    start = 0
    for end, stamp in enumerate(sent):
        while stamp - sent[start] >= 1.0:
            start += 1
        assert end - start + 1 <= rate + burst + 1e-9


def test_a_stopping_pass_sends_nothing_more(make: Any, bill: Any, sql: Any) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 21)])
    stop = StopRequest()
    calls: list[int] = []

    class StopsAfterTwo(FakeProvider):
        def charge(self, invoice: Any, idempotency_key: str) -> Any:
            calls.append(invoice.id)
            if len(calls) == 2:
                stop.request("received SIGTERM")
            return super().charge(invoice, idempotency_key)

    result = bill(StopsAfterTwo(), stop=stop, max_rate=1000.0)
    assert len(calls) == 2
    assert result.counts.paid == 2
    assert result.counts.released == 18
    assert sql("SELECT count(*) FROM payment_attempt WHERE outcome = 'abandoned'") == [(18,)]


def test_the_pacer_is_thread_safe() -> None:
    clock = Clock()
    pacer = Pacer(1000, burst=4, clock=clock)
    delays: list[float] = []
    threads = [
        threading.Thread(target=lambda: delays.extend(pacer.book() for _ in range(250)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(delays)[-1] == pytest.approx((1000 - 4) / 1000)  # 1,000 slots, none lost


class Bucket:
    """A provider's rate limit, as Stripe-like servers enforce it: a token bucket."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self.rate, self.clock = rate, clock
        self.burst = max(1.0, rate / 10)
        self.tokens, self.at = self.burst, clock.now

    def admit(self) -> bool:
        now = self.clock.now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def adapt(limit: float, seconds: float, offered: float) -> tuple[float, float]:
    """Drive an AdaptivePacer against a bucket of `limit`/s with a sender that would go
    at `offered`/s; return (accepted per second, share rejected) after a warm-up."""
    clock = Clock()
    pacer = AdaptivePacer(clock=clock)
    bucket = Bucket(limit, clock)
    start, accepted, rejected = clock.now, 0, 0
    while clock.now - start < seconds:
        clock.now += 1 / offered
        while (delay := pacer.book()) > 0:  # a waiting request asks again, as threads do
            clock.now += delay
        warm = clock.now - start > 10
        if bucket.admit():
            pacer.answered()
            accepted += warm
        else:
            pacer.rate_limited(None)
            rejected += warm
    return accepted / (seconds - 10), rejected / max(1, accepted + rejected)


@pytest.mark.parametrize("limit", [25.0, 100.0, 400.0])  # Stripe: 25/s in test mode, 100 live
@pytest.mark.parametrize("offered", [2, 20])  # how far above the limit the pass would go
def test_the_adaptive_pace_finds_the_limit_without_configuration(
    limit: float, offered: float
) -> None:
    rate, rejected = adapt(limit, seconds=240, offered=limit * offered)
    assert rate >= 0.9 * limit
    assert rejected <= 0.02


def test_no_429_means_no_limit_at_all() -> None:
    clock = Clock()
    pacer = AdaptivePacer(clock=clock)
    assert [pacer.book() for _ in range(1000)] == [0.0] * 1000
    assert pacer.rate is None


def test_a_retry_after_holds_every_request_until_it_has_passed() -> None:
    clock = Clock()
    pacer = AdaptivePacer(clock=clock)
    pacer.book()
    for _ in range(20):
        pacer.answered()
    clock.now += 1
    pacer.rate_limited(2.5)
    assert pacer.rate == pytest.approx(20)  # what was answered in the last second
    assert pacer.book() == pytest.approx(2.5)
    clock.now += 3
    assert pacer.book() == 0.0


def test_a_charge_of_two_requests_books_two_slots() -> None:
    clock = Clock()
    pacer = Pacer(10, burst=1, clock=clock)
    assert [pacer.book(2) for _ in range(3)] == pytest.approx([0.0, 0.2, 0.4])


class Ticking(threading.Event):
    """A stop event whose waits pass on the test's clock, at once: no sleeping."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        if not self.is_set():
            self.clock.now += timeout
        return self.is_set()


@pytest.mark.parametrize("asked", [3600.0, float("inf"), float("nan"), 1e308])
def test_a_retry_after_holds_requests_no_longer_than_the_bound(asked: float) -> None:
    clock = Clock()
    pacer = AdaptivePacer(clock=clock)
    pacer.rate_limited(asked)
    assert pacer.book() == MAX_WAIT_S
    started = clock.now
    assert pacer.wait_for_slot(Ticking(clock))
    assert clock.now - started == pytest.approx(MAX_WAIT_S)


def test_a_negative_retry_after_holds_nothing() -> None:
    clock = Clock()
    pacer = AdaptivePacer(clock=clock)
    pacer.rate_limited(-30.0)
    assert pacer.book() == 0.0


def test_no_request_waits_past_the_bound_for_an_adaptive_slot() -> None:
    """The pace fell to its least, and a charge ahead booked much: the next request
    waits the bound, then goes, and the provider decides."""
    clock = Clock()
    pacer = AdaptivePacer(clock=clock)
    pacer.rate_limited(None)  # the first 429: the least rate, one request a second
    assert pacer.book(1000) == 0.0  # a request of 1,000 slots ahead
    started = clock.now
    assert pacer.wait_for_slot(Ticking(clock))
    assert clock.now - started <= MAX_WAIT_S + AdaptivePacer.RECHECK_S


def test_a_stop_ends_a_wait_for_a_slot_at_once() -> None:
    clock = Clock()
    pacer = AdaptivePacer(clock=clock)
    pacer.rate_limited(3600.0)
    stop = Ticking(clock)
    stop.set()
    assert not pacer.wait_for_slot(stop)
    assert clock.now == 100.0


@given(
    rate=st.floats(0.1, 1000),  # --max-rate's range, in part
    cost=st.integers(1, 3),
    concurrency=st.integers(1, 256),  # --concurrency's range
)
def test_at_a_fixed_pace_no_call_waits_past_the_bound(
    rate: float, cost: int, concurrency: int
) -> None:
    """Every call books its slot, waits, is sent at once and books the next: the most
    any call waits, with no more calls at once than `most_at_once` allows."""
    clock = Clock()
    at_once = min(concurrency, most_at_once(rate, cost))
    pacer = Pacer(rate, burst=at_once, clock=clock)
    ready = [clock.now] * at_once  # when each call books its next slot
    longest = 0.0
    for _ in range(8 * at_once):
        call = min(range(at_once), key=ready.__getitem__)
        clock.now = ready[call]
        wait = pacer.book(cost)
        longest = max(longest, wait)
        ready[call] = clock.now + wait
    assert longest <= max(MAX_WAIT_S, cost / rate) + 1e-6
