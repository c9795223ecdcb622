"""Rules of a replay that no other test pins: a key that may have moved money is never
closed as if nothing happened, and a retry is claimed with its dunning state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.domain.guards import GUARDS_OFF
from antaeus_cli.domain.invoice import DunningState
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store import claims, runs
from antaeus_cli.store.database import Store
from tests.conftest import ME
from tests.fakes import (
    CHARGED,
    DECLINED,
    LOST_REQUEST,
    RATE_LIMITED,
    Crash,
    FakeProvider,
    FixedClock,
    days_on,
    dead,
    on,
)

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
    # Nothing answered the replay, but its key may have moved money: it stays open, with
    # why, and no pass has settled it.
    assert sql(
        "SELECT outcome, settled_by_run_id, finished_at FROM payment_attempt WHERE invoice_id = 1"
    ) == [("unknown", None, None)]
    [(why,)] = sql("SELECT error FROM payment_attempt WHERE invoice_id = 1")
    assert why == (
        "cannot look the charge up, so it is not re-sent: this provider cannot list charges by key"
    )
    # A fresh charge that was rate limited on every try is closed: nothing happened.
    assert sql(
        "SELECT outcome, finished_at IS NOT NULL FROM payment_attempt "
        "WHERE invoice_id = 2 ORDER BY id DESC LIMIT 1"
    ) == [("not_processed", 1)]
    provider.default, provider.can_lookup = CHARGED, True
    bill(provider)
    assert len(provider.charges_for(1)) == 1
    assert sql("SELECT outcome, error FROM payment_attempt WHERE invoice_id = 1") == [
        ("charged", None)
    ]
    assert sql("SELECT id, status FROM invoice") == [(1, "PAID"), (2, "PAID")]


def test_a_retry_is_claimed_with_its_dunning_state(
    make: Callable[..., Path], bill: Bill, db_path: Path
) -> None:
    make(
        SeedInvoice(1, 7, 100, "EUR", date(2026, 12, 1)),
        SeedInvoice(2, 8, 100, "EUR", date(2026, 12, 1)),
        customers={7: "EUR", 8: "EUR"},
    )
    bill(FakeProvider(script={1: [DECLINED]}))
    store = Store.open(db_path)
    try:
        run = runs.start_run(
            store,
            command="retry-failed",
            clock=on(date(2026, 12, 2)),
            provider="x",
            me=ME,
            now=datetime.now(UTC),
            is_alive=dead,
        )
        with store.transaction() as conn:
            found = claims.claim_due(
                conn,
                claims.Due.RETRY,
                days_on(date(2026, 12, 2)),
                claims.BEFORE_FIRST,
                10,
                namespace="ns",
                run_id=run.run_id,
                command="retry-failed",
                now=datetime.now(UTC),
                amount=GUARDS_OFF,
                latest=claims.CLEAN,
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


def test_open_attempts_are_replayed_page_by_page(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 8)])
    provider = FakeProvider(crash_after_booking={7})
    with pytest.raises(Crash):
        bill(provider, batch_size=10)  # all seven claimed; only 7 answered, unrecorded
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(7,)]
    result = bill(provider, batch_size=2, sweeps=0)
    assert result.counts.reconciled == 7
    assert result.unresolved == 0
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PAID'") == [(7,)]


def test_a_key_is_not_re_sent_within_a_tenth_of_a_short_retention_of_its_end(
    make: Callable[..., Path], bill: Bill, sql: Sql, clock: FixedClock
) -> None:
    """Five hours of retention: the last half hour is a safety margin (a tenth, at most
    one hour), so a key not found at 4.2 h is re-sent, and one at 4.52 h is not."""
    make((1, 100, "EUR"), (2, 100, "EUR"))
    crashed = FakeProvider(crash_after_booking={2}, key_retention=timedelta(hours=5))
    with pytest.raises(Crash):
        bill(crashed, batch_size=10)
    crashed.booked.clear()  # the provider has no charge under either key, say
    started = clock.now
    clock.now = started + timedelta(hours=4.2)
    first = FakeProvider(key_retention=timedelta(hours=5), script={2: [LOST_REQUEST]})
    bill(first, sweeps=0, outage_threshold=100)
    assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 1") == [("charged",)]
    clock.now = started + timedelta(hours=4.52)
    later = FakeProvider(key_retention=timedelta(hours=5))
    bill(later, sweeps=0)
    [(outcome, why)] = sql(
        "SELECT outcome, error FROM payment_attempt WHERE invoice_id = 2 AND attempt_no = 1"
    )
    assert outcome == "lapsed"
    assert "the key is 4.5 h old, past the 4.5 h it may safely be re-sent within" in why
    assert sql("SELECT status FROM invoice WHERE id = 2") == [("PAID",)]  # under a new key


def test_a_key_not_found_is_sent_again_only_while_its_invoice_is_still_the_one_judged(
    make: Callable[..., Path], bill: Callable[..., PassResult], sql: Any, edit: Any
) -> None:
    """Sent again, a key the provider does not know is a new charge: not once its
    invoice was re-dated, edited, settled by hand, or its customer's zone went unknown."""
    from tests.fakes import LOST_REQUEST, FakeProvider

    make(*[(i, 100, "EUR") for i in range(1, 6)])
    bill(FakeProvider(default=LOST_REQUEST), sweeps=0, outage_threshold=100)
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(5,)]
    edit("UPDATE invoice SET due_date = '2027-03-01' WHERE id = 1")
    edit("UPDATE invoice SET amount = 99 WHERE id = 2")
    edit("UPDATE invoice SET status = 'PAID', paid_at = '2026-12-01T09:00:00+00:00' WHERE id = 3")
    edit("UPDATE customer SET timezone = 'Mars/Base' WHERE id = 4")
    provider = FakeProvider()
    bill(provider)
    assert [invoice for invoice, _ in provider.calls] == [5]
    assert sql(
        "SELECT invoice_id, outcome FROM payment_attempt WHERE attempt_no = 1 ORDER BY 1"
    ) == [(1, "lapsed"), (2, "lapsed"), (3, "lapsed"), (4, "lapsed"), (5, "charged")]
