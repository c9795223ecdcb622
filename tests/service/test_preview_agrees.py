"""`--dry-run` says what the real pass then does: the invoices it would charge are the
ones the pass charges, and the ones it would hold are held, with the same codes. Each
case runs the dry run, then the pass, on the same database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.preview import preview_pass
from antaeus_cli.billing.preview_result import PreviewResult
from antaeus_cli.billing.results import Command, PassResult, RunStatus
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.domain.money import Currency
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store.database import Store
from tests.fakes import FakeProvider, on

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
DEC = date(2026, 12, 1)


def dry_run(db_path: Path, command: Command, invoice_ids: tuple[int, ...] = ()) -> PreviewResult:
    store = Store.open(db_path)
    try:
        return preview_pass(store, command, on(DEC), invoice_ids=invoice_ids)
    finally:
        store.close()


def said(preview: PreviewResult) -> tuple[list[int], list[tuple[int, str]]]:
    held = [*preview.operator_items, *preview.awaiting_items]
    return (
        sorted(item.invoice_id for item in preview.listed),
        sorted((item.invoice_id, item.code) for item in held),
    )


def did(provider: FakeProvider, result: PassResult, sql: Sql) -> tuple[list[int], list[Any]]:
    charged = sorted(invoice for invoice, key in provider.calls if key in provider.charged_keys)
    held = sql(
        "SELECT id, failure_code FROM invoice WHERE status IN "
        "('NEEDS_OPERATOR', 'AWAITING_CUSTOMER') AND updated_at >= "
        "(SELECT started_at FROM billing_run WHERE id = ?) ORDER BY id",
        result.run_id,
    )
    return charged, held


def test_two_named_invoices_for_one_month_one_charged_one_held_as_the_pass_does(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    """Twins held for one month, both named in one word: the pass charges the first
    and holds the second for the month it has just taken. The dry run says the same,
    not that both would be charged."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 1, 1000, "EUR", DEC),
        customers={1: "EUR"},
    )
    bill(FakeProvider())
    assert sql("SELECT DISTINCT status, failure_code FROM invoice") == [
        ("NEEDS_OPERATOR", "duplicate_period")
    ]
    preview = dry_run(db_path, Command.RETRY_FAILED, (1, 2))
    provider = FakeProvider()
    result = bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1, 2))
    assert did(provider, result, sql) == ([1], [(2, "duplicate_period")])
    assert said(preview) == ([1], [(2, "duplicate_period")])


@pytest.mark.parametrize(("batch_size", "held"), [(500, [3, 4]), (2, [])])
def test_a_dry_run_holds_what_the_claim_the_pass_stops_in_holds(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path, batch_size: int, held: list[int]
) -> None:
    """A cap stops the pass at invoice 2; invoices 3 and 4 bill one customer's month.
    In one claim with invoice 2, they are judged, and held, before anything is sent;
    in a later claim, the pass stops before it judges them. The dry run says the same,
    and leaves for a later pass only what the pass leaves."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 2, 1000, "EUR", DEC),
        SeedInvoice(3, 3, 1000, "EUR", DEC),
        SeedInvoice(4, 3, 1000, "EUR", DEC),
        customers={1: "EUR", 2: "EUR", 3: "EUR"},
    )
    limits = RunLimits(max_total={Currency.EUR: 1500})
    store = Store.open(db_path)
    try:
        preview = preview_pass(store, Command.BILL, on(DEC), limits=limits, batch_size=batch_size)
    finally:
        store.close()
    provider = FakeProvider()
    result = bill(provider, limits=limits, batch_size=batch_size)
    assert result.status is RunStatus.STOPPED_CAP
    assert did(provider, result, sql) == ([1], [(i, "duplicate_period") for i in held])
    assert said(preview) == ([1], [(i, "duplicate_period") for i in held])
    assert preview.beyond_cap == 4 - 1 - len(held)
