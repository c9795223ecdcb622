"""`retry-failed`: the dunning schedule, and retries an operator asks for by name."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.billing.sources import REFUSED_BY_NAME
from antaeus_cli.domain.guards import GUARDS_OFF
from antaeus_cli.domain.invoice import InvoiceStatus
from antaeus_cli.domain.judgement import Path as Judged
from antaeus_cli.domain.limits import RunLimits
from antaeus_cli.errors import NotRetryable
from tests.fakes import DECLINED, NOT_FOUND, Crash, FakeProvider, days_on, on

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
RETRY = Command.RETRY_FAILED


def test_a_decline_is_retried_on_schedule_until_uncollectible(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 100, "EUR"))
    broke = FakeProvider(default=DECLINED)
    bill(broke, as_of=date(2026, 12, 1))
    history = [sql("SELECT status, next_retry_on, decline_count FROM invoice")[0]]
    for day in (2, 3, 4, 5, 6, 7, 8):
        bill(broke, command=RETRY, as_of=date(2026, 12, day))
        history.append(sql("SELECT status, next_retry_on, decline_count FROM invoice")[0])
    assert history == [
        ("FAILED", "2026-12-02", 1),
        ("FAILED", "2026-12-04", 2),  # retried on the 2nd
        ("FAILED", "2026-12-04", 2),  # the 3rd: not due, untouched
        ("FAILED", "2026-12-08", 3),  # retried on the 4th
        ("FAILED", "2026-12-08", 3),
        ("FAILED", "2026-12-08", 3),
        ("FAILED", "2026-12-08", 3),
        ("UNCOLLECTIBLE", None, 4),  # the last scheduled retry failed
    ]
    keys = [k for (k,) in sql("SELECT idempotency_key FROM payment_attempt ORDER BY id")]
    assert [k.rsplit("-", 1)[1] for k in keys] == ["1", "2", "3", "4"]  # a new key per retry
    assert len(broke.calls) == 4


def test_a_retry_that_succeeds_is_paid(make: Callable[..., Path], bill: Bill, sql: Sql) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(script={1: [DECLINED, "charged"]})
    bill(provider)
    result = bill(provider, command=RETRY, as_of=date(2026, 12, 2))
    assert result.counts.paid == 1
    assert sql("SELECT status, failure_code, next_retry_on FROM invoice") == [("PAID", None, None)]


def test_a_custom_schedule_is_followed(make: Callable[..., Path], bill: Bill, sql: Sql) -> None:
    from antaeus_cli.domain.dunning import DunningSchedule

    make((1, 100, "EUR"))
    bill(FakeProvider(default=DECLINED), schedule=DunningSchedule((5,)))
    assert sql("SELECT next_retry_on FROM invoice") == [("2026-12-06",)]


def test_named_invoices_are_retried_now_even_after_an_operator_fix(
    make: Callable[..., Path], bill: Bill, sql: Sql, db_path: Path
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    provider = FakeProvider(script={1: [NOT_FOUND, "charged"], 2: [DECLINED, "charged"]})
    bill(provider)
    assert dict(sql("SELECT id, status FROM invoice")) == {1: "NEEDS_OPERATOR", 2: "FAILED"}
    result = bill(provider, command=RETRY, invoice_ids=(1, 2), as_of=date(2026, 12, 1))
    assert result.counts.paid == 2
    assert dict(sql("SELECT id, status FROM invoice")) == {1: "PAID", 2: "PAID"}


def test_a_still_malformed_invoice_stays_with_the_operator(
    make: Callable[..., Path], bill: Bill, sql: Sql
) -> None:
    make((1, 0, "EUR"))
    provider = FakeProvider()
    bill(provider)
    result = bill(provider, command=RETRY, invoice_ids=(1,))
    assert result.counts.needs_operator == 1
    assert provider.calls == []
    assert sql("SELECT status FROM invoice") == [("NEEDS_OPERATOR",)]


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("PAID", "already PAID"),
        ("PENDING", "is PENDING"),
        ("MISSING", "does not exist"),
        (
            "PROCESSING",
            "invoice 1 has a charge in flight whose outcome is not known yet; run 'antaeus "
            "retry-failed' without --invoice to reconcile it first; nothing was charged",
        ),
    ],
)
def test_named_invoices_that_must_not_be_charged_are_refused(
    make: Callable[..., Path], bill: Bill, sql: Sql, setup: str, fragment: str
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    if setup == "PAID":
        bill(FakeProvider())
    if setup == "PROCESSING":
        with pytest.raises(Crash):
            bill(FakeProvider(crash_after_booking={1}))
    runs_before = sql("SELECT count(*) FROM billing_run")
    invoice_id = 99 if setup == "MISSING" else 1
    with pytest.raises(NotRetryable) as refused:
        bill(FakeProvider(), command=RETRY, invoice_ids=(invoice_id,))
    assert fragment in refused.value.message
    assert sql("SELECT count(*) FROM billing_run") == runs_before  # refused before any run


def test_all_refusals_are_named_in_one_message(make: Callable[..., Path], bill: Bill) -> None:
    make((1, 100, "EUR"))
    bill(FakeProvider())
    with pytest.raises(NotRetryable) as refused:
        bill(FakeProvider(), command=RETRY, invoice_ids=(1, 7))
    assert "invoice 1 is already PAID" in refused.value.message
    assert "invoice 7 does not exist" in refused.value.message
    assert "\n" not in refused.value.message


def test_no_second_key_is_issued_while_one_is_open(
    make: Callable[..., Path], db_path: Path
) -> None:
    from datetime import UTC, datetime

    from antaeus_cli.billing.sources import ClaimContext, claim_rows
    from antaeus_cli.store import claims, runs
    from antaeus_cli.store.database import Store
    from tests.conftest import ME
    from tests.fakes import dead

    make((1, 100, "EUR"), (2, 100, "EUR"))
    store = Store.open(db_path)
    try:
        run = runs.start_run(
            store,
            command="bill",
            clock=on(date(2026, 12, 1)),
            provider="fake://",
            me=ME,
            now=datetime.now(UTC),
            is_alive=dead,
        )
        context = ClaimContext(run.run_id, "bill", "ns", on(date(2026, 12, 1)))
        with store.work() as work:
            rows = work.due_batch(
                claims.Due.BILL, days_on(date(2026, 12, 1)), 0, 1, amount=GUARDS_OFF
            )
            first = claim_rows(work, context, datetime.now(UTC), rows, Judged.BILL)
        assert [a.invoice.id for a in first.attempts] == [1]
        with store.work() as work:  # invoice 1 is still PENDING, its attempt open
            rows = work.due_batch(
                claims.Due.BILL, days_on(date(2026, 12, 1)), 0, 10, amount=GUARDS_OFF
            )
            assert [r.id for r in rows if r.in_flight] == [1]
            again = claim_rows(work, context, datetime.now(UTC), rows, Judged.BILL)
        assert [a.invoice.id for a in again.attempts] == [2]
    finally:
        store.close()


def test_named_invoices_are_checked_again_under_the_lock(
    make: Callable[..., Path], db_path: Path
) -> None:
    from datetime import UTC, datetime

    from antaeus_cli.billing.sources import ClaimContext, NamedSource
    from antaeus_cli.store.database import Store

    make((1, 100, "EUR"))
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE invoice SET status = 'PAID', paid_at = 'x' WHERE id = 1")  # meanwhile
    conn.commit()
    conn.close()
    store = Store.open(db_path)
    try:
        with pytest.raises(NotRetryable, match="already PAID"), store.work() as work:
            NamedSource(
                (1,), ClaimContext(1, "retry-failed", "ns", on(date(2026, 12, 1))), GUARDS_OFF
            ).next_batch(work, datetime.now(UTC), 10)
    finally:
        store.close()


def test_every_status_is_either_refused_by_name_or_chargeable_by_name(
    make: Callable[..., Path], bill: Bill, edit: Callable[..., None]
) -> None:
    """A status added later must be placed: refused, or released by --invoice."""
    released = {"FAILED", "NEEDS_OPERATOR", "UNCOLLECTIBLE", "AWAITING_CUSTOMER"}
    assert {s.value for s in REFUSED_BY_NAME} | released == {s.value for s in InvoiceStatus}
    make((1, 100, "EUR"), (2, 100, "EUR"), (3, 100, "EUR"))
    edit(
        "UPDATE invoice SET status = 'UNCOLLECTIBLE', failure_code = 'dunning_exhausted' "
        "WHERE id = 1"
    )
    edit("UPDATE invoice SET status = 'VOID' WHERE id = 3")
    bill(FakeProvider(), command=RETRY, invoice_ids=(1,))
    with pytest.raises(NotRetryable) as refused:
        bill(FakeProvider(), command=RETRY, invoice_ids=(1, 2, 3, 9))
    assert refused.value.message == (
        "invoice 1 is already PAID; invoice 2 is PENDING: 'antaeus bill' charges it once it "
        "is due; invoice 3 is VOID: an operator voided it, and it is never charged ('antaeus "
        "report --section void' says when and why); if the money is owed after all, bill it "
        "under a new invoice; invoice 9 does not exist; nothing was charged"
    )


def test_scheduled_retries_are_charged_in_id_order_whatever_the_breakers_window(
    make: Callable[..., Path], bill: Bill, edit: Callable[..., None]
) -> None:
    """The breaker's spread sample is bill's: retries (here set FAILED by hand, with no
    attempt yet) are charged in id order, however small the window."""
    make(*[(i, 100, "EUR") for i in range(1, 7)])
    edit(
        "UPDATE invoice SET status = 'FAILED', failure_code = 'declined', "
        "next_retry_on = '2026-12-01'"
    )
    provider = FakeProvider()
    limits = RunLimits(breaker_rate=0.5, breaker_window=2)
    bill(provider, command=RETRY, limits=limits)
    assert [invoice for invoice, _ in provider.calls] == [1, 2, 3, 4, 5, 6]


def test_a_word_on_a_hold_shown_for_another_customer_releases_nothing(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """An unusual amount held for customer 1, then moved by hand to customer 2, who
    usually pays 1.00: naming it releases nothing the operator was not shown. It is
    judged anew, and held with customer 2's figures; nothing is charged."""
    from antaeus_cli.seeding.scenario import SeedInvoice

    dec = date(2026, 12, 1)
    make(
        *[SeedInvoice(i, 1, 4900, "EUR", date(2026, 7 + i, 1)) for i in (1, 2, 3)],
        *[SeedInvoice(i, 2, 100, "EUR", date(2026, 4 + i, 1)) for i in (4, 5, 6)],
        SeedInvoice(10, 1, 60000, "EUR", dec),
        customers={1: "EUR", 2: "EUR"},
    )
    edit("UPDATE invoice SET status = 'PAID', paid_at = '2026-11-01T00:00:00+00:00' WHERE id < 10")
    bill(FakeProvider(), as_of=dec)
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 10") == [
        ("NEEDS_OPERATOR", "amount_anomaly")
    ]
    edit("UPDATE invoice SET customer_id = 2 WHERE id = 10")
    provider = FakeProvider()
    bill(provider, command=RETRY, as_of=dec, invoice_ids=(10,))
    assert provider.calls == []
    (detail,) = sql(
        "SELECT failure_detail FROM invoice WHERE id = 10 AND status = 'NEEDS_OPERATOR'"
    )[0]
    assert "600 times what customer 2 usually pays" in detail
    bill(provider, command=RETRY, as_of=dec, invoice_ids=(10,))  # the hold now shown
    assert [invoice for invoice, _ in provider.calls] == [10]


def test_a_word_on_a_month_hold_shown_for_another_customer_releases_nothing(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """Twins held for customer 1's month; one is moved by hand to customer 2, whose
    month invoice 3 already bills. Naming it releases nothing: it is held anew, for
    customer 2's month."""
    from antaeus_cli.seeding.scenario import SeedInvoice

    dec = date(2026, 12, 1)
    make(
        SeedInvoice(1, 1, 1000, "EUR", dec),
        SeedInvoice(2, 1, 1000, "EUR", dec),
        SeedInvoice(3, 2, 1000, "EUR", date(2026, 12, 20)),  # not due yet: not charged
        customers={1: "EUR", 2: "EUR"},
    )
    bill(FakeProvider(), as_of=dec)
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 2") == [
        ("NEEDS_OPERATOR", "duplicate_period")
    ]
    edit("UPDATE invoice SET customer_id = 2 WHERE id = 2")
    provider = FakeProvider()
    bill(provider, command=RETRY, as_of=dec, invoice_ids=(2,))
    assert provider.calls == []
    (detail,) = sql("SELECT failure_detail FROM invoice WHERE id = 2")[0]
    assert "invoice 3 bills customer 2 for the same month" in detail
