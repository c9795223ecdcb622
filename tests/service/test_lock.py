"""The pass lock: liveness of its holder, fencing, and losing it mid-pass."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.engine import StopRequest
from antaeus_cli.billing.results import PassResult
from antaeus_cli.errors import LockLost
from antaeus_cli.host import ProcessIdentity, current_process, is_alive
from tests.fakes import FakeProvider

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


def test_this_process_is_alive() -> None:
    assert is_alive(current_process()) is True


def test_a_finished_process_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    me = current_process()
    boot, namespace, _ = me.tag.split("/")
    start = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[19]
    child.wait()
    assert is_alive(ProcessIdentity(me.host, child.pid, f"{boot}/{namespace}/{start}")) is False


def test_a_reused_pid_is_not_the_holder() -> None:
    me = current_process()
    boot, namespace, _ = me.tag.split("/")
    assert is_alive(ProcessIdentity(me.host, os.getpid(), f"{boot}/{namespace}/1")) is False


@pytest.mark.parametrize(
    "holder",
    [
        ProcessIdentity("another-host", 1, "b/ns/1"),
        # Same hostname, another container: its pid 1 is not ours to check.
        ProcessIdentity(current_process().host, 1, "boot/pid:[4026531999]/12"),
        ProcessIdentity(current_process().host, 1, ""),
    ],
)
def test_a_holder_whose_pid_means_nothing_here_is_unknown(holder: ProcessIdentity) -> None:
    assert is_alive(holder) is None


def _steal_lock(db_path: Path) -> None:
    """Another pass takes the lock over, as if it had presumed this one dead."""
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO billing_run (command, as_of, provider, host, pid, started_at) "
        "VALUES ('bill', '2026-12-01', 'x', 'elsewhere', 1, '2026-12-01T00:00:00+00:00')"
    )
    conn.execute("UPDATE pass_lock SET run_id = last_insert_rowid(), host = 'elsewhere'")
    conn.commit()
    conn.close()


def _give_lock_back(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM pass_lock")
    conn.commit()
    conn.close()


def test_a_pass_that_lost_its_lock_writes_nothing_more(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 9)])

    class StolenAtThree(FakeProvider):
        stolen = False

        def charge(self, invoice: Any, idempotency_key: str) -> bool:
            if invoice.id == 3 and not self.stolen:
                self.stolen = True
                _steal_lock(db_path)
            return super().charge(invoice, idempotency_key)

    provider = StolenAtThree()
    with pytest.raises(LockLost, match="lost the pass lock"):
        bill(provider, batch_size=8)
    # Nothing after the theft was committed: the claims stay open, unsettled, unreleased.
    assert sql("SELECT count(*) FROM payment_attempt WHERE outcome = 'started'") == [(8,)]
    _give_lock_back(db_path)
    bill(provider)
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PAID'") == [(8,)]
    assert sorted(provider.booked) == sorted(set(provider.booked))
    for invoice_id in range(1, 9):
        assert len(provider.charges_for(invoice_id)) == 1


def test_a_stopping_pass_that_lost_its_lock_abandons_nothing(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 6)])
    stop = StopRequest()

    class StolenThenStopped(FakeProvider):
        def charge(self, invoice: Any, idempotency_key: str) -> bool:
            answer = super().charge(invoice, idempotency_key)
            if invoice.id == 2:
                _steal_lock(db_path)
                stop.request("received SIGTERM")
            return answer

    with pytest.raises(LockLost):
        bill(StolenThenStopped(), stop=stop, batch_size=5)
    # Its claims stay open for the pass that took over: none abandoned, none re-keyed.
    assert sql("SELECT count(*) FROM payment_attempt WHERE outcome = 'abandoned'") == [(0,)]
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(5,)]


def test_answers_already_received_are_kept_when_a_pass_fails(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 6)])

    class BreaksAtFour(FakeProvider):
        def charge(self, invoice: Any, idempotency_key: str) -> bool:
            if invoice.id == 4:
                raise RuntimeError("adapter bug")
            return super().charge(invoice, idempotency_key)

    with pytest.raises(RuntimeError):
        bill(BreaksAtFour(), batch_size=5)
    assert dict(sql("SELECT id, status FROM invoice")) == {
        1: "PAID",
        2: "PAID",
        3: "PAID",
        4: "PENDING",
        5: "PENDING",
    }
    # 4 and 5 were claimed, never settled: their attempts stay open for the next replay.
    assert sql(
        "SELECT invoice_id FROM payment_attempt WHERE finished_at IS NULL ORDER BY invoice_id"
    ) == [(4,), (5,)]
    assert sql("SELECT status, stop_reason FROM billing_run") == [
        ("failed", "RuntimeError: adapter bug")
    ]
