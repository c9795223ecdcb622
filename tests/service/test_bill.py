"""A `bill` pass against a real SQLite file with a fake provider."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from antaeus_cli.billing import engine
from antaeus_cli.billing.results import Command, PassResult, RunStatus
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store.database import Store
from tests.conftest import bounded_preview
from tests.fakes import (
    DECLINED,
    LOST_REQUEST,
    LOST_RESPONSE,
    MISMATCH,
    NOT_FOUND,
    FakeProvider,
    on,
)

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


def statuses(sql: Sql) -> dict[int, str]:
    return dict(sql("SELECT id, status FROM invoice ORDER BY id"))  # type: ignore[arg-type]


def test_each_provider_answer_lands_where_it_should(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    make((1, 1000, "EUR"), (2, 2000, "USD"), (3, 3000, "DKK"), (4, 4000, "SEK"), (5, 500, "GBP"))
    provider = FakeProvider(
        script={2: [DECLINED], 3: [NOT_FOUND], 4: [MISMATCH], 5: [LOST_REQUEST, "charged"]},
        db_path=db_path,  # every call checks its attempt row is already committed
    )
    result = bill(provider)
    assert statuses(sql) == {
        1: "PAID",
        2: "FAILED",
        3: "NEEDS_OPERATOR",
        4: "NEEDS_OPERATOR",
        5: "PAID",
    }
    assert result.status is RunStatus.COMPLETED
    counts = result.counts
    assert (counts.paid, counts.declined, counts.needs_operator) == (2, 1, 2)
    assert counts.network_retries == 2  # a look-up, then the re-send of the lost request
    assert {(r.currency, r.minor) for r in result.paid} == {("EUR", 1000), ("GBP", 500)}
    assert sql("SELECT next_retry_on, decline_count FROM invoice WHERE id = 2") == [
        ("2026-12-02", 1)
    ]
    assert sql("SELECT failure_code FROM invoice WHERE id IN (3, 4) ORDER BY id") == [
        ("customer_not_found",),
        ("currency_mismatch",),
    ]


def test_every_attempt_is_in_the_ledger_with_its_outcome(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"), (2, 2000, "EUR"))
    result = bill(FakeProvider(script={2: [DECLINED]}))
    rows = sql(
        "SELECT invoice_id, attempt_no, outcome, run_id, command, amount, currency, "
        "provider_calls, finished_at IS NOT NULL FROM payment_attempt ORDER BY invoice_id"
    )
    assert rows == [
        (1, 1, "charged", result.run_id, "bill", 1000, "EUR", 1, 1),
        (2, 1, "declined", result.run_id, "bill", 2000, "EUR", 1, 1),
    ]
    keys = [k for (k,) in sql("SELECT idempotency_key FROM payment_attempt ORDER BY invoice_id")]
    assert keys[0].endswith("-inv-1-1")
    assert keys[1].endswith("-inv-2-1")


def test_local_checks_stop_bad_invoices_before_the_provider(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    due = date(2026, 12, 1)
    make(
        SeedInvoice(1, 1, 1000, "EUR", due),
        SeedInvoice(2, 2, 1000, "USD", due),  # customer 2 is billed in EUR
        SeedInvoice(3, 3, 0, "EUR", due),
        SeedInvoice(4, 4, -50, "EUR", due),
        SeedInvoice(5, 5, 1000, "XYZ", due),
        SeedInvoice(6, 6, 10**15, "EUR", due),
        customers=dict.fromkeys(range(1, 7), "EUR"),
    )
    provider = FakeProvider()
    result = bill(provider)
    assert [invoice_id for invoice_id, _ in provider.calls] == [1]
    assert statuses(sql) == {1: "PAID", **dict.fromkeys(range(2, 7), "NEEDS_OPERATOR")}
    assert result.counts.needs_operator == 5
    assert sql("SELECT count(*) FROM payment_attempt") == [(1,)]
    codes = dict(sql("SELECT id, failure_code FROM invoice WHERE id > 1"))
    assert codes == {
        2: "currency_mismatch",
        3: "malformed",
        4: "malformed",
        5: "malformed",
        6: "malformed",
    }


def test_only_due_pending_invoices_are_charged_and_missed_months_are_caught_up(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(
        SeedInvoice(1, 1, 100, "EUR", date(2026, 10, 1)),  # a missed month
        SeedInvoice(2, 1, 100, "EUR", date(2026, 12, 1)),
        SeedInvoice(3, 1, 100, "EUR", date(2027, 1, 1)),  # not due yet
        SeedInvoice(4, 1, 100, "EUR", date(2026, 11, 1), status="PAID"),
        customers={1: "EUR"},
    )
    provider = FakeProvider()
    bill(provider, as_of=date(2026, 12, 1))
    assert sorted(i for i, _ in provider.calls) == [1, 2]
    assert statuses(sql) == {1: "PAID", 2: "PAID", 3: "PENDING", 4: "PAID"}


def test_a_second_pass_charges_nothing_twice(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"), (2, 2000, "EUR"))
    provider = FakeProvider()
    bill(provider)
    again = bill(provider)
    assert again.counts.paid == 0
    assert len(provider.calls) == 2
    assert sql("SELECT count(*) FROM payment_attempt") == [(2,)]
    assert sql("SELECT status, count(*) FROM billing_run GROUP BY status") == [("completed", 2)]


@pytest.mark.parametrize("batch_size", [1, 2, 7])
def test_small_batches_give_the_same_result(
    make: Callable[..., Path], bill: Bill, sql: Sql, batch_size: int
) -> None:
    make(*[(i, 100 * i, "EUR") for i in range(1, 21)])
    result = bill(FakeProvider(script={5: [DECLINED], 13: [NOT_FOUND]}), batch_size=batch_size)
    assert (result.counts.paid, result.counts.declined, result.counts.needs_operator) == (18, 1, 1)
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PAID'") == [(18,)]


def test_concurrent_calls_match_the_inline_result(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    make(*[(i, 100 * i, "EUR") for i in range(1, 41)])
    provider = FakeProvider(
        script={3: [DECLINED], 9: [LOST_RESPONSE, "charged"], 20: [MISMATCH]},
        io_bound=True,
        db_path=db_path,
    )
    result = bill(provider, concurrency=8, batch_size=5)
    assert (result.counts.paid, result.counts.declined, result.counts.needs_operator) == (38, 1, 1)
    assert len(provider.charged_keys) == 38
    assert len(set(provider.charged_keys)) == 38
    assert sql("SELECT count(*) FROM payment_attempt WHERE outcome = 'charged'") == [(38,)]


def test_the_run_is_recorded_with_its_counts(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"), (2, 2000, "EUR"), (3, 10, "EUR"))
    result = bill(FakeProvider(script={2: [DECLINED], 3: [NOT_FOUND]}))
    row = sql(
        "SELECT command, as_of, status, paid, declined, needs_operator, unknown, finished_at "
        "IS NOT NULL FROM billing_run WHERE id = ?",
        result.run_id,
    )
    assert row == [("bill", "2026-12-01", "completed", 1, 1, 1, 0, 1)]
    assert sql("SELECT count(*) FROM pass_lock") == [(0,)]


def test_dry_run_changes_nothing(make: Callable[..., Path], db_path: Path) -> None:
    due = date(2026, 12, 1)
    make(
        SeedInvoice(1, 1, 1000, "EUR", due),
        SeedInvoice(2, 2, 0, "EUR", due),
        SeedInvoice(3, 3, 500, "EUR", due),
        customers={1: "EUR", 2: "EUR", 3: "EUR"},
    )
    before = _dump(db_path)
    store = Store.open(db_path)
    try:
        preview = bounded_preview(store, Command.BILL, on(due))
    finally:
        store.close()
    assert _dump(db_path) == before
    assert [(r.currency, r.count, r.minor) for r in preview.to_charge] == [("EUR", 2, 1500)]
    assert preview.needs_operator == 1
    assert [item.invoice_id for item in preview.listed] == [1, 3]
    assert preview.listed[0].key.endswith("-inv-1-1")


def _dump(db_path: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.mark.parametrize("io_bound", [True, False], ids=["slow provider", "retried calls"])
def test_a_one_at_a_time_pass_commits_its_answers_as_it_goes(
    make: Callable[..., Path],
    bill: Bill,
    sql: Sql,
    monkeypatch: pytest.MonkeyPatch,
    io_bound: bool,
) -> None:
    """Inline calls (--concurrency 1) that take long, from latency or from in-pass
    retries, must not hold a whole batch of answers, and the lease, until the batch
    ends: each answer is committed once flush_seconds have passed."""
    make(*[(i, 1000, "EUR") for i in range(1, 11)])
    now = [0.0]
    monkeypatch.setattr(engine, "time", SimpleNamespace(monotonic=lambda: now[0]))
    settled_before_call: list[int] = []

    def each_call(_invoice_id: int) -> None:
        now[0] += 2.0  # every call takes two seconds
        (count,) = sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NOT NULL")[0]
        settled_before_call.append(count)

    script = {} if io_bound else {i: [LOST_REQUEST, "charged"] for i in range(1, 11)}
    provider = FakeProvider(script=script, io_bound=io_bound, after_call=each_call)
    result = bill(provider, concurrency=1, batch_size=500)
    assert result.counts.paid == 10
    assert settled_before_call[-1] == 9  # all but the invoice being charged
    assert settled_before_call[0] == 0
