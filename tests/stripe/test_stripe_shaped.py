"""The Stripe adapter's fault paths against the Stripe-shaped loopback server: lost
requests and responses, 409s, saved 500s, 429s, processing charges, 402 declines
and keys that expire. Every pass runs in-process with the real adapter over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.provider import registry
from antaeus_cli.provider.port import CredentialsRejected
from antaeus_cli.provider.stripe_api import StripeProvider
from antaeus_cli.provider.stripe_wire import TRANSPORTS
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice
from tests.conftest import make_db
from tests.fakes import FixedClock
from tests.stripe.conftest import Shaped

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DUE = date(2026, 12, 1)
VISA = "pm_card_visa"
CUSTOMER = "needs_customer"


def setup(db_path: Path, clock: FixedClock, server: Shaped, methods: dict[int, str | None]) -> None:
    """Customer n is cus_n with the given payment method; invoice n bills it 1000 + n."""
    server.customers({f"cus_{n}": method for n, method in methods.items()})
    make_db(
        db_path,
        Scenario.of(
            [SeedCustomer(n, "EUR", None, f"cus_{n}") for n in methods],
            [SeedInvoice(n, n, 1000 + n, "EUR", DUE) for n in methods],
        ),
        clock,
    )


def provider(server: Shaped, **params: str) -> StripeProvider:
    opened = registry.open_provider(registry.resolve(server.spec(**params)), db_path=Path("."))
    assert isinstance(opened, StripeProvider)
    return opened


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_lost_response_is_found_by_lookup_not_charged_again(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql, transport: str
) -> None:
    setup(db_path, clock, shaped, {1: VISA, 2: VISA})
    shaped.faults({1: ["lost_response"]})
    result = bill(provider(shaped, transport=transport), concurrency=4)
    assert sql("SELECT id, status FROM invoice ORDER BY id") == [(1, "PAID"), (2, "PAID")]
    assert shaped.succeeded_per_invoice() == {1: 1, 2: 1}
    assert shaped.stats().get("replayed", 0) == 0  # found by look-up, never re-sent
    assert result.counts.network_retries == 1  # the look-up
    ((ref,),) = sql("SELECT provider_ref FROM payment_attempt WHERE invoice_id = 1")
    assert ref == next(
        i["id"] for i in shaped.intents() if i["metadata"]["antaeus_invoice_id"] == "1"
    )


@pytest.mark.parametrize("fault", ["lost_request", "conflict_409"])
def test_a_request_that_never_ran_is_looked_up_then_re_sent_under_its_key(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql, fault: str
) -> None:
    setup(db_path, clock, shaped, {1: VISA})
    shaped.faults({1: [fault]})
    bill(provider(shaped))
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {1: 1}
    assert sql("SELECT count(DISTINCT idempotency_key) FROM payment_attempt") == [(1,)]


def test_a_saved_500_stays_open_until_its_key_lapses_then_a_new_key_charges(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql
) -> None:
    setup(db_path, clock, shaped, {1: VISA})
    shaped.faults({1: ["status_500"]})
    first = bill(provider(shaped), outage_threshold=100)
    # Stripe saved the 500 under the key: every re-send gets it back, and no charge exists.
    assert first.unresolved == 1
    assert sql("SELECT status FROM invoice") == [("PROCESSING",)]
    assert shaped.stats().get("replayed", 0) >= 1
    clock.advance(hours=12)
    bill(provider(shaped), outage_threshold=100)  # inside the window: still the saved 500
    assert sql("SELECT outcome FROM payment_attempt") == [("unknown",)]
    clock.advance(hours=14)
    shaped.advance(hours=26)
    third = bill(provider(shaped))
    assert third.unresolved == 0
    assert sql("SELECT attempt_no, outcome FROM payment_attempt ORDER BY attempt_no") == [
        (1, "lapsed"),
        (2, "charged"),
    ]
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {1: 1}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_429_is_retried_and_is_never_a_decline(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql, transport: str
) -> None:
    setup(db_path, clock, shaped, {1: VISA, 2: VISA})
    shaped.faults({1: ["rate_limit_429"], 2: ["rate_limit_429"] * 4})  # 4: every try
    result = bill(provider(shaped, transport=transport), concurrency=1)
    assert sql("SELECT id, status FROM invoice ORDER BY id") == [(1, "PAID"), (2, "PENDING")]
    assert sql("SELECT invoice_id, outcome FROM payment_attempt ORDER BY id") == [
        (1, "charged"),
        (2, "not_processed"),
    ]
    assert result.counts.not_processed == 1
    assert result.status.value == "completed"  # a rate limit is not an outage
    bill(provider(shaped))  # the next pass charges it under a new key
    assert sql("SELECT status FROM invoice WHERE id = 2") == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {1: 1, 2: 1}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_declines_and_authentication_are_classified_as_the_tables_say(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql, transport: str
) -> None:
    setup(
        db_path,
        clock,
        shaped,
        {
            1: "pm_card_chargeDeclinedInsufficientFunds",
            2: "pm_card_chargeDeclinedStolenCard",
            3: "pm_card_chargeDeclinedExpiredCard",
            4: "pm_card_authenticationRequired",
            5: None,
            6: "pm_card_chargeDeclined",
        },
    )
    bill(provider(shaped, transport=transport))
    assert sql(
        "SELECT i.id, i.status, a.outcome, a.decline_code, a.decline_class, "
        "a.provider_ref IS NOT NULL FROM invoice i JOIN payment_attempt a ON a.invoice_id = i.id "
        "ORDER BY i.id"
    ) == [
        (1, "FAILED", "declined", "insufficient_funds", "soft", 1),
        (2, "AWAITING_CUSTOMER", "declined_hard", "stolen_card", "hard", 1),
        (3, "AWAITING_CUSTOMER", "needs_customer", "expired_card", "needs_customer", 1),
        (4, "AWAITING_CUSTOMER", "needs_customer", "requires_action", "needs_customer", 1),
        (
            5,
            "AWAITING_CUSTOMER",
            "needs_customer",
            "no_default_payment_method",
            "needs_customer",
            0,
        ),
        (6, "FAILED", "declined", "generic_decline", "soft", 1),
    ]
    assert shaped.succeeded_per_invoice() == {}
    # The key check, 6 customers, 5 charges, and the mark and the cancel of the
    # PaymentIntent that requires action.
    assert shaped.stats()["requests"] == 1 + 6 + 5 + 2


def test_a_processing_charge_is_looked_up_on_later_passes_until_it_settles(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql
) -> None:
    setup(db_path, clock, shaped, {1: "pm_sepa_debit_processing"})
    first = bill(provider(shaped))
    assert sql("SELECT status FROM invoice") == [("PROCESSING",)]
    assert sql("SELECT outcome, provider_ref IS NOT NULL FROM payment_attempt") == [
        ("processing", 1)
    ]
    assert first.unresolved == 1
    assert first.counts.needs_operator == 0
    shaped.advance(hours=1)  # the debit clears
    second = bill(provider(shaped))
    assert second.counts.reconciled == 1
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {1: 1}


def test_retry_failed_releases_an_invoice_awaiting_the_customer(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql
) -> None:
    setup(db_path, clock, shaped, {1: "pm_card_authenticationRequired"})
    bill(provider(shaped))
    assert sql("SELECT status FROM invoice") == [("AWAITING_CUSTOMER",)]
    shaped.customers({"cus_1": VISA})  # the customer added a card that needs no 3-D Secure
    bill(provider(shaped))  # a plain pass leaves it alone
    assert sql("SELECT status FROM invoice") == [("AWAITING_CUSTOMER",)]
    bill(provider(shaped), command=Command.RETRY_FAILED, invoice_ids=(1,))
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {1: 1}


def test_a_payment_intent_that_requires_action_is_canceled_before_the_invoice_waits(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql
) -> None:
    """Left live, the customer could still authenticate it, and a later retry under a
    new key would then charge twice."""
    setup(db_path, clock, shaped, {1: "pm_card_authenticationRequired"})
    bill(provider(shaped))
    assert sql("SELECT status FROM invoice") == [("AWAITING_CUSTOMER",)]
    assert [i["status"] for i in shaped.intents()] == ["canceled"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_payment_intent_canceled_for_authentication_is_found_as_waiting_for_the_customer(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql, transport: str
) -> None:
    """The cancel went through, but its answer was lost: the look-up finds a canceled
    PaymentIntent, and reads it as what it was, one that needs the customer, not as a
    provider error for an operator."""
    setup(db_path, clock, shaped, {1: "pm_card_authenticationRequired"})
    shaped.faults(cancel={1: ["lost_response"]})
    result = bill(provider(shaped, transport=transport))
    assert result.counts.needs_operator == 0
    assert result.counts.awaiting_customer == 1
    assert sql(
        "SELECT i.status, i.failure_code, a.outcome, a.decline_code, a.decline_class "
        "FROM invoice i JOIN payment_attempt a ON a.invoice_id = i.id"
    ) == [("AWAITING_CUSTOMER", "needs_customer", "needs_customer", "requires_action", CUSTOMER)]
    (intent,) = shaped.intents()
    assert intent["status"] == "canceled"
    assert intent["metadata"]["antaeus_canceled"] == "requires_action"
    assert shaped.stats()["canceled"] == 1


def test_a_key_reused_with_other_parameters_stays_open_and_is_looked_up(
    db_path: Path, clock: FixedClock, shaped: Shaped, bill: Bill, sql: Sql
) -> None:
    """The customer's default card changes between a lost response and the re-send: the
    re-send's parameters differ, Stripe refuses the key, and that proves the first
    request was processed. Never closed, never charged under a new key."""
    setup(db_path, clock, shaped, {1: VISA})
    shaped.faults({1: ["lost_response"]})
    provider_ = provider(shaped)
    first = bill(provider_, sweeps=0, retry=RetryPolicy(max_calls=1))  # no in-pass look-up
    assert first.unresolved == 1
    shaped.customers({"cus_1": "pm_card_chargeDeclined"})  # a new default card
    second = bill(provider(shaped))
    assert second.counts.reconciled == 1  # found by look-up: the first request charged
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {1: 1}


def test_a_clock_that_runs_ahead_of_stripe_still_finds_the_charge(
    db_path: Path, shaped: Shaped, bill: Bill, sql: Sql, clock: FixedClock
) -> None:
    """Our clock 15 minutes ahead of Stripe's; the answer lost; the next pass a day
    later, with the key too old to re-send. The look-up reaches back far enough."""
    clock.now = datetime.now(UTC) + timedelta(minutes=15)
    setup(db_path, clock, shaped, {1: VISA})
    shaped.faults({1: ["lost_response"]})
    bill(provider(shaped), sweeps=0, retry=RetryPolicy(max_calls=1))
    assert sql("SELECT outcome FROM payment_attempt") == [("unknown",)]
    clock.advance(hours=23.5)
    shaped.advance(hours=23.5)
    bill(provider(shaped))
    assert sql("SELECT attempt_no, outcome FROM payment_attempt") == [(1, "charged")]
    assert shaped.succeeded_per_invoice() == {1: 1}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_key_is_named_in_the_error_but_none_of_it_is_quoted(
    shaped: Shaped, transport: str
) -> None:
    """Stripe quotes a refused key masked, with its prefix and last four characters."""
    spec = f"stripe://?api_base={shaped.base}&api_key=xk_test_QZXJVKWQPY4321&transport={transport}"
    with pytest.raises(CredentialsRejected) as refused:
        registry.open_provider(registry.resolve(spec), db_path=Path("."))
    assert "Stripe refused the API key (401" in refused.value.message
    for piece in ("xk_test", "QZXJ", "4321"):
        assert piece not in refused.value.message
