"""One deadline for a whole exchange with Stripe (`timeout_s`): every request of a
charge together, and every byte of their answers, not each read on its own. Against
the Stripe-shaped server, slowed per request line, on both transports."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

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
CREATE = ("POST", "/v1/payment_intents")
TRANSPORTS = ["http", "sdk"]


def setup(db_path: Path, server: Shaped) -> None:
    """Invoice 1, EUR 10.01, billed to cus_1, who has a card."""
    server.customers({"cus_1": "pm_card_visa"})
    make_db(
        db_path,
        Scenario.of([SeedCustomer(1, "EUR", None, "cus_1")], [SeedInvoice(1, 1, 1001, "EUR", DUE)]),
        FixedClock(),
    )


def bill_within(db_path: Path, spec: str, seconds: float) -> PassResult:
    """A pass as `antaeus bill` runs it (the real clock, real waits), on a thread: it
    must end within `seconds`, or the test fails (the server's teardown then ends it)."""
    ended: dict[str, Any] = {}

    def work() -> None:
        provider = registry.open_provider(registry.resolve(spec), db_path=Path("."))
        store = Store.open(db_path)
        try:
            ended["result"] = run_pass(
                store,
                provider,
                PassRequest(Command.BILL, PassSettings(as_of=DUE, retry=RetryPolicy())),
                Runtime(
                    clock=lambda: datetime.now(UTC),
                    stop=StopRequest(),
                    observer=SilentObserver(),
                    me=ME,
                    is_alive=dead,
                ),
            )
        finally:
            store.close()
            provider.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert "result" in ended, f"the pass was still running after {seconds} s"
    result: PassResult = ended["result"]
    return result


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_answer_trickled_a_byte_at_a_time_ends_at_the_exchange_deadline(
    db_path: Path, shaped: Shaped, sql: Any, transport: str
) -> None:
    """Stripe makes the charge and sends its answer a byte every 0.3 s: no read waits
    long, so a bound per read never fires, and the answer would take minutes. The
    exchange ends at its deadline (2 s) all the same. The charge may have happened, so
    the key is looked up, found, and recorded as charged: nothing is sent again."""
    setup(db_path, shaped)
    shaped.slow(trickle={"POST /v1/payment_intents": 0.3})
    result = bill_within(db_path, shaped.spec(timeout_s="2", transport=transport), 20)
    assert result.status is RunStatus.COMPLETED
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {1: 1}
    assert len(shaped.requests(*CREATE)) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_deadline_covers_every_request_of_a_charge_together(
    db_path: Path, shaped: Shaped, sql: Any, transport: str
) -> None:
    """The customer's answer takes 2 s and the PaymentIntent's 2 s: each within the
    3 s deadline, but not both. The exchange ends 3 s after it began, while the
    PaymentIntent's answer is still on its way; its key is looked up (the charge was
    made) before that answer would have come, and nothing is sent again."""
    setup(db_path, shaped)
    shaped.slow(delay={"GET /v1/customers/": 2, "POST /v1/payment_intents": 2})
    result = bill_within(db_path, shaped.spec(timeout_s="3", transport=transport), 20)
    assert result.status is RunStatus.COMPLETED
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert shaped.succeeded_per_invoice() == {1: 1}
    assert len(shaped.requests(*CREATE)) == 1
    (began,) = shaped.requests("GET", "/v1/customers/cus_1")
    looked_up = shaped.requests("GET", "/v1/payment_intents")[1:]  # after the first probe
    assert looked_up, "the key was never looked up: the exchange outlived its deadline"
    assert looked_up[0]["at"] - began["at"] < 4.0  # before the answer would have come
