"""The amount-anomaly guard: an invoice far above what its customer usually pays is held
before the provider hears of it, and an operator can release it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.domain.guards import GUARDS_OFF, AmountGuard
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store import claims, schema
from antaeus_cli.store.database import Store
from tests.conftest import bounded_preview, key_taken_by_hand
from tests.fakes import CHARGED, DECLINED, FakeProvider, on

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DEC = date(2026, 12, 1)


def history(customer: int, first_id: int, *amounts: int, currency: str = "EUR") -> list[Any]:
    """Paid invoices of earlier months, the latest in November."""
    months = [date(2026, 11 - n, 1) for n in range(len(amounts))]
    return [
        SeedInvoice(first_id + n, customer, amount, currency, month, status="PAID")
        for n, (amount, month) in enumerate(zip(amounts, months, strict=True))
    ]


def test_an_amount_far_above_the_customers_median_is_held_and_can_be_released(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(
        *history(1, 10, 900, 1000, 1200),
        SeedInvoice(1, 1, 10_001, "EUR", DEC),  # just over 10 times the median (10.00)
        *history(2, 20, 900, 1000, 1200),
        SeedInvoice(2, 2, 10_000, "EUR", DEC),  # exactly 10 times: not held
        *history(3, 30, 100, 100),
        SeedInvoice(3, 3, 900_000, "EUR", DEC),  # two paid invoices: too few to judge
        customers={1: "EUR", 2: "EUR", 3: "EUR"},
    )
    provider = FakeProvider()
    result = bill(provider)
    assert sorted(invoice for invoice, _ in provider.calls) == [2, 3]
    [held] = result.counts.operator_items
    assert (held.invoice_id, held.code) == (1, "amount_anomaly")
    assert "EUR 100.01 is 10 times what customer 1 usually pays" in held.detail
    assert "median of their paid invoices is EUR 10.00" in held.detail
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 1") == [
        ("NEEDS_OPERATOR", "amount_anomaly")
    ]
    # Released by name, it is charged; the guard does not stand in an operator's way.
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1,))
    assert sql("SELECT status FROM invoice WHERE id = 1") == [("PAID",)]


def test_a_word_on_an_unusual_amount_releases_the_amount_it_was_shown_and_no_other(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """Held at EUR 200.00 (20 times the usual); edited upstream to EUR 20,000.00 before
    the operator names it: the word was given on EUR 200.00. The new amount is held
    again, with its own figure; a word on that hold charges it."""
    make(*history(1, 10, 900, 1000, 1200), SeedInvoice(1, 1, 20_000, "EUR", DEC))
    provider = FakeProvider()
    bill(provider)
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 1") == [
        ("NEEDS_OPERATOR", "amount_anomaly")
    ]
    edit("UPDATE invoice SET amount = 2000000 WHERE id = 1")
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1,))
    assert provider.calls == []
    [(status, detail)] = sql("SELECT status, failure_detail FROM invoice WHERE id = 1")
    assert status == "NEEDS_OPERATOR"
    assert detail.startswith("EUR 20,000.00 is 2000 times")
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1,))
    assert sql("SELECT status, amount FROM invoice WHERE id = 1") == [("PAID", 2_000_000)]


def test_the_factor_and_the_history_are_settings_and_zero_turns_the_guard_off(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    make(
        *history(1, 10, 1000, 1000, 1000, 1000),
        SeedInvoice(1, 1, 4000, "EUR", DEC),
        customers={1: "EUR"},
    )
    store = Store.open(db_path)
    try:
        by_default = bounded_preview(store, Command.BILL, on(DEC))
        strict = bounded_preview(store, Command.BILL, on(DEC), amount_guard=AmountGuard(3, 4))
        patient = bounded_preview(store, Command.BILL, on(DEC), amount_guard=AmountGuard(3, 5))
    finally:
        store.close()
    assert [r.count for r in by_default.to_charge] == [1]
    assert [(i.invoice_id, i.code) for i in strict.operator_items] == [(1, "amount_anomaly")]
    assert strict.to_charge == []
    assert [r.count for r in patient.to_charge] == [1]  # four paid invoices, five needed
    provider = FakeProvider()
    bill(provider, amount_guard=AmountGuard(3))
    assert provider.calls == []
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1,), amount_guard=AmountGuard(1))
    assert sql("SELECT status FROM invoice WHERE id = 1") == [("PAID",)]


def test_a_guard_turned_off_holds_nothing(make: Callable[..., Path], bill: Bill) -> None:
    make(*history(1, 10, 1, 1, 1), SeedInvoice(1, 1, 10**9, "EUR", DEC), customers={1: "EUR"})
    provider = FakeProvider()
    bill(provider, amount_guard=GUARDS_OFF)
    assert [invoice for invoice, _ in provider.calls] == [1]


def test_only_paid_invoices_in_the_invoices_currency_count(
    make: Callable[..., Path], bill: Bill, edit: Callable[..., None]
) -> None:
    make(
        *history(1, 10, 100, 100, 100, currency="USD"),  # before the customer moved to EUR
        SeedInvoice(1, 1, 50_000, "EUR", DEC),
        customers={1: "EUR"},
    )
    edit(
        "INSERT INTO invoice (customer_id, amount, currency, status, due_date, "
        "failure_code, created_at, updated_at) VALUES (1, 100, 'EUR', ?, ?, 'declined', 'x', 'x')"
        " , (1, 100, 'EUR', ?, ?, 'declined', 'x', 'x'), (1, 100, 'EUR', ?, ?, 'declined', 'x', "
        "'x')",
        *("UNCOLLECTIBLE", "2026-06-01", "NEEDS_OPERATOR", "2026-07-01"),
        *("AWAITING_CUSTOMER", "2026-08-01"),
    )
    provider = FakeProvider()
    bill(provider)
    assert [invoice for invoice, _ in provider.calls] == [1]


def test_a_retry_holds_an_unusual_amount_as_bill_would(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """The amount may be edited after a decline: the retry judges it as it is now."""
    make(*history(1, 10, 100, 100, 100), SeedInvoice(1, 1, 5000, "EUR", DEC), customers={1: "EUR"})
    provider = FakeProvider(script={1: [DECLINED, CHARGED]})
    bill(provider, amount_guard=GUARDS_OFF)  # billed as it was, say, before the guard
    bill(provider, command=Command.RETRY_FAILED, as_of=date(2026, 12, 2))
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 1") == [
        ("NEEDS_OPERATOR", "amount_anomaly")
    ]
    assert len(provider.calls) == 1  # the first charge only


def test_an_invoice_held_by_the_guard_still_holds_its_month(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make(*history(1, 10, 100, 100, 100), SeedInvoice(1, 1, 5000, "EUR", DEC), customers={1: "EUR"})
    bill(FakeProvider())
    edit(
        "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
        "updated_at) VALUES (2, 1, 100, 'EUR', '2026-12-01', 'x', 'x')"
    )
    provider = FakeProvider()
    bill(provider)
    assert provider.calls == []
    assert sql("SELECT failure_code FROM invoice WHERE id = 2") == [("duplicate_period",)]


def test_the_guards_hold_when_a_batch_is_claimed_one_invoice_at_a_time(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """A row that breaks the batch claim sends the batch through the careful path; the
    guard rails still apply there."""
    make(
        *history(1, 10, 100, 100, 100),
        SeedInvoice(1, 1, 5000, "EUR", DEC),
        SeedInvoice(2, 2, 100, "EUR", DEC),
        SeedInvoice(3, 2, 100, "EUR", DEC),
        SeedInvoice(4, 3, 100, "EUR", DEC),
        customers={1: "EUR", 2: "EUR", 3: "EUR"},
    )
    key_taken_by_hand(edit, 4, 3)
    provider = FakeProvider()
    result = bill(provider)
    assert provider.calls == []
    assert sql("SELECT id, failure_code FROM invoice WHERE status = 'NEEDS_OPERATOR'") == [
        (1, "amount_anomaly"),
        (2, "duplicate_period"),
        (3, "duplicate_period"),
        (4, "malformed"),
    ]
    assert len(result.counts.operator_items) == 4


@pytest.fixture(scope="module")
def guard_db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(conn)
    conn.execute("INSERT INTO customer (id, currency) VALUES (1, 'EUR'), (2, 'EUR')")
    yield conn
    conn.close()


WIDE = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3), st.integers(0, 10**4))


@settings(max_examples=300)
@given(
    amount=st.one_of(st.integers(1, 2**63 - 1), st.integers(1, 10**5)),
    paid=st.lists(WIDE, max_size=9),
    noise=st.lists(WIDE, max_size=3),
    factor=st.one_of(st.integers(0, 20), st.integers(0, 2**20)),
    required=st.integers(1, 5),
)
def test_the_anomaly_sql_holds_exactly_what_the_domain_guard_holds(
    guard_db: sqlite3.Connection,
    amount: int,
    paid: list[int],
    noise: list[int],
    factor: int,
    required: int,
) -> None:
    """The guard has one definition (domain.guards.AmountGuard); the claim counts in SQL
    for speed. This pins the two together, off-switch included."""
    conn = guard_db
    conn.execute("BEGIN")
    try:
        stamp = "2026-11-01T00:00:00+00:00"
        rows = [(1, a, "EUR", "PAID", stamp) for a in paid]
        rows += [(2, a, "EUR", "PAID", stamp) for a in noise]  # another customer's
        rows += [(1, a, "USD", "PAID", stamp) for a in noise]  # another currency
        rows += [(1, a, "EUR", "PENDING", None) for a in noise]  # not paid
        conn.executemany(
            "INSERT INTO invoice (customer_id, amount, currency, status, due_date, created_at, "
            "updated_at, paid_at) VALUES (?, ?, ?, ?, '2026-11-01', 'x', 'x', ?)",
            rows,
        )
        conn.execute(
            "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
            "updated_at) VALUES (-1, 1, ?, 'EUR', '2026-12-01', 'x', 'x')",
            (amount,),
        )
        guards = claims.Guards(AmountGuard(factor, required))
        sql_flag, _, sql_usual, _ = conn.execute(
            f"SELECT {guards.unusual}, {guards.columns} FROM invoice i WHERE i.id = -1",
            guards.params,
        ).fetchone()
    finally:
        conn.execute("ROLLBACK")
    usual = AmountGuard(factor, required).usual(amount, paid)
    assert sql_usual == usual
    assert (sql_flag is not None) == (usual is not None)
