"""Run limits: the caps on the money a pass may move, and the decline-rate breaker."""

from __future__ import annotations

import pytest

from antaeus_cli.domain.attempt import Attempt, CallResult
from antaeus_cli.domain.invoice import AttemptOutcome, DunningState, Invoice, InvoiceStatus
from antaeus_cli.domain.limits import LimitsState, RunLimits, parse_cap
from antaeus_cli.domain.money import Currency, Money

EUR, USD = Currency("EUR"), Currency("USD")


@pytest.mark.parametrize(
    ("text", "cap"),
    [
        ("EUR=5", (EUR, 500)),
        ("EUR=50000.00", (EUR, 5_000_000)),
        ("usd=0.5", (USD, 50)),  # the code in any case
        (" GBP =1.25", (Currency("GBP"), 125)),
        ("EUR=0", (EUR, 0)),  # a pass that may move nothing
        ("EUR=0.01", (EUR, 1)),
        ("EUR=1.500", (EUR, 150)),  # a trailing zero is not a third decimal
        ("EUR=92233720368547758.07", (EUR, 2**63 - 1)),  # the largest cap the ledger holds
    ],
)
def test_a_cap_is_a_currency_and_an_amount_in_major_units(
    text: str, cap: tuple[Currency, int]
) -> None:
    assert parse_cap(text) == cap


@pytest.mark.parametrize(
    "text", ["EUR", "EUR=", "=5", "XYZ=5", "EUR=-5", "EUR=1e3", "EUR=NaN", "EUR=5=0", "EUR= 5"]
)
def test_anything_but_a_known_currency_and_a_plain_amount_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected CUR=AMOUNT") as refused:
        parse_cap(text)
    assert str(refused.value) == (
        f"expected CUR=AMOUNT with a known currency, such as EUR=50000; got {text!r}"
    )


def test_the_refusal_quotes_at_most_forty_characters_of_the_text() -> None:
    text = "EUR=" + "x" * 60
    with pytest.raises(ValueError, match="expected CUR=AMOUNT") as refused:
        parse_cap(text)
    assert str(refused.value) == (
        f"expected CUR=AMOUNT with a known currency, such as EUR=50000; got {text[:40]!r}"
    )


@pytest.mark.parametrize(
    "amount", ["0.001", "0.005", "1.00000000000000000000000000001", "1" * 30 + "." + "1" * 30]
)
def test_more_decimals_than_the_currency_has_are_refused_however_long(amount: str) -> None:
    with pytest.raises(ValueError, match="is not an amount") as refused:
        parse_cap(f"EUR={amount}")
    assert str(refused.value) == f"{amount[:40]!r} is not an amount of EUR: at most 2 decimals"


@pytest.mark.parametrize("amount", ["92233720368547758.08", "9" * 30, "9" * 30 + "." + "0" * 30])
def test_a_cap_past_what_the_ledger_holds_is_refused(amount: str) -> None:
    with pytest.raises(ValueError, match="beyond any cap") as refused:
        parse_cap(f"EUR={amount}")
    assert str(refused.value) == f"{amount[:40]!r} is beyond any cap"


def attempt(
    invoice: int,
    minor: int,
    currency: Currency = EUR,
    *,
    replay: bool = False,
    status: InvoiceStatus = InvoiceStatus.PENDING,
) -> Attempt:
    charge = Invoice(invoice, invoice, Money(minor, currency))
    return Attempt(charge, 1, f"ns-inv-{invoice}-1", DunningState(), status, replay=replay)


def answer(outcome: AttemptOutcome) -> CallResult:
    return CallResult(outcome, None, 1)


CHARGED = answer(AttemptOutcome.CHARGED)
DECLINED = answer(AttemptOutcome.DECLINED)
NEXT_STEP = (
    "something is wrong with the pass, not the customers: every first charge of this pass "
    "that declined was handed back without a dunning step or a notice. The next pass charges "
    "them only after its own fresh first charges pass the breaker; a card that said never is "
    "held for its customer then. If these declines are real, let the next pass go on (it does "
    "not count them again), or raise --breaker-rate for one pass"
)


def tripped(declined: int, first: int, said: str, rate: str, window: int) -> str:
    return (
        f"decline-rate breaker: {declined} of the first {first} charges declined ({said}), "
        f"more than {rate} of {window}; {NEXT_STEP}"
    )


def test_charges_are_admitted_up_to_the_cap_exactly() -> None:
    state = LimitsState(RunLimits(max_total={EUR: 1000}))
    assert state.admit(attempt(1, 600)) is None
    assert state.admit(attempt(2, 400)) is None  # 1000: at the cap, not past it
    assert state.admit(attempt(3, 1)) == (
        "run cap: charging invoice 3 (EUR 0.01) would take this pass past --max-total "
        "EUR 10.00 (EUR 10.00 charged or in doubt so far); it was not sent, and the pass stopped"
    )


def test_one_charge_larger_than_the_cap_is_never_sent() -> None:
    state = LimitsState(RunLimits(max_total={EUR: 1000}))
    assert state.admit(attempt(1, 1001)) == (
        "run cap: charging invoice 1 (EUR 10.01) would take this pass past --max-total "
        "EUR 10.00 (EUR 0.00 charged or in doubt so far); it was not sent, and the pass stopped"
    )
    assert state.admit(attempt(2, 1000)) is None  # a refusal reserved nothing


def test_each_currency_has_its_own_cap_and_one_without_none() -> None:
    state = LimitsState(RunLimits(max_total={EUR: 1000, USD: 500}))
    assert state.admit(attempt(1, 900)) is None
    assert state.admit(attempt(2, 500, USD)) is None
    assert state.admit(attempt(3, 10**9, Currency("GBP"))) is None
    assert state.admit(attempt(4, 100)) is None
    assert state.admit(attempt(5, 1, USD)) is not None
    assert state.admit(attempt(6, 1)) is not None


@pytest.mark.parametrize(
    ("outcome", "given_back"),
    [
        (AttemptOutcome.CHARGED, False),
        (AttemptOutcome.UNKNOWN, False),  # it may have moved money
        (AttemptOutcome.PROCESSING, False),
        (AttemptOutcome.DECLINED, True),
        (AttemptOutcome.NOT_PROCESSED, True),
        (AttemptOutcome.PROVIDER_ERROR, True),
    ],
)
def test_an_answer_that_moved_no_money_gives_its_reservation_back(
    outcome: AttemptOutcome, given_back: bool
) -> None:
    state = LimitsState(RunLimits(max_total={EUR: 1000}))
    first = attempt(1, 700)
    assert state.admit(first) is None
    assert state.answered(first, answer(outcome)) is None
    assert (state.admit(attempt(2, 700)) is None) is given_back
    assert state.admit(attempt(3, 300)) is None  # 700 + 300, or 700 again + 300: at the cap


def test_answers_in_a_currency_without_a_cap_change_nothing() -> None:
    state = LimitsState(RunLimits(max_total={EUR: 1000}))
    usd = attempt(1, 700, USD)
    assert state.admit(usd) is None
    assert state.answered(usd, DECLINED) is None
    assert state.admit(attempt(2, 1000)) is None
    assert state.admit(attempt(3, 1)) is not None


def test_the_breaker_trips_when_more_than_the_rate_of_the_window_declines() -> None:
    state = LimitsState(RunLimits(breaker_rate=0.5, breaker_window=4))
    assert state.answered(attempt(1, 100), DECLINED) is None
    assert state.answered(attempt(2, 100), CHARGED) is None
    assert state.answered(attempt(3, 100), DECLINED) is None  # two of four: not more than half
    assert state.answered(attempt(4, 100), DECLINED) == tripped(3, 4, "declined 3", "50%", 4)
    assert state.declined_first == [1, 3, 4]
    # answered after the trip (calls in flight): handed back too, and not counted
    assert state.answered(attempt(5, 100), DECLINED) is None
    assert state.answered(attempt(6, 100), CHARGED) is None
    assert state.declined_first == [1, 3, 4, 5]


@pytest.mark.parametrize(
    "outcome",
    [AttemptOutcome.DECLINED, AttemptOutcome.DECLINED_HARD, AttemptOutcome.NEEDS_CUSTOMER],
)
def test_every_kind_of_decline_counts_and_nothing_else(outcome: AttemptOutcome) -> None:
    state = LimitsState(RunLimits(breaker_rate=0.0, breaker_window=10))
    for n, other in enumerate(
        [AttemptOutcome.CHARGED, AttemptOutcome.UNKNOWN, AttemptOutcome.CUSTOMER_NOT_FOUND]
    ):
        assert state.answered(attempt(n, 100), answer(other)) is None
    assert state.answered(attempt(9, 100), answer(outcome)) == tripped(
        1, 4, f"{outcome.value} 1", "0%", 10
    )
    assert state.declined_first == [9]


def test_the_breaker_watches_only_the_first_charges_of_the_window() -> None:
    state = LimitsState(RunLimits(breaker_rate=0.5, breaker_window=2))
    assert state.answered(attempt(1, 100), CHARGED) is None
    assert state.answered(attempt(2, 100), CHARGED) is None
    for n in range(3, 10):
        assert state.answered(attempt(n, 100), DECLINED) is None
    assert state.declined_first == []


def test_retries_and_replays_are_not_first_charges() -> None:
    state = LimitsState(RunLimits(breaker_rate=0.0, breaker_window=2))
    assert state.answered(attempt(1, 100, status=InvoiceStatus.FAILED), DECLINED) is None
    assert state.answered(attempt(2, 100, replay=True), DECLINED) is None
    assert state.declined_first == []
    assert state.answered(attempt(3, 100), CHARGED) is None
    assert state.answered(attempt(4, 100), DECLINED) == tripped(1, 2, "declined 1", "0%", 2)


def test_by_default_the_breaker_trips_past_half_of_the_first_hundred() -> None:
    state = LimitsState(RunLimits())
    results = [state.answered(attempt(n, 100), DECLINED) for n in range(1, 52)]
    assert results[:50] == [None] * 50
    assert results[50] is not None
    assert results[50] == tripped(51, 51, "declined 51", "50%", 100)


def test_first_charges_it_is_told_not_to_watch_are_not_counted() -> None:
    """What an earlier trip handed back, charged in bill's second walk."""
    state = LimitsState(RunLimits(breaker_rate=0.0, breaker_window=2))
    state.watching = False
    assert state.answered(attempt(1, 100), DECLINED) is None
    assert state.declined_first == []
    state.watching = True
    assert state.answered(attempt(2, 100), DECLINED) is not None


def test_the_decline_codes_it_saw_are_named_commonest_first() -> None:
    state = LimitsState(RunLimits(breaker_rate=0.5, breaker_window=4))
    lost = CallResult(AttemptOutcome.DECLINED_HARD, None, 1, decline_code="lost_card")
    funds = CallResult(AttemptOutcome.DECLINED, None, 1, decline_code="insufficient_funds")
    assert state.answered(attempt(1, 100), funds) is None
    assert state.answered(attempt(2, 100), lost) is None
    reason = state.answered(attempt(3, 100), lost)
    assert reason == tripped(3, 3, "lost_card 2, insufficient_funds 1", "50%", 4)


def test_a_key_sent_again_is_reserved_once_and_given_back_once() -> None:
    state = LimitsState(RunLimits(max_total={EUR: 1000}))
    first = attempt(1, 600)
    assert state.admit(first) is None
    assert state.answered(first, answer(AttemptOutcome.UNKNOWN)) is None
    again = first._replace(replay=True)
    assert state.admit(again) is None  # the same key: 600 is reserved already
    assert state.admit(attempt(2, 400)) is None  # 1000: at the cap
    assert state.answered(again, DECLINED) is None  # no money moved: 600 back, once
    assert state.answered(again, DECLINED) is None
    assert state.admit(attempt(3, 600)) is None
    assert state.admit(attempt(4, 1)) is not None


def test_a_replay_the_cap_refuses_is_told_to_stay_open_with_the_next_step() -> None:
    state = LimitsState(RunLimits(max_total={EUR: 1000}))
    assert state.admit(attempt(1, 600)) is None
    replay = attempt(2, 400)._replace(replay=True, key="ns-inv-2-1")
    assert state.admit(replay) is None  # 1000: at the cap, not past it
    late = attempt(3, 1)._replace(replay=True, key="ns-inv-3-1")
    assert state.admit(late) == (
        "run cap: sending key ns-inv-3-1 of invoice 3 (EUR 0.01) again would take this pass "
        "past --max-total EUR 10.00 (EUR 10.00 charged or in doubt so far); it is looked up "
        "only and stays open for a later pass: raise --max-total for one pass to settle it"
    )


def test_a_trip_names_the_five_commonest_decline_codes() -> None:
    state = LimitsState(RunLimits(breaker_rate=0.75, breaker_window=12))
    codes = ["a", "a", "a", "b", "b", "c", "d", "e", "f", "g"]
    reason = None
    for n, code in enumerate(codes, start=1):
        said = CallResult(AttemptOutcome.DECLINED, None, 1, decline_code=code)
        reason = state.answered(attempt(n, 100), said) or reason
    assert reason is not None
    assert "(a 3, b 2, c 1, d 1, e 1)" in reason


def test_what_is_reserved_is_told_per_currency() -> None:
    state = LimitsState(RunLimits(max_total={EUR: 5000}))
    assert state.reserved(EUR) == 0  # nothing yet
    first = Attempt(Invoice(1, 1, Money(1200, EUR)), 1, "k1", DunningState(), InvoiceStatus.PENDING)
    assert state.admit(first) is None
    assert (state.reserved(EUR), state.reserved(USD)) == (1200, 0)


@pytest.mark.parametrize(
    ("rate", "window", "sample"), [(0.5, 100, 100), (0.2, 7, 7), (1.0, 100, 0), (0.99, 3, 3)]
)
def test_a_bill_pass_judges_the_breakers_window_first_unless_it_is_off(
    rate: float, window: int, sample: int
) -> None:
    assert RunLimits(breaker_rate=rate, breaker_window=window).sample == sample
