"""Crashes, unknown outcomes and outages: what the next pass makes of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli import failpoints as fp
from antaeus_cli.billing.engine import PassSettings, StopRequest
from antaeus_cli.billing.results import Command, PassResult, RunStatus, SilentObserver
from antaeus_cli.billing.service import PassRequest, Runtime
from antaeus_cli.errors import LockHeld
from antaeus_cli.store.database import Store
from tests.conftest import ME, bounded_pass
from tests.fakes import (
    DECLINED,
    LOST_REQUEST,
    LOST_RESPONSE,
    Crash,
    FakeProvider,
    FixedClock,
    alive,
    dead,
)

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


def test_a_crash_after_the_provider_charged_is_reconciled_without_a_second_charge(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 6)])
    provider = FakeProvider(crash_after_booking={3})
    with pytest.raises(Crash):
        bill(provider, batch_size=10)
    # The crash left invoice 3's attempt open; 4 and 5 were claimed but never sent. The
    # invoices themselves are untouched until an answer is recorded.
    assert sql("SELECT status FROM invoice WHERE id = 3") == [("PENDING",)]
    assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 3") == [("started",)]
    result = bill(provider)
    assert result.counts.reconciled >= 1
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PAID'") == [(5,)]
    for invoice_id in range(1, 6):
        assert len(provider.charges_for(invoice_id)) == 1, invoice_id
    assert sql("SELECT count(*) FROM payment_attempt WHERE outcome IN ('started','unknown')") == [
        (0,)
    ]


def test_the_replay_uses_the_original_key_and_amount(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider)
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE invoice SET amount = 999999 WHERE id = 1")  # edited mid-flight
    conn.commit()
    conn.close()
    bill(provider)
    keys = {key for _, key in provider.calls}
    assert len(keys) == 1
    assert sql("SELECT amount, outcome FROM payment_attempt") == [(100, "charged")]


def test_unknown_outcomes_are_settled_by_the_end_of_pass_sweep(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    provider = FakeProvider(
        script={1: [LOST_RESPONSE] * 4 + ["charged"], 2: [LOST_REQUEST] * 4 + [DECLINED]}
    )
    result = bill(provider, sweeps=3)
    assert result.status is RunStatus.COMPLETED
    assert result.unresolved == 0
    assert dict(sql("SELECT id, status FROM invoice")) == {1: "PAID", 2: "FAILED"}
    assert provider.charges_for(1) == [key for _, key in provider.calls if "-inv-1-" in key][:1]
    # 1: the charge, then a look-up that finds it. 2: four charges with three look-ups
    # between them in the pass, then a look-up and a fifth charge in the sweep.
    assert sql("SELECT provider_calls FROM payment_attempt ORDER BY invoice_id") == [(2,), (9,)]


def test_an_outcome_that_stays_unknown_keeps_its_key_for_the_next_pass(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(script={1: [LOST_REQUEST] * 8 + ["charged"]})
    first = bill(provider, sweeps=1, outage_threshold=100)
    assert first.unresolved == 1
    assert sql("SELECT status FROM invoice") == [("PROCESSING",)]
    assert sql("SELECT outcome FROM payment_attempt") == [("unknown",)]
    second = bill(provider, sweeps=1)
    assert second.counts.reconciled == 1
    assert sql("SELECT status FROM invoice") == [("PAID",)]
    assert len({key for _, key in provider.calls}) == 1
    assert len(provider.charged_keys) == 1


def test_an_outage_stops_the_pass_and_burns_no_dunning_step(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 21)])
    down = FakeProvider(default=LOST_REQUEST)
    result = bill(down, outage_threshold=3, batch_size=5)
    assert result.status is RunStatus.STOPPED_OUTAGE
    assert "3 invoices in a row" in (result.stop_reason or "")
    assert len({invoice_id for invoice_id, _ in down.calls}) == 3
    by_status = dict(sql("SELECT status, count(*) FROM invoice GROUP BY status"))
    assert by_status == {"PROCESSING": 3, "PENDING": 17}
    assert sql("SELECT max(decline_count) FROM invoice") == [(0,)]
    assert sql("SELECT outcome, count(*) FROM payment_attempt GROUP BY outcome") == [
        ("abandoned", 2),
        ("unknown", 3),
    ]
    assert sql("SELECT status FROM billing_run") == [("stopped_outage",)]
    recovered = bill(FakeProvider())
    assert recovered.status is RunStatus.COMPLETED
    assert recovered.counts.reconciled == 3
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PAID'") == [(20,)]


def test_a_stop_request_releases_what_was_not_sent(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 11)])
    stop = StopRequest()

    class StopsAfterThree(FakeProvider):
        def charge(self, invoice: Any, idempotency_key: str) -> bool:
            answer = super().charge(invoice, idempotency_key)
            if len(self.calls) == 3:
                stop.request("received SIGTERM")
            return answer

    result = bill(StopsAfterThree(), stop=stop, batch_size=10)
    assert result.status is RunStatus.INTERRUPTED
    assert result.counts.paid == 3
    assert result.counts.released == 7
    assert dict(sql("SELECT status, count(*) FROM invoice GROUP BY status")) == {
        "PAID": 3,
        "PENDING": 7,
    }
    assert sql("SELECT status, stop_reason FROM billing_run") == [
        ("interrupted", "received SIGTERM")
    ]
    assert bill(FakeProvider()).counts.paid == 7


def test_a_live_pass_holds_the_lock(make: Callable[..., Path], bill: Bill, sql: Sql) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider)
    sql("SELECT 1")  # nothing else may have started meanwhile
    with pytest.raises(LockHeld, match="another pass holds the lock"):
        bill(FakeProvider(), is_alive=alive)
    assert sql("SELECT count(*) FROM billing_run") == [(1,)]


def test_a_dead_holders_run_is_marked_crashed_and_taken_over(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider)
    result = bill(provider)
    assert result.took_over_from == 1
    assert sql("SELECT id, status FROM billing_run ORDER BY id") == [
        (1, "crashed"),
        (2, "completed"),
    ]


def test_a_pass_whose_every_request_failed_is_an_outage_however_few_invoices(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    result = bill(FakeProvider(default=LOST_REQUEST), outage_threshold=5)
    assert result.status is RunStatus.STOPPED_OUTAGE
    assert result.stop_reason == (
        "provider outage: every request of this pass ended in network failures (4 answers "
        "lost); the invoices stay in flight"
    )
    assert sql("SELECT status FROM billing_run") == [("stopped_outage",)]
    # One answer is enough for the pass to be a pass, not an outage.
    make_again = FakeProvider(script={1: [LOST_REQUEST], 2: ["charged"]})
    assert bill(make_again, outage_threshold=5).status is RunStatus.COMPLETED


@pytest.mark.parametrize(
    ("point", "charged"),
    [(fp.AFTER_ATTEMPT_COMMIT, []), (fp.AFTER_PROVIDER_CHARGE, ["ns-inv-2-1"])],
)
def test_a_failpoint_fires_at_its_seam_for_its_invoice_only(
    make: Callable[..., Path],
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
    charged: list[str],
) -> None:
    """The seams the process tests kill at: here the kill is an exception instead."""
    make((1, 100, "EUR"), (2, 100, "EUR"), (3, 100, "EUR"))

    def killed(pid: int, signum: int) -> None:
        raise Crash(f"killed at {point}")

    monkeypatch.setattr(fp.os, "kill", killed)
    provider = FakeProvider()
    store = Store.open(db_path)
    try:
        with pytest.raises(Crash, match=point):
            bounded_pass(
                store,
                provider,
                PassRequest(Command.BILL, PassSettings(as_of=date(2026, 12, 1))),
                Runtime(
                    FixedClock(),
                    StopRequest(),
                    SilentObserver(),
                    ME,
                    dead,
                    fp.Failpoints({(point, 2)}),
                ),
            )
    finally:
        store.close()
    namespace = store.namespace
    assert [key.replace(namespace, "ns") for key in provider.charged_keys][1:] == charged
