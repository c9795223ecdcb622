"""Guard rails: what looks like a mistake is held for an operator before the provider
hears of it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from antaeus_cli.billing.preview import preview_pass
from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store.database import Store
from tests.fakes import FakeProvider

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DEC, NOV = date(2026, 12, 1), date(2026, 11, 1)


def test_two_invoices_for_one_customer_and_month_are_both_held(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 1, 1000, "EUR", DEC),
        SeedInvoice(3, 2, 500, "EUR", DEC),
        customers={1: "EUR", 2: "EUR"},
    )
    provider = FakeProvider()
    result = bill(provider)
    assert [invoice for invoice, _ in provider.calls] == [3]
    assert sorted((i.invoice_id, i.code) for i in result.counts.operator_items) == [
        (1, "duplicate_period"),
        (2, "duplicate_period"),
    ]
    assert "invoice 2 bills customer 1" in result.counts.operator_items[0].detail
    # Released by name, one is charged; the other stays held, the next pass included.
    bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1,))
    bill(provider)
    assert dict(sql("SELECT id, status FROM invoice")) == {
        1: "PAID",
        2: "NEEDS_OPERATOR",
        3: "PAID",
    }
    assert [invoice for invoice, _ in provider.calls] == [3, 1]


def test_an_invoice_for_a_month_already_paid_is_held(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(
        SeedInvoice(1, 1, 1000, "EUR", NOV, status="PAID"),
        SeedInvoice(2, 1, 1000, "EUR", date(2026, 11, 20)),
        SeedInvoice(3, 1, 1000, "EUR", DEC),  # next month: billed
        customers={1: "EUR"},
    )
    provider = FakeProvider()
    bill(provider)
    assert dict(sql("SELECT id, status FROM invoice")) == {
        1: "PAID",
        2: "NEEDS_OPERATOR",
        3: "PAID",
    }


def test_months_missed_are_caught_up_and_an_abandoned_twin_holds_nothing(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    make(
        SeedInvoice(1, 1, 1000, "EUR", date(2026, 10, 1)),
        SeedInvoice(2, 1, 1000, "EUR", NOV),
        SeedInvoice(3, 1, 1000, "EUR", DEC),
        SeedInvoice(4, 2, 700, "EUR", DEC, status="PAID"),
        SeedInvoice(5, 2, 700, "EUR", DEC),
        customers={1: "EUR", 2: "EUR"},
    )
    with sqlite3.connect(db_path) as conn:  # given up on: it bills nothing
        conn.execute(
            "UPDATE invoice SET status = 'UNCOLLECTIBLE', failure_code = 'dunning_exhausted', "
            "paid_at = NULL WHERE id = 4"
        )
    result = bill(FakeProvider())
    assert result.counts.paid == 4
    assert sql("SELECT count(*) FROM invoice WHERE status = 'NEEDS_OPERATOR'") == [(0,)]


def test_a_dry_run_shows_what_the_guards_would_hold(
    make: Callable[..., Path], db_path: Path
) -> None:
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 1, 1000, "EUR", DEC),
        SeedInvoice(3, 2, 500, "EUR", DEC),
        customers={1: "EUR", 2: "EUR"},
    )
    store = Store.open(db_path)
    try:
        preview = preview_pass(store, Command.BILL, DEC)
    finally:
        store.close()
    assert [(i.invoice_id, i.code) for i in preview.operator_items] == [
        (1, "duplicate_period"),
        (2, "duplicate_period"),
    ]
    assert [(r.count, r.minor) for r in preview.to_charge] == [(1, 500)]
