"""A stop between the requests of one charge, after Stripe made a PaymentIntent that
requires action and before antaeus canceled it: that PaymentIntent may still charge
if the customer authenticates it, so the attempt must stay open (never handed back,
which would let a new key charge the invoice again); the next pass looks it up and
cancels it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.results import Command, PassResult, RunStatus, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime, run_pass
from antaeus_cli.provider import registry
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice
from antaeus_cli.store.database import Store
from tests.conftest import ME, make_db
from tests.fakes import FixedClock, dead
from tests.stripe.conftest import Shaped

DUE = date(2026, 12, 1)


def run(db_path: Path, server: Shaped, stop: StopRequest) -> PassResult:
    """A pass as `antaeus bill` runs it: the provider is told the pass's stop."""
    spec = registry.resolve(server.spec())
    provider = registry.open_provider(spec, db_path=Path("."), stop=stop.event)
    store = Store.open(db_path)
    try:
        return run_pass(
            store,
            provider,
            PassRequest(Command.BILL, PassSettings(as_of=DUE, retry=RetryPolicy())),
            Runtime(
                clock=lambda: datetime.now(UTC),
                stop=stop,
                observer=SilentObserver(),
                me=ME,
                is_alive=dead,
            ),
        )
    finally:
        store.close()
        provider.close()


def test_a_stop_before_a_payment_intent_needing_action_is_canceled_leaves_it_open(
    db_path: Path, shaped: Shaped, sql: Any
) -> None:
    shaped.customers({"cus_1": "pm_card_authenticationRequired"})
    make_db(
        db_path,
        Scenario.of([SeedCustomer(1, "EUR", None, "cus_1")], [SeedInvoice(1, 1, 1001, "EUR", DUE)]),
        FixedClock(),
    )
    # The PaymentIntent is made at once and answered a second later: within the grace
    # a request in flight gets, so its answer is read, after the stop.
    shaped.slow(delay={"POST /v1/payment_intents": 1})
    stop = StopRequest()

    def signal_once_sent() -> None:
        deadline = time.monotonic() + 20
        while not shaped.requests("POST", "/v1/payment_intents"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        stop.request("received SIGTERM")

    signal = threading.Thread(target=signal_once_sent)
    signal.start()
    result = run(db_path, shaped, stop)
    signal.join()
    assert result.status is RunStatus.INTERRUPTED
    (intent,) = shaped.intents()
    assert intent["status"] == "requires_action"  # not canceled: the pass was stopping
    assert sql("SELECT outcome, finished_at FROM payment_attempt") == [("unknown", None)]
    assert sql("SELECT status FROM invoice") == [("PROCESSING",)]

    shaped.slow()
    again = run(db_path, shaped, StopRequest())
    assert again.status is RunStatus.COMPLETED
    (intent,) = shaped.intents()  # looked up and canceled; no second PaymentIntent
    assert intent["status"] == "canceled"
    assert sql("SELECT outcome FROM payment_attempt") == [("needs_customer",)]
    assert sql("SELECT status FROM invoice") == [("AWAITING_CUSTOMER",)]
