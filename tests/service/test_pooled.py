"""The pooled engine, for a provider that waits on the network: its bound on calls in
flight, its stops, and an error it must not mask."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import PassResult, RunStatus
from antaeus_cli.domain.invoice import Invoice
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.money import Currency
from antaeus_cli.provider.port import Answer
from tests.fakes import FakeProvider

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
    caps = RunLimits(max_total={Currency.EUR: 3000})
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
