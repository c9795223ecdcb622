"""The breaker's sample: due invoices spread over the whole id range, extreme ids too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store import claims
from antaeus_cli.store.database import Store
from antaeus_cli.store.spread import spread_ids
from tests.fakes import days_on

DEC = date(2026, 12, 1)


def sample(db_path: Path, count: int) -> list[int]:
    store = Store.open(db_path)
    try:
        with store.reading() as conn:
            return spread_ids(conn, claims.Due.BILL, days_on(DEC), count)
    finally:
        store.close()


def test_the_sample_spreads_over_every_due_invoice(
    make: Callable[..., Path], db_path: Path
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 101)])
    assert sample(db_path, 4) == [1, 25, 50, 75]
    assert sample(db_path, 100) == []  # the window holds them all: no sample


def test_extreme_ids_and_invoices_not_due_are_stepped_over(
    make: Callable[..., Path], db_path: Path
) -> None:
    ids = [-(2**63), -5, 0, 7, 2**63 - 1]
    later = date(2027, 1, 1)
    make(
        *[SeedInvoice(i, 1, 100, "EUR", DEC) for i in ids],
        SeedInvoice(8, 1, 100, "EUR", later),
        customers={1: "EUR"},
    )
    found = sample(db_path, 3)
    assert found == sorted(set(found))
    assert set(found) <= set(ids)
    assert found[0] == -(2**63)
    assert len(found) == 3


def test_due_ids_with_gaps_between_them_are_sampled_by_rank(
    make: Callable[..., Path], db_path: Path
) -> None:
    """One invoice far below a hundred others, and next month's far above: seeks over
    the ids would land on the same invoice again and again; the sample is every
    (due / count)-th due invoice instead."""
    make(
        SeedInvoice(1, 1, 100, "EUR", date(2026, 10, 1)),
        *[SeedInvoice(i, 1, 100, "EUR", DEC) for i in range(1001, 1101)],
        SeedInvoice(10**6, 1, 100, "EUR", date(2027, 1, 1)),
        customers={1: "EUR"},
    )
    assert sample(db_path, 4) == [1, 1026, 1051, 1076]
