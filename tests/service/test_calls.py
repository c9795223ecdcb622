"""The call wrapper: in-pass retries of lost requests, always under one key."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from antaeus_cli.billing.calls import (
    RetryPolicy,
    _hours,
    _waiter,
    call_provider,
    lost_to_the_network,
)
from antaeus_cli.domain.attempt import Attempt, CallResult
from antaeus_cli.domain.invoice import AttemptOutcome, DunningState, Invoice, InvoiceStatus
from antaeus_cli.domain.money import Currency, Money
from antaeus_cli.domain.outcomes import Answer
from antaeus_cli.domain.waits import MAX_WAIT_S
from antaeus_cli.provider.port import Interrupted, KeyConflict, NetworkError, NotSent
from tests.conftest import PASS_BOUND_S, Sleeps, within
from tests.fakes import (
    CHARGED,
    DECLINED,
    KEY_REFUSED,
    LOST_REQUEST,
    LOST_RESPONSE,
    MISMATCH,
    NEEDS_CUSTOMER,
    NOT_FOUND,
    PROCESSING,
    RATE_LIMITED,
    REFUSED,
    FakeProvider,
    FixedClock,
)

CLOCK = FixedClock()

ATTEMPT = Attempt(
    Invoice(5, 5, Money(1000, Currency("EUR"))),
    1,
    "ns-inv-5-1",
    DunningState(),
    InvoiceStatus.PENDING,
)


def call(
    provider: FakeProvider,
    sleeps: Sleeps,
    stop: threading.Event | None = None,
    attempt: Attempt = ATTEMPT,
    **policy: Any,
) -> CallResult:
    """One key's charge, which must end within PASS_BOUND_S: its waits are recorded, never
    slept (one that slept for real, or retried for ever, fails the test)."""
    policy_ = RetryPolicy(sleep=sleeps, **policy)
    result = within(
        PASS_BOUND_S,
        lambda: call_provider(provider, attempt, policy_, stop or threading.Event(), CLOCK),
    )
    assert result is not None
    return result


def replay(age: timedelta, reference: str | None = None) -> Attempt:
    """ATTEMPT as a later pass finds it open: claimed `age` ago."""
    return ATTEMPT._replace(replay=True, started_at=CLOCK.now - age, reference=reference)


def test_success_needs_one_call_and_no_wait(sleeps: Sleeps) -> None:
    result = call(FakeProvider(), sleeps)
    assert result.outcome is AttemptOutcome.CHARGED
    assert result.calls == 1
    assert sleeps.waits == []


def test_lost_requests_are_retried_with_the_same_key_and_backoff(sleeps: Sleeps) -> None:
    provider = FakeProvider(script={5: [LOST_REQUEST, LOST_RESPONSE, "charged"]})
    result = call(provider, sleeps, jitter=0.0)
    assert result.outcome is AttemptOutcome.CHARGED
    # charge (lost), look-up (none) + charge (booked, answer lost), look-up (found)
    assert result.calls == 4
    assert {key for _, key in provider.calls} == {"ns-inv-5-1"}
    assert len(provider.calls) == 2
    assert provider.lookups == ["ns-inv-5-1", "ns-inv-5-1"]
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
    assert len(provider.calls) == 4
    assert len(provider.lookups) == 3  # one before every re-send
    assert result.calls == 7
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
    assert result.calls == 3  # charge, look-up, charge


def test_a_lost_response_is_found_by_lookup_and_never_re_sent(sleeps: Sleeps) -> None:
    provider = FakeProvider(script={5: [LOST_RESPONSE, CHARGED]})
    result = call(provider, sleeps)
    assert result.outcome is AttemptOutcome.CHARGED
    assert len(provider.calls) == 1
    assert provider.lookups == ["ns-inv-5-1"]


def test_without_a_lookup_a_lost_response_is_never_re_sent(sleeps: Sleeps) -> None:
    provider = FakeProvider(script={5: [LOST_RESPONSE, CHARGED]}, can_lookup=False)
    result = call(provider, sleeps)
    assert result.outcome is AttemptOutcome.UNKNOWN
    assert len(provider.calls) == 1
    assert "cannot look the charge up" in (result.detail or "")


def test_a_replay_looks_up_first_and_sends_nothing_when_found(sleeps: Sleeps) -> None:
    provider = FakeProvider()
    provider.booked["ns-inv-5-1"] = DECLINED
    result = call(provider, sleeps, attempt=replay(timedelta(hours=2)))
    assert result.outcome is AttemptOutcome.DECLINED
    assert provider.calls == []
    assert result.calls == 1


def test_a_replay_not_found_inside_the_window_is_re_sent_under_its_key(sleeps: Sleeps) -> None:
    provider = FakeProvider(key_retention=timedelta(hours=24))
    result = call(provider, sleeps, attempt=replay(timedelta(hours=20)))
    assert result.outcome is AttemptOutcome.CHARGED
    assert provider.calls == [(5, "ns-inv-5-1")]


@pytest.mark.parametrize("age", [timedelta(hours=23), timedelta(hours=36)])
def test_a_replay_not_found_past_the_window_lapses_unsent(sleeps: Sleeps, age: timedelta) -> None:
    provider = FakeProvider(key_retention=timedelta(hours=24))
    result = call(provider, sleeps, attempt=replay(age))
    assert result.outcome is AttemptOutcome.LAPSED
    assert provider.calls == []
    assert "new key" in (result.detail or "")
    hours = f"{age.total_seconds() / 3600:.1f}"
    assert f"the key is {hours} h old, past the 23.0 h it may safely be re-sent" in (
        result.detail or ""
    )


def test_a_wait_between_tries_ends_on_time_or_at_a_stop() -> None:
    stop = threading.Event()
    wait = _waiter(stop)
    waiting = threading.Thread(target=wait, args=(0.01,), daemon=True)
    waiting.start()
    waiting.join(timeout=1)
    assert not waiting.is_alive()
    stop.set()
    waiting = threading.Thread(target=wait, args=(3600,), daemon=True)
    waiting.start()
    waiting.join(timeout=1)
    assert not waiting.is_alive()


def test_a_replay_the_provider_cannot_look_up_stays_open_unsent(sleeps: Sleeps) -> None:
    provider = FakeProvider(can_lookup=False)
    result = call(provider, sleeps, attempt=replay(timedelta(hours=1)))
    assert result.outcome is AttemptOutcome.UNKNOWN
    assert provider.calls == []
    assert provider.lookups == ["ns-inv-5-1"]  # asked once: a refusal is not retried
    assert sleeps.waits == []


def test_a_look_up_names_the_invoice_the_key_when_it_was_claimed_and_the_charge(
    sleeps: Sleeps,
) -> None:
    provider = FakeProvider()
    call(provider, sleeps, attempt=replay(timedelta(hours=3), reference="pi_7"))
    assert provider.lookup_args == [
        (ATTEMPT.invoice, "ns-inv-5-1", CLOCK.now - timedelta(hours=3), "pi_7")
    ]
    fresh = FakeProvider(script={5: [LOST_RESPONSE]})
    call(fresh, sleeps)
    assert fresh.lookup_args == [(ATTEMPT.invoice, "ns-inv-5-1", CLOCK.now, None)]


def test_the_reasons_a_key_stays_open_or_lapses_are_stated(sleeps: Sleeps) -> None:
    gone = call(FakeProvider(), sleeps, attempt=replay(timedelta(hours=1), reference="pi_x"))
    assert gone.detail == (
        "cannot look the charge up, so it is not re-sent: the provider no longer knows the "
        "charge pi_x"
    )
    orphan = replay(timedelta(hours=1))._replace(no_resend="its invoice was deleted")
    lapsed = call(FakeProvider(), sleeps, attempt=orphan)
    assert (lapsed.outcome, lapsed.detail) == (
        AttemptOutcome.LAPSED,
        "no charge under ns-inv-5-1 at the provider, and it is not sent again: its invoice "
        "was deleted; no money moved",
    )
    limited = call(FakeProvider(script={5: [RATE_LIMITED]}), sleeps)
    assert limited.detail is not None
    assert limited.detail.startswith("rate limited on every try: ")
    after_loss = call(FakeProvider(script={5: [LOST_REQUEST, RATE_LIMITED]}), sleeps)
    assert after_loss.outcome is AttemptOutcome.UNKNOWN
    assert after_loss.detail is not None
    assert after_loss.detail.startswith("rate limited after a lost request: ")


def test_without_a_recorder_retries_wait_on_the_stop_event() -> None:
    """A wait of no time ends at once, with the stop event never set: the call is done
    (in a thread, so that a wait that never ends fails the test rather than hang it)."""
    provider = FakeProvider(script={5: [LOST_REQUEST, CHARGED]})
    policy = RetryPolicy(first_wait=0, max_wait=0, jitter=0)
    results: list[CallResult | None] = []
    calling = threading.Thread(
        target=lambda: results.append(
            call_provider(provider, ATTEMPT, policy, threading.Event(), CLOCK)
        ),
        daemon=True,
    )
    calling.start()
    calling.join(timeout=1)  # it takes milliseconds
    assert not calling.is_alive(), "the wait between tries never ended"
    [result] = results
    assert result is not None
    assert result.outcome is AttemptOutcome.CHARGED


def test_a_processing_charge_is_looked_up_by_reference_until_it_settles(sleeps: Sleeps) -> None:
    provider = FakeProvider()
    reference = provider.book("ns-inv-5-1", PROCESSING)
    result = call(provider, sleeps, attempt=replay(timedelta(hours=1), reference=reference))
    assert result.outcome is AttemptOutcome.CHARGED  # the fake settles it on look-up
    assert provider.calls == []
    gone = FakeProvider()
    result = call(gone, sleeps, attempt=replay(timedelta(hours=1), reference="pi_gone"))
    assert result.outcome is AttemptOutcome.UNKNOWN  # never re-sent: a charge exists
    assert result.reference == "pi_gone"
    assert gone.calls == []


def test_a_replay_is_settled_by_its_own_charge_not_another_one(sleeps: Sleeps) -> None:
    """The provider answers for the charge the reference names: a replay that sent
    another charge's reference would be told of that charge."""
    provider = FakeProvider()
    own = provider.book("ns-inv-5-1", PROCESSING)
    other = provider.book("ns-inv-6-1", NEEDS_CUSTOMER)
    assert own != other
    result = call(provider, sleeps, attempt=replay(timedelta(hours=1), reference=own))
    assert (result.outcome, result.calls) == (AttemptOutcome.CHARGED, 1)
    waiting = call(provider, sleeps, attempt=replay(timedelta(hours=1), reference=other))
    assert waiting.outcome is AttemptOutcome.NEEDS_CUSTOMER
    assert waiting.reference == other


def test_a_reference_the_provider_never_issued_finds_nothing_even_with_a_charge_under_the_key(
    sleeps: Sleeps,
) -> None:
    provider = FakeProvider()
    provider.book("ns-inv-5-1", PROCESSING)
    result = call(provider, sleeps, attempt=replay(timedelta(hours=1), reference="pi_unknown"))
    assert result.outcome is AttemptOutcome.UNKNOWN  # never re-sent: a charge exists
    assert provider.calls == []
    assert provider.booked["ns-inv-5-1"] == PROCESSING  # the look-up did not reach it


def test_a_rate_limited_request_is_retried_after_retry_after(sleeps: Sleeps) -> None:
    provider = FakeProvider(script={5: [RATE_LIMITED, CHARGED]}, retry_after=3.0)
    result = call(provider, sleeps)
    assert result.outcome is AttemptOutcome.CHARGED
    assert provider.lookups == []  # a 429 processed nothing: no look-up needed
    assert sleeps.waits[0] >= 3.0


def test_rate_limited_on_every_try_is_not_processed(sleeps: Sleeps) -> None:
    provider = FakeProvider(script={5: [RATE_LIMITED]})
    result = call(provider, sleeps)
    assert result.outcome is AttemptOutcome.NOT_PROCESSED
    assert provider.booked == {}


def test_a_429_after_a_lost_request_stays_unknown(sleeps: Sleeps) -> None:
    provider = FakeProvider(script={5: [LOST_REQUEST, RATE_LIMITED]})
    result = call(provider, sleeps)
    assert result.outcome is AttemptOutcome.UNKNOWN


def test_a_key_the_provider_holds_for_other_parameters_is_never_closed(sleeps: Sleeps) -> None:
    """Refused as reused, a key proves an earlier request under it was processed."""

    class Conflicted(FakeProvider):
        def charge(self, invoice: Any, idempotency_key: str) -> Any:
            self.calls.append((invoice.id, idempotency_key))
            if len(self.calls) == 1:
                raise NetworkError("response lost")
            raise KeyConflict("key first used with another payment method")

    provider = Conflicted()
    result = call(provider, sleeps)
    assert result.outcome is AttemptOutcome.UNKNOWN
    assert "another payment method" in (result.detail or "")
    assert len(provider.lookups) == 3  # looked up before every re-send


class StoppedWhileWaiting(FakeProvider):
    """Rate limited twice; the next retry waits for a rate slot, and the pass stops."""

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        if len(self.calls) == 2:
            raise NotSent(idempotency_key)
        return super().charge(invoice, idempotency_key)


def test_a_retry_stopped_before_it_was_sent_processed_nothing(sleeps: Sleeps) -> None:
    provider = StoppedWhileWaiting(script={5: [RATE_LIMITED, RATE_LIMITED]})
    result = call(provider, sleeps)
    # Two requests were sent, both refused before processing; the third never left.
    assert result == CallResult(AttemptOutcome.NOT_PROCESSED, "stopped before retrying", 2)


class CutInFlight(FakeProvider):
    """The pass stopped while the charge was in flight: the provider cut the request."""

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        self.calls.append((invoice.id, idempotency_key))
        raise Interrupted("cut while in flight: the pass is stopping")


def test_a_charge_cut_in_flight_stays_open_and_is_no_network_failure(sleeps: Sleeps) -> None:
    stop = threading.Event()
    stop.set()
    provider = CutInFlight()
    result = call(provider, sleeps, stop=stop)
    assert result.outcome is AttemptOutcome.UNKNOWN  # it may have reached the provider
    assert not lost_to_the_network(result)  # the stop, not an outage
    assert provider.lookups == []  # nothing more is sent once the pass is stopping
    assert len(provider.calls) == 1


def test_durations_are_shown_in_hours_to_a_tenth() -> None:
    assert _hours(timedelta(hours=4, minutes=27)) == "4.5 h"
    assert _hours(timedelta(minutes=3)) == "0.1 h"


@pytest.mark.parametrize("asked", [3600.0, float("inf"), float("nan"), 1e308, MAX_WAIT_S + 1])
def test_a_429_asking_past_the_bound_is_waited_the_bound_once_then_not_processed(
    sleeps: Sleeps, asked: float
) -> None:
    """However often the key may be tried, it waits the bound once; refused again,
    nothing happened, and the invoice goes back as it was."""
    provider = FakeProvider(script={5: [RATE_LIMITED]}, retry_after=asked)
    result = call(provider, sleeps, max_calls=20)
    assert result.outcome is AttemptOutcome.NOT_PROCESSED
    assert sleeps.waits == [MAX_WAIT_S]
    assert len(provider.calls) == 2
    assert provider.booked == {}


@pytest.mark.parametrize("asked", [-5.0, float("-inf"), 0.0])
def test_a_429_asking_for_no_wait_or_less_gets_none(sleeps: Sleeps, asked: float) -> None:
    provider = FakeProvider(script={5: [RATE_LIMITED, CHARGED]}, retry_after=asked)
    assert call(provider, sleeps).outcome is AttemptOutcome.CHARGED
    assert sleeps.waits == [0.0]


def test_a_keys_waits_add_up_to_the_bound_at_most(sleeps: Sleeps) -> None:
    """--backoff-ms 60000: first waits of a minute and more; the key's share is spent
    at once, and the key is left for a later pass."""
    provider = FakeProvider(script={5: [LOST_REQUEST]})
    result = call(provider, sleeps, max_calls=20, first_wait=60, max_wait=240, jitter=60)
    assert result.outcome is AttemptOutcome.UNKNOWN
    assert sum(sleeps.waits) <= MAX_WAIT_S
    assert all(wait <= MAX_WAIT_S for wait in sleeps.waits)
    # Many short 429 waits are bounded the same way.
    many = Sleeps()
    limited = FakeProvider(script={5: [RATE_LIMITED]}, retry_after=7.0)
    call(limited, many, max_calls=20)
    assert sum(many.waits) == MAX_WAIT_S
    assert many.waits[-1] == MAX_WAIT_S - 8 * 7.0
    # ... to the last fraction of a second: what is left of the share, however little.
    little = Sleeps()
    call(FakeProvider(script={5: [RATE_LIMITED]}, retry_after=5.95), little, max_calls=20)
    assert little.waits[:-1] == [5.95] * 10
    assert little.waits[-1] == pytest.approx(0.5)
    assert sum(little.waits) == pytest.approx(MAX_WAIT_S)


def test_refused_credentials_process_nothing_and_end_the_attempt_not_processed(
    sleeps: Sleeps,
) -> None:
    result = call(FakeProvider(script={5: [KEY_REFUSED]}), sleeps)
    assert result.outcome is AttemptOutcome.NOT_PROCESSED
    assert (result.detail or "").startswith("the provider refused the credentials: ")
    after_a_429 = call(FakeProvider(script={5: [RATE_LIMITED, KEY_REFUSED]}), sleeps)
    assert after_a_429.outcome is AttemptOutcome.NOT_PROCESSED
    assert sleeps.waits == [0.2]  # a refusal is never retried
    # the requests made, as the attempt records them: the refused one counts
    assert (result.calls, after_a_429.calls) == (1, 2)


def test_refused_credentials_after_a_lost_request_leave_the_attempt_open(
    sleeps: Sleeps,
) -> None:
    """The lost request may have arrived before the key was revoked: looked up later."""
    result = call(FakeProvider(script={5: [LOST_REQUEST, KEY_REFUSED]}), sleeps)
    assert result.outcome is AttemptOutcome.UNKNOWN
    assert "refused the credentials" in (result.detail or "")
