"""Guard rails: what looks like a mistake is held for an operator before the provider
hears of it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import Command, PassResult, RunStatus
from antaeus_cli.domain.limits import RunLimits, parse_cap
from antaeus_cli.domain.money import Currency
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store.database import Store
from tests.conftest import bounded_preview
from tests.fakes import DECLINED, LOST_REQUEST, Crash, FakeProvider, on

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


def test_twins_named_together_charge_their_month_once_whatever_the_batch(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """Both twins held, both named: the first takes the month; the second is held by
    the same pass, even when it is claimed in a later batch than its twin."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 1, 1000, "EUR", DEC),
        customers={1: "EUR"},
    )
    provider = FakeProvider()
    bill(provider)
    result = bill(provider, command=Command.RETRY_FAILED, invoice_ids=(1, 2), batch_size=1)
    assert [invoice for invoice, _ in provider.calls] == [1]
    [held] = result.counts.operator_items
    assert (held.invoice_id, held.code) == (2, "duplicate_period")
    assert held.detail.startswith(
        "invoice 1 is being charged for customer 1's month of 2026-12 by the same pass"
    )
    assert dict(sql("SELECT id, status FROM invoice")) == {1: "PAID", 2: "NEEDS_OPERATOR"}


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


def test_a_void_twin_holds_nothing_and_a_charge_for_the_month_still_does(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """An invoice an operator voided does not bill its month: its twin, the corrected
    invoice, is charged. The money still decides: a month a charge paid is held,
    whatever became of the invoice that made it."""
    make(
        SeedInvoice(1, 1, 1000, "EUR", DEC),
        SeedInvoice(2, 1, 1100, "EUR", DEC),
        SeedInvoice(3, 2, 700, "EUR", DEC),
        customers={1: "EUR", 2: "EUR"},
    )
    void = "UPDATE invoice SET status = 'VOID', paid_at = NULL WHERE id = ?"
    edit(void, 1)
    provider = FakeProvider()
    bill(provider)
    assert [invoice for invoice, _ in provider.calls] == [2, 3]
    edit(void, 3)  # by hand, after its charge: its charge still pays customer 2's month
    edit(
        "INSERT INTO invoice (id, customer_id, amount, currency, due_date) "
        "VALUES (4, 2, 700, 'EUR', '2026-12-01')"
    )
    bill(provider)
    assert [invoice for invoice, _ in provider.calls] == [2, 3]
    assert sql("SELECT id, status, failure_code FROM invoice ORDER BY id") == [
        (1, "VOID", None),
        (2, "PAID", None),
        (3, "VOID", None),
        (4, "NEEDS_OPERATOR", "duplicate_period"),
    ]


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
        preview = bounded_preview(store, Command.BILL, on(DEC))
    finally:
        store.close()
    assert [(i.invoice_id, i.code) for i in preview.operator_items] == [
        (1, "duplicate_period"),
        (2, "duplicate_period"),
    ]
    assert [(r.count, r.minor) for r in preview.to_charge] == [(1, 500)]


def test_a_run_cap_stops_before_the_charge_that_would_pass_it(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 11)], (11, 1000, "USD"))
    provider = FakeProvider(script={2: [DECLINED]})
    caps = RunLimits(max_total={Currency("EUR"): 5000})  # EUR 50.00: five invoices of 10.00
    result = bill(provider, limits=caps)
    assert result.status is RunStatus.STOPPED_CAP
    assert "past --max-total EUR 50.00" in (result.stop_reason or "")
    # The decline gave its reservation back, so six EUR invoices were sent, five paid.
    assert [invoice for invoice, _ in provider.calls] == [1, 2, 3, 4, 5, 6]
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PAID'") == [(5,)]
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PENDING'") == [(5,)]
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(0,)]
    # The next pass, without the cap, finishes the rest.
    assert bill(provider).status is RunStatus.COMPLETED
    assert sql("SELECT count(*) FROM invoice WHERE status = 'PENDING'") == [(0,)]


def test_an_outage_is_what_stops_a_pass_whose_next_charge_a_cap_would_refuse(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """Invoice 1's requests are lost (an outage, at a threshold of one); invoice 2 would
    pass the cap, but the outage stopped the pass first: it says so, and invoice 2 was
    never sent nor judged by the cap."""
    make((1, 1000, "EUR"), (2, 1000, "EUR"))
    provider = FakeProvider(script={1: [LOST_REQUEST]})
    caps = RunLimits(max_total={Currency("EUR"): 1500})
    result = bill(provider, limits=caps, outage_threshold=1, sweeps=0)
    assert result.status is RunStatus.STOPPED_OUTAGE
    reason = result.stop_reason or ""
    assert reason.startswith("provider outage: 1 invoice in a row ended in network failures")
    assert reason.endswith("; the rest were left untouched")
    assert {invoice for invoice, _ in provider.calls} == {1}
    assert sql("SELECT invoice_id, outcome FROM payment_attempt ORDER BY id") == [
        (1, "unknown"),
        (2, "abandoned"),
    ]


def test_the_decline_breaker_stops_the_pass_and_burns_no_dunning_step(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 31)])
    provider = FakeProvider(default=DECLINED)
    result = bill(provider, limits=RunLimits(breaker_rate=0.5, breaker_window=10))
    assert result.status is RunStatus.STOPPED_BREAKER
    assert "6 of the first 6 charges declined" in (result.stop_reason or "")
    assert len(provider.calls) == 6
    # Every invoice is as it was: PENDING, no decline counted, no retry scheduled.
    assert sql("SELECT DISTINCT status, decline_count, next_retry_on FROM invoice") == [
        ("PENDING", 0, None)
    ]
    assert sql("SELECT count(*) FROM payment_attempt WHERE outcome = 'declined'") == [(6,)]


def test_the_breaker_watches_first_charges_only(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make(*[(i, 1000, "EUR") for i in range(1, 21)])
    provider = FakeProvider(default=DECLINED)
    bill(provider, limits=RunLimits(breaker_rate=1.0))
    retry = bill(
        provider,
        command=Command.RETRY_FAILED,
        as_of=date(2026, 12, 2),
        limits=RunLimits(breaker_rate=0.5, breaker_window=10),
    )
    assert retry.status is RunStatus.COMPLETED
    assert sql("SELECT DISTINCT decline_count FROM invoice") == [(2,)]


def test_run_caps_are_parsed_in_major_units() -> None:
    assert parse_cap("EUR=50000") == (Currency("EUR"), 5_000_000)
    assert parse_cap("dkk=12.5") == (Currency("DKK"), 1250)
    bad_caps = ("EUR", "XYZ=10", "EUR=ten", "EUR=1.234", "EUR=-5", "EUR=1e30", "EUR=NaN")
    odd_numbers = ("EUR=\u0661\u0660\u0660", "EUR=\uff11\uff10\uff10", "EUR=1_000", "EUR= 100")
    for bad in (*bad_caps, *odd_numbers, "EUR=-0", "EUR=1e3"):
        with pytest.raises(ValueError):  # noqa: PT011 - the message is the CLI's business
            parse_cap(bad)


def test_a_replay_that_would_pass_a_cap_is_not_sent_and_stays_open(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 1000, "EUR"), (2, 1000, "EUR"))
    lost = FakeProvider(default=LOST_REQUEST, can_lookup=False)
    bill(lost, sweeps=0, outage_threshold=100)  # both stay open: nothing reached the provider
    provider = FakeProvider()
    result = bill(provider, limits=RunLimits(max_total={Currency("EUR"): 1500}))
    # The first replay is looked up, not found, and re-sent: it counts against the cap.
    # The second would pass it: it is looked up only, and stays open for a later pass;
    # the pass goes on (a look-up moves no money).
    assert result.status is RunStatus.COMPLETED
    assert provider.charged_keys == [key for _, key in provider.calls][:1]
    assert len(provider.charged_keys) == 1
    assert len(set(provider.lookups)) == 2  # both keys looked up (the sweep asks again)
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(1,)]
    (error,) = sql("SELECT error FROM payment_attempt WHERE finished_at IS NULL")[0]
    assert "looked up only and stays open for a later pass" in error


def test_an_in_doubt_charge_larger_than_a_cap_is_looked_up_and_billing_goes_on(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    """A charge booked before a crash, above the next pass's cap: its look-up settles
    it, and the cap holds for what this pass sends."""
    make((1, 200_000, "EUR"), (2, 1000, "EUR"), (3, 1000, "EUR"))
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider)
    result = bill(provider, limits=RunLimits(max_total={Currency("EUR"): 100_000}))
    assert result.status is RunStatus.COMPLETED, result.stop_reason
    assert sql("SELECT id, status FROM invoice ORDER BY id") == [
        (1, "PAID"),
        (2, "PAID"),
        (3, "PAID"),
    ]
    assert len(provider.charged_keys) == 3


def test_replays_a_cap_keeps_open_are_no_outage_and_billing_goes_on(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """Six in-doubt charges, each above the cap: each is looked up, not found, and kept
    open; no answer was lost to the network, so the pass is no outage."""
    make(*[(i, 10_000, "EUR") for i in range(1, 7)])
    lost = FakeProvider(default=LOST_REQUEST, can_lookup=False)
    bill(lost, sweeps=0, outage_threshold=100)
    for i in range(7, 13):  # their customers' invoices of the month before
        edit(
            "INSERT INTO invoice (id, customer_id, amount, currency, due_date, created_at, "
            "updated_at) VALUES (?, ?, 100, 'EUR', '2026-11-01', 'x', 'x')",
            i,
            i - 6,
        )
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(6,)]
    provider = FakeProvider()
    result = bill(provider, limits=RunLimits(max_total={Currency("EUR"): 5000}))
    assert result.status is RunStatus.COMPLETED, result.stop_reason
    assert provider.charged_keys == [key for invoice, key in provider.calls if invoice >= 7]
    assert len(provider.charged_keys) == 6
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(6,)]
