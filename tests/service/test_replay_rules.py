"""Rules of a replay that no other test pins: a key that may have moved money is never
closed as if nothing happened, and a retry is claimed with its dunning state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.domain.guards import GUARDS_OFF
from antaeus_cli.domain.invoice import DunningState
from antaeus_cli.store import claims, runs
from antaeus_cli.store.database import Store
from tests.conftest import ME
from tests.fakes import CHARGED, DECLINED, RATE_LIMITED, Crash, FakeProvider, dead

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


def test_a_replay_rate_limited_on_every_try_stays_open_and_is_never_charged_twice(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider, batch_size=1)  # invoice 1 was charged; the pass died before it knew
    provider.default, provider.can_lookup = RATE_LIMITED, False
    bill(provider, sweeps=0)
    # Nothing answered the replay, but its key may have moved money: it stays open.
    assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 1") == [("unknown",)]
    # A fresh charge that was rate limited on every try is closed: nothing happened.
    assert sql(
        "SELECT outcome, finished_at IS NOT NULL FROM payment_attempt "
        "WHERE invoice_id = 2 ORDER BY id DESC LIMIT 1"
    ) == [("not_processed", 1)]
    provider.default, provider.can_lookup = CHARGED, True
    bill(provider)
    assert len(provider.charges_for(1)) == 1
    assert sql("SELECT id, status FROM invoice") == [(1, "PAID"), (2, "PAID")]


def test_a_retry_is_claimed_with_its_dunning_state(
    make: Callable[..., Path], bill: Bill, db_path: Path
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    bill(FakeProvider(script={1: [DECLINED]}))
    store = Store.open(db_path)
    try:
        run = runs.start_run(
            store,
            command="retry-failed",
            as_of=date(2026, 12, 2),
            provider="x",
            me=ME,
            now=datetime.now(UTC),
            is_alive=dead,
        )
        with store.transaction() as conn:
            found = claims.claim_due(
                conn,
                claims.Due.RETRY,
                date(2026, 12, 2),
                claims.BEFORE_FIRST,
                10,
                namespace="ns",
                run_id=run.run_id,
                command="retry-failed",
                now=datetime.now(UTC),
                amount=GUARDS_OFF,
            )
            assert found is not None
            [attempt] = found.attempts
            assert attempt.invoice.id == 1
            assert attempt.attempt_no == 2
            assert attempt.dunning == DunningState(1, date(2026, 12, 1))
            assert found.others == []
    finally:
        store.close()
    result = bill(FakeProvider(), command=Command.RETRY_FAILED, as_of=date(2026, 12, 2))
    assert result.counts.paid == 1
