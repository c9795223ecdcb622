"""The bound on waits in a whole pass, with an in-process provider: the thread that
holds the lock makes the calls and waits out their retries itself, and still keeps
its lease. Time passes on the pass's clock, at once: nothing sleeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from antaeus_cli.billing.calls import RetryPolicy
from antaeus_cli.billing.results import PassResult, RunStatus
from antaeus_cli.domain.clock import AsOf, PassClock
from antaeus_cli.domain.waits import MAX_WAIT_S
from antaeus_cli.errors import LockHeld
from antaeus_cli.host import ProcessIdentity
from antaeus_cli.store import runs
from antaeus_cli.store.database import Store
from tests.conftest import AS_OF
from tests.fakes import RATE_LIMITED, FakeProvider, FixedClock

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
ELSEWHERE = ProcessIdentity("another-host", 7, "")


def test_a_pass_waiting_out_a_429_keeps_its_lease_from_a_pass_elsewhere(
    make: Callable[..., Path], bill: Bill, sql: Sql, clock: FixedClock, db_path: Path
) -> None:
    """A key may be tried 20 times, and the provider asks an hour each time. At every
    wait a pass on another host (which goes by the heartbeat) tries to start: it never
    finds the lease lapsed, because the key waits the bound once, in all."""
    make((1, 100, "EUR"), (2, 100, "EUR"))
    waited: list[float] = []
    taken_over: list[str] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(seconds=seconds)
        store = Store.open(db_path)
        try:
            runs.start_run(
                store,
                command="bill",
                clock=PassClock(AsOf.on(AS_OF), UTC),
                provider="x",
                me=ELSEWHERE,
                now=clock(),
                is_alive=lambda _holder: None,
            )
            taken_over.append(f"after {sum(waited):g} s of waits")
        except LockHeld:
            pass
        finally:
            store.close()

    provider = FakeProvider(script={1: [RATE_LIMITED]}, retry_after=3600.0)
    result = bill(provider, retry=RetryPolicy(max_calls=20, sleep=sleep))
    assert taken_over == []
    assert sum(waited) <= MAX_WAIT_S < runs.LEASE_TTL.total_seconds()
    assert result.status is RunStatus.COMPLETED
    assert result.counts.not_processed == 1
    assert sql("SELECT id, status FROM invoice ORDER BY id") == [(1, "PENDING"), (2, "PAID")]
