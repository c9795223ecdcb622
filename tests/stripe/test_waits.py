"""The bound on waits, against the Stripe-shaped server: a 429 whose Retry-After asks
for an hour, for ever, or for nonsense holds a pass no longer than the bound; a pass
that waits keeps its lock's lease; a stop ends a wait within seconds."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.results import Command, PassResult, RunStatus, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime, run_pass
from antaeus_cli.domain import waits
from antaeus_cli.domain.clock import AsOf, PassClock
from antaeus_cli.errors import LockHeld
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.provider import registry
from antaeus_cli.provider.port import PaymentProvider
from antaeus_cli.seeding.scenario import Scenario, SeedCustomer, SeedInvoice
from antaeus_cli.store import runs
from antaeus_cli.store.database import Store
from tests.conftest import ME, Sleeps, make_db
from tests.fakes import FixedClock, dead
from tests.stripe.conftest import Shaped

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DUE = date(2026, 12, 1)
VISA = "pm_card_visa"
ELSEWHERE = ProcessIdentity("another-host", 7, "")


def setup(db_path: Path, server: Shaped, invoices: int, retry_after: str) -> None:
    """Invoices 1..n on customers cus_1..cus_n with a card; invoice 1 is answered 429
    on every try, with this Retry-After."""
    server.customers({f"cus_{n}": VISA for n in range(1, invoices + 1)})
    server.faults({1: ["rate_limit_429"] * 20}, retry_after=retry_after)
    make_db(
        db_path,
        Scenario.of(
            [SeedCustomer(n, "EUR", None, f"cus_{n}") for n in range(1, invoices + 1)],
            [SeedInvoice(n, n, 1000 + n, "EUR", DUE) for n in range(1, invoices + 1)],
        ),
        FixedClock(),
    )


def stripe(server: Shaped) -> PaymentProvider:
    return registry.open_provider(registry.resolve(server.spec()), db_path=Path("."))


def rate_limited(server: Shaped, timeout: float = 10.0) -> None:
    """Return once the server has answered a 429."""
    deadline = time.monotonic() + timeout
    while not server.stats().get("rate_limited"):
        assert time.monotonic() < deadline, "no 429 was answered"
        time.sleep(0.02)


def run(db_path: Path, provider: PaymentProvider, stop: StopRequest, **settings: Any) -> PassResult:
    """A pass on the real clock, with real waits (no recorder): as `antaeus bill` runs."""
    store = Store.open(db_path)
    try:
        return run_pass(
            store,
            provider,
            PassRequest(Command.BILL, PassSettings(as_of=DUE, retry=RetryPolicy(), **settings)),
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


@contextlib.contextmanager
def in_a_thread(work: Callable[[], PassResult], stop: StopRequest) -> Iterator[dict[str, Any]]:
    """Run a pass on a thread; stop it and wait for it on the way out, whatever happens."""
    ended: dict[str, Any] = {}

    def target() -> None:
        try:
            ended["result"] = work()
        except Exception as exc:  # noqa: BLE001 - handed to the test to assert on
            ended["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    try:
        yield ended
    finally:
        if not ended:
            thread.join(timeout=15)
        stop.request("the test is over")
        thread.join(timeout=30)


RETRY_AFTERS = [
    "3600",
    "inf",
    "nan",
    "-1",
    "1e308",
    "soon",
    "Fri, 31 Dec 9999 23:59:59 GMT",  # an HTTP date far in the future
    "Thu, 01 Jan 1970 00:00:00 GMT",  # ... and long past
]


@pytest.mark.parametrize("retry_after", RETRY_AFTERS)
def test_no_retry_after_holds_a_pass_past_the_bound(
    db_path: Path,
    shaped: Shaped,
    bill: Bill,
    sql: Sql,
    sleeps: Sleeps,
    monkeypatch: pytest.MonkeyPatch,
    retry_after: str,
) -> None:
    """The bound is made short here, so the pacer's hold (a real one) is short too. The
    refused invoice waits at most the bound, and then is `not_processed`: nothing
    happened, a later pass charges it. The rest of the pass goes on."""
    monkeypatch.setattr(waits, "MAX_WAIT_S", 0.5)
    setup(db_path, shaped, 3, retry_after)
    started = time.monotonic()
    result = bill(stripe(shaped), concurrency=1)
    assert time.monotonic() - started < 10
    assert result.status is RunStatus.COMPLETED
    assert sql("SELECT invoice_id, outcome FROM payment_attempt ORDER BY invoice_id") == [
        (1, "not_processed"),
        (2, "charged"),
        (3, "charged"),
    ]
    assert sql("SELECT status FROM invoice WHERE id = 1") == [("PENDING",)]
    assert sum(sleeps.waits) <= 0.5  # the key's own waits, added up
    assert shaped.succeeded_per_invoice() == {2: 1, 3: 1}


def test_a_pass_that_waits_keeps_its_lease(
    db_path: Path, shaped: Shaped, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One call at a time, a 429 asking for an hour. While the pass waits, a pass on
    another host (which cannot check our pid, and so goes by the heartbeat) finds the
    lock alive, however long the lease has run by then. Scaled down: the bound 5 s,
    the lease 2.5 s, renewed every 0.1 s."""
    monkeypatch.setattr(waits, "MAX_WAIT_S", 5.0)
    monkeypatch.setattr(runs, "LEASE_TTL", timedelta(seconds=2.5))
    monkeypatch.setattr(runs, "HEARTBEAT_EVERY", timedelta(seconds=0.1))
    setup(db_path, shaped, 2, "3600")
    stop = StopRequest()
    with in_a_thread(lambda: run(db_path, stripe(shaped), stop, concurrency=1), stop) as ended:
        rate_limited(shaped)
        time.sleep(3.5)  # longer than the lease: a lapsed one would be taken over now
        assert not ended, "the pass did not wait"
        store = Store.open(db_path)
        try:
            with pytest.raises(LockHeld):
                runs.start_run(
                    store,
                    command="bill",
                    clock=PassClock(AsOf.on(DUE), UTC),
                    provider="x",
                    me=ELSEWHERE,
                    now=datetime.now(UTC),
                    is_alive=lambda _holder: None,
                )
        finally:
            store.close()
    assert "error" not in ended, ended.get("error")
    assert ended["result"].status is RunStatus.COMPLETED
    assert sql("SELECT invoice_id, outcome FROM payment_attempt ORDER BY invoice_id") == [
        (1, "not_processed"),
        (2, "charged"),
    ]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_stop_ends_a_wait_within_seconds(
    db_path: Path, shaped: Shaped, sql: Sql, concurrency: int
) -> None:
    """The full bound (60 s), a Retry-After of an hour, real waits; SIGTERM's request
    comes while the pass waits, and the pass ends at once with what it had."""
    setup(db_path, shaped, 2, "3600")
    stop = StopRequest()

    def signal_once_limited() -> None:
        rate_limited(shaped)
        time.sleep(0.3)  # the pass is waiting by now
        stop.request("received SIGTERM; stopped claiming, settled what was in flight")

    signal = threading.Thread(target=signal_once_limited)
    signal.start()
    started = time.monotonic()
    result = run(db_path, stripe(shaped), stop, concurrency=concurrency)
    took = time.monotonic() - started
    signal.join()
    assert took < 5
    assert result.status is RunStatus.INTERRUPTED
    assert sql("SELECT status FROM invoice WHERE id = 1") == [("PENDING",)]
    assert 1 not in shaped.succeeded_per_invoice()
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(0,)]
