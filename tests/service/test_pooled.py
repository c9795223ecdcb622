"""The pooled engine, for a provider that waits on the network: its bound on calls in
flight, its stops, and an error it must not mask."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.engine import StopRequest
from antaeus_cli.billing.results import PassResult, RunStatus
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.money import Currency
from antaeus_cli.provider.port import Answer
from antaeus_cli.store import runs
from tests.fakes import CHARGED, DECLINED, LOST_REQUEST, Crash, FakeProvider, FixedClock

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


class CrowdedProvider(FakeProvider):
    """Each call waits, briefly and boundedly, for one more call than the bound to
    arrive; so the most calls ever in flight at once is what the engine allowed."""

    def __init__(self, bound: int) -> None:
        super().__init__(io_bound=True)
        self.bound = bound
        self.active = 0
        self.most = 0
        self._crowd = threading.Condition()

    def charge(self, invoice: Invoice, idempotency_key: str) -> Answer:
        with self._crowd:
            self.active += 1
            self.most = max(self.most, self.active)
            self._crowd.notify_all()
            self._crowd.wait_for(lambda: self.active > self.bound, timeout=0.05)
        try:
            return super().charge(invoice, idempotency_key)
        finally:
            with self._crowd:
                self.active -= 1


@pytest.mark.parametrize("concurrency", [1, 4])
def test_never_more_calls_in_flight_than_concurrency(
    make: Callable[..., Path], bill: Bill, sql: Sql, concurrency: int
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 4 * concurrency + 2)])
    provider = CrowdedProvider(concurrency)
    result = bill(provider, concurrency=concurrency, batch_size=10)
    assert result.counts.paid == 4 * concurrency + 1
    assert provider.most == concurrency


def test_a_cap_hands_back_the_claimed_invoices_it_did_not_send(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 21)])
    provider = FakeProvider(io_bound=True)
    caps = RunLimits(max_total={Currency("EUR"): 3000})
    result = bill(provider, concurrency=2, batch_size=8, limits=caps)
    assert result.status is RunStatus.STOPPED_CAP
    assert len(provider.calls) == 3
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PAID'") == [(3,)]
    # Nothing claimed is left open: what was not sent was handed back, and is due again.
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(0,)]
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PENDING'") == [(17,)]
    assert result.unresolved == 0


def test_an_unexpected_error_is_not_masked_by_a_commit_that_fails_after_it(
    make: Callable[..., Path], bill: Bill, edit: Callable[..., None]
) -> None:
    """The pass's own error is what surfaces, even when salvaging its answers fails too
    (here because another pass took the lock meanwhile)."""
    make(*[(i, 100, "EUR") for i in range(1, 6)])

    def broken(invoice_id: int) -> None:
        if invoice_id == 3:
            edit("UPDATE pass_lock SET process_tag = 'someone-else', pid = pid + 1")
            edit(
                "INSERT INTO billing_run (command, as_of, provider, host, pid, started_at) "
                "SELECT 'bill', as_of, provider, host, pid, started_at FROM billing_run"
            )
            edit("UPDATE pass_lock SET run_id = (SELECT max(id) FROM billing_run)")
            raise RuntimeError("a bug in the provider adapter")

    with pytest.raises(RuntimeError, match="a bug in the provider adapter"):
        bill(FakeProvider(after_call=broken))


class WatchedEvent(threading.Event):
    """A stop event that says when a call has begun to wait on it for a rate slot."""

    def __init__(self) -> None:
        super().__init__()
        self.someone_waits = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and timeout > 1:
            self.someone_waits.set()
        return super().wait(timeout)


def test_a_call_stopped_while_it_waits_for_a_rate_slot_is_handed_back(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 6)])
    stop = StopRequest()
    stop.event = watched = WatchedEvent()

    def second_call(invoice_id: int) -> None:
        if invoice_id == 2:  # by now invoice 3 waits for a slot: the burst of 2 is spent
            assert watched.someone_waits.wait(timeout=10)
            stop.request("SIGTERM")

    provider = FakeProvider(io_bound=True, after_call=second_call)
    result = bill(provider, stop=stop, concurrency=2, max_rate=0.05)  # then 20 s a slot
    assert result.status is RunStatus.INTERRUPTED
    assert sorted(invoice for invoice, _ in provider.calls) == [1, 2]
    assert sql("SELECT outcome, count(*) FROM payment_attempt GROUP BY outcome") == [
        ("abandoned", 3),
        ("charged", 2),
    ]
    assert result.counts.released == 3


def test_a_batch_with_nothing_to_send_does_not_end_the_phase(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 0, "EUR"), (2, 100, "XYZ"), (3, 100, "EUR"), (4, 100, "EUR"))
    provider = FakeProvider(io_bound=True)
    result = bill(provider, batch_size=2, concurrency=2)
    assert sorted(invoice for invoice, _ in provider.calls) == [3, 4]
    assert result.counts.paid == 2


def test_answers_are_committed_as_the_pass_goes(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """By batch and by time: a crash late in a pass leaves only the latest answers open."""
    make(*[(i, 100, "EUR") for i in range(1, 201)])
    seen: dict[int, int] = {}

    def look(invoice_id: int) -> None:
        if invoice_id in (150, 199):
            (paid,) = sql("SELECT count(*) FROM invoice WHERE status = 'PAID'")[0]
            seen[invoice_id] = paid

    # inline: every 64 invoices; the breaker off, so the pass walks in id order from the
    # start (a breaker's sample would charge a spread of 100 first)
    bill(FakeProvider(after_call=look), flush_seconds=0, limits=RunLimits(breaker_rate=1.0))
    assert seen == {150: 128, 199: 192}


@pytest.mark.parametrize(("batch_size", "flush_seconds"), [(5, 10**9), (500, 0)])
def test_pooled_answers_are_committed_by_batch_and_by_time(
    make: Callable[..., Path], bill: Bill, sql: Sql, batch_size: int, flush_seconds: float
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 31)])
    seen: list[int] = []

    def look(invoice_id: int) -> None:
        if invoice_id == 25:
            seen.append(sql("SELECT count(*) FROM invoice WHERE status = 'PAID'")[0][0])

    provider = FakeProvider(io_bound=True, after_call=look)
    bill(provider, concurrency=1, batch_size=batch_size, flush_seconds=flush_seconds)
    assert seen[0] >= 20


def test_a_pass_that_recovers_first_still_commits_as_it_goes(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 11)])
    with pytest.raises(Crash):
        bill(FakeProvider(io_bound=True, crash_after_booking={1}), concurrency=1, batch_size=2)
    result = bill(FakeProvider(io_bound=True), concurrency=2, flush_seconds=0)
    assert result.counts.paid == 10
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(0,)]


def test_the_lease_is_renewed_while_calls_go_on(
    make: Callable[..., Path],
    bill: Bill,
    sql: Sql,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 6)])
    monkeypatch.setattr(runs, "HEARTBEAT_EVERY", timedelta(0))
    start, seen = clock.now, []

    def tick(invoice_id: int) -> None:
        seen.append(sql("SELECT heartbeat_at FROM pass_lock")[0][0])
        clock.now = start + timedelta(minutes=invoice_id)

    bill(FakeProvider(io_bound=True, after_call=tick), concurrency=1)
    assert seen[3] == (start + timedelta(minutes=3)).isoformat()


class StoppedDuringWait(threading.Event):
    """A stop event that is set, as the CLI's signal handler would set it, while a call
    waits for its rate slot (real signals: tests/process)."""

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and timeout > 1:
            self.set()
        return super().wait(timeout)


def test_an_inline_call_stopped_while_it_waits_for_a_rate_slot_is_handed_back(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """The simulator's path: one call at a time, paced by --max-rate."""
    make(*[(i, 100, "EUR") for i in range(1, 5)])
    stop = StopRequest()
    stop.event = StoppedDuringWait()
    provider = FakeProvider()
    result = bill(provider, stop=stop, concurrency=1, max_rate=0.01)
    assert (result.status, result.stop_reason) == (RunStatus.INTERRUPTED, "interrupted")
    assert [invoice for invoice, _ in provider.calls] == [1]
    assert result.counts.released == 3
    assert sql("SELECT outcome, count(*) FROM payment_attempt GROUP BY outcome") == [
        ("abandoned", 3),
        ("charged", 1),
    ]


def test_the_breaker_keeps_the_reason_it_tripped_for(make: Callable[..., Path], bill: Bill) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 31)])
    provider = FakeProvider(io_bound=True, default=DECLINED)
    limits = RunLimits(breaker_rate=0.5, breaker_window=10)
    result = bill(provider, concurrency=4, batch_size=10, limits=limits)
    assert result.status is RunStatus.STOPPED_BREAKER
    assert (result.stop_reason or "").startswith(
        "decline-rate breaker: 6 of the first 6 charges declined"
    )


def test_an_answer_ends_a_streak_of_lost_requests(make: Callable[..., Path], bill: Bill) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 10)])
    script = {5: [CHARGED]}
    provider = FakeProvider(default=LOST_REQUEST, script=script)
    result = bill(provider, outage_threshold=5, sweeps=0)
    # Four lost, one answer, four lost: never five in a row.
    assert result.status is RunStatus.COMPLETED
