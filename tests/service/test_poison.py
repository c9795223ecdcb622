"""One bad row stops nothing: values at the schema's limits, and hand edits of rows
whose charge is in flight. The answer of a provider that charged is always in the
ledger, and the rest of the pass goes on."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from antaeus_cli.billing.results import Command, PassResult, RunStatus
from antaeus_cli.reports import build_report
from antaeus_cli.store.database import Store
from tests.fakes import DECLINED, LOST_REQUEST, LOST_RESPONSE, Crash, FakeProvider

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]
MAX = 2**63 - 1


def crashed_after_charging(make: Callable[..., Path], bill: Bill, *invoices: Any) -> FakeProvider:
    """Invoice 1's charge was booked by the provider, then the pass died."""
    make(*invoices)
    provider = FakeProvider(crash_after_booking={1})
    with pytest.raises(Crash):
        bill(provider)
    return provider


def test_a_counter_at_the_64_bit_limit_holds_one_invoice_not_the_pass(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"), (3, 100, "EUR"))
    provider = FakeProvider(default=DECLINED)
    bill(provider)
    edit("UPDATE invoice SET decline_count = ? WHERE id = 2", MAX)
    result = bill(provider, command=Command.RETRY_FAILED, as_of=date(2026, 12, 2))
    assert result.status is RunStatus.COMPLETED
    assert [item.invoice_id for item in result.counts.operator_items] == [2]
    assert "could not be recorded" in result.counts.operator_items[0].detail
    assert dict(sql("SELECT id, status FROM invoice")) == {
        1: "FAILED",
        2: "NEEDS_OPERATOR",
        3: "FAILED",
    }
    # The decline is in the ledger all the same, and nothing is left open to replay.
    assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 2 ORDER BY id") == [
        ("declined",),
        ("declined",),
    ]
    again = bill(provider, command=Command.RETRY_FAILED, as_of=date(2026, 12, 2))
    assert (again.status, again.unresolved, again.counts.reconciled) == (
        RunStatus.COMPLETED,
        0,
        0,
    )


def test_a_charge_in_flight_whose_invoice_was_edited_goes_to_an_operator_with_both_figures(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    provider = crashed_after_charging(make, bill, (1, 100, "EUR"), (2, 100, "EUR"))
    edit("UPDATE invoice SET amount = 999999 WHERE id = 1")
    # The edit itself sends the invoice to an operator: no pass may charge the new
    # figure under a new key while the old charge may have gone through.
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 1") == [
        ("NEEDS_OPERATOR", "edited_in_flight")
    ]
    result = bill(provider)
    assert result.counts.reconciled == 2  # 1, and 2 claimed but never sent
    (status, code, detail) = sql(
        "SELECT status, failure_code, failure_detail FROM invoice WHERE id = 1"
    )[0]
    assert (status, code) == ("NEEDS_OPERATOR", "edited_in_flight")
    assert "charged EUR 1.00" in detail
    assert "EUR 9,999.99" in detail
    assert sql("SELECT amount, outcome FROM payment_attempt WHERE invoice_id = 1") == [
        (100, "charged")
    ]
    assert sql("SELECT currency, count, amount FROM collected") == [("EUR", 2, 200)]
    assert len(provider.charges_for(1)) == 1
    assert sql("SELECT status FROM invoice WHERE id = 2") == [("PAID",)]


@pytest.mark.parametrize(
    ("edited_to", "answer", "ends"),
    [
        # The provider charged, and the invoice says otherwise: an operator compares.
        ("FAILED", "charged", "NEEDS_OPERATOR"),
        ("PAID", "charged", "NEEDS_OPERATOR"),
        ("PENDING", "charged", "NEEDS_OPERATOR"),
        # No money moved: the hand edit stands, and the key is not sent again (sent, it
        # would be a new charge of an invoice settled by hand): it lapses.
        ("PAID", DECLINED, "PAID"),  # paid by other means: it stays PAID
        ("UNCOLLECTIBLE", DECLINED, "UNCOLLECTIBLE"),
    ],
)
def test_a_processing_invoice_edited_to_another_status_never_stops_billing(
    make: Callable[..., Path],
    bill: Bill,
    sql: Sql,
    edit: Callable[..., None],
    edited_to: str,
    answer: str,
    ends: str,
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    lost = FakeProvider(
        script={1: [LOST_RESPONSE if answer == "charged" else LOST_REQUEST]}, can_lookup=False
    )
    bill(lost, sweeps=0, outage_threshold=100)
    assert sql("SELECT status FROM invoice WHERE id = 1") == [("PROCESSING",)]
    values = {
        "FAILED": "failure_code = 'declined', next_retry_on = '2026-12-09'",
        "PAID": "paid_at = '2026-12-01T00:00:00+00:00'",
        "PENDING": "failure_code = NULL",
        "UNCOLLECTIBLE": "failure_code = 'dunning_exhausted'",
    }[edited_to]
    edit(f"UPDATE invoice SET status = ?, {values} WHERE id = 1", edited_to)
    settles = FakeProvider(script={1: [answer]})
    settles.booked = dict(lost.booked)
    if answer == DECLINED:
        settles.booked.clear()  # the lost request never arrived; re-sent, it declines
    result = bill(settles)
    assert result.status is RunStatus.COMPLETED
    assert sql("SELECT status FROM invoice WHERE id = 1") == [(ends,)]
    assert sql("SELECT count(*) FROM payment_attempt WHERE finished_at IS NULL") == [(0,)]
    if answer == DECLINED:
        assert 1 not in {invoice for invoice, _ in settles.calls}  # never re-sent
        assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 1") == [("lapsed",)]
    else:
        assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 1") == [(answer,)]
    if ends == "NEEDS_OPERATOR":
        assert [i.invoice_id for i in result.counts.operator_items] == [1]
        assert sql("SELECT failure_code FROM invoice WHERE id = 1") == [("edited_in_flight",)]


@pytest.mark.parametrize(
    "edit_sql",
    [
        "UPDATE invoice SET amount = 250 WHERE id = 5",
        # Marked paid by other means while the card was being charged.
        "UPDATE invoice SET status = 'PAID', paid_at = 'x' WHERE id = 5",
    ],
)
def test_an_edit_during_the_call_is_caught_before_the_answer_is_written(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None], edit_sql: str
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 21)])

    def meanwhile(invoice_id: int) -> None:
        if invoice_id == 5:
            edit(edit_sql)

    result = bill(FakeProvider(after_call=meanwhile))
    assert result.status is RunStatus.COMPLETED
    assert [i.invoice_id for i in result.counts.operator_items] == [5]
    assert result.counts.paid == 19
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 5") == [
        ("NEEDS_OPERATOR", "edited_in_flight")
    ]
    assert sql("SELECT count(*) FROM payment_attempt WHERE outcome = 'charged'") == [(20,)]
    assert sql("SELECT count, amount FROM collected") == [(20, 2000)]


def test_an_invoice_deleted_in_flight_still_counts_its_charge_and_is_listed(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None], db_path: Path
) -> None:
    provider = crashed_after_charging(make, bill, (1, 100, "EUR"), (2, 100, "EUR"))
    edit("DELETE FROM invoice WHERE id = 1")
    result = bill(provider)
    assert result.status is RunStatus.COMPLETED
    assert [i.invoice_id for i in result.counts.operator_items] == [1]
    assert sql(
        "SELECT outcome, finished_at IS NOT NULL FROM payment_attempt WHERE invoice_id = 1"
    ) == [("charged", 1)]
    assert sql("SELECT count, amount FROM collected") == [(2, 200)]
    assert len(provider.charges_for(1)) == 1
    store = Store.open(db_path)
    try:
        report = build_report(store)
    finally:
        store.close()
    assert [(row["invoice_id"], row["amount"]) for row in report.orphans] == [(1, 100)]
    assert "deleted while its charge was in flight" in report.orphans[0]["error"]


def test_invoice_ids_of_zero_and_below_are_billed(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"))
    for month, invoice_id in enumerate((0, -5, -(2**63)), start=9):
        edit(
            "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
            "created_at, updated_at) SELECT ?, customer_id, amount, currency, 'PENDING', "
            "?, created_at, updated_at FROM invoice WHERE id = 1",
            invoice_id,
            f"2026-{month:02d}-01",
        )
    provider = FakeProvider()
    result = bill(provider)
    assert result.counts.paid == 4
    assert sql("SELECT count(*) FROM invoice WHERE status <> 'PAID'") == [(0,)]
    assert {invoice for invoice, _ in provider.calls} == {1, 0, -5, -(2**63)}


def test_an_open_attempt_written_by_hand_is_held_and_the_rest_is_billed(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    edit(
        "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at, "
        "finished_at, status) VALUES (99, 'bill', '2026-11-01', 'x', 'h', 1, "
        "'2026-11-01T00:00:00+00:00', '2026-11-01T00:00:01+00:00', 'completed')"
    )
    edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, started_at) VALUES "
        "(1, 1, 1, 'by-hand', 99, 'bill', 100, 'XYZ', 'PENDING', 'not a time')"
    )
    provider = FakeProvider()
    result = bill(provider)
    assert result.status is RunStatus.COMPLETED
    assert [i.invoice_id for i in result.counts.operator_items] == [1]
    assert "cannot be replayed" in result.counts.operator_items[0].detail
    assert dict(sql("SELECT id, status FROM invoice")) == {1: "NEEDS_OPERATOR", 2: "PAID"}
    assert [invoice for invoice, _ in provider.calls] == [2]  # never a second key for 1
    assert result.unresolved == 1


def test_an_open_attempt_cannot_be_closed_by_hand_unless_the_writer_says_so(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    """Closed by hand, an attempt the provider charged would let the next pass charge
    again under a new key: the schema refuses it, unless the writer states it checked."""
    provider = crashed_after_charging(make, bill, (1, 100, "EUR"))
    with pytest.raises(sqlite3.IntegrityError, match="a pass settles it"):
        edit(
            "UPDATE payment_attempt SET outcome = 'abandoned', finished_at = 'x' "
            "WHERE invoice_id = 1"
        )
    bill(provider)
    assert len(provider.charges_for(1)) == 1
    assert sql("SELECT status FROM invoice") == [("PAID",)]


def test_an_attempt_settled_by_hand_during_its_call_is_never_overwritten(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))

    def meanwhile(invoice_id: int) -> None:
        if invoice_id == 1:
            edit(
                "UPDATE payment_attempt SET outcome = 'declined', finished_at = 'x', "
                "error = 'settled by hand: the dashboard says declined' WHERE invoice_id = 1"
            )

    result = bill(FakeProvider(after_call=meanwhile))
    assert result.status is RunStatus.COMPLETED
    [held] = result.counts.operator_items
    assert (held.invoice_id, held.code) == (1, "edited_in_flight")
    assert held.detail == (
        "attempt 1 was closed by hand while its charge was in flight; its row was left as "
        "it is: compare it with the provider's records"
    )
    assert sql("SELECT outcome FROM payment_attempt WHERE invoice_id = 1") == [("declined",)]
    assert dict(sql("SELECT id, status FROM invoice")) == {1: "NEEDS_OPERATOR", 2: "PAID"}


def test_an_invoice_set_back_to_pending_after_it_was_paid_is_never_charged_twice(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    provider = FakeProvider()
    bill(provider)
    edit("UPDATE invoice SET status = 'PENDING', paid_at = NULL WHERE id = 1")
    result = bill(provider)
    assert len(provider.charges_for(1)) == 1
    assert [(i.invoice_id, i.code) for i in result.counts.operator_items] == [
        (1, "already_charged")
    ]
    assert sql("SELECT status, failure_code FROM invoice WHERE id = 1") == [
        ("NEEDS_OPERATOR", "already_charged")
    ]


@pytest.mark.parametrize(
    ("amount", "ref", "started", "sent"),
    [
        (2**63 - 1, None, "2026-11-30T00:00:00+00:00", False),  # past the sanity limit
        (100, "cus bad ref", "2026-11-30T00:00:00+00:00", False),  # not a provider id
        (100, None, "2026-11-30", True),  # no time zone: read as UTC, replayed
        (100, None, "2026-11-30T00:00:00", True),
    ],
)
def test_an_open_attempt_written_by_hand_is_checked_as_a_claim_would_be(
    make: Callable[..., Path],
    bill: Bill,
    sql: Sql,
    edit: Callable[..., None],
    amount: int,
    ref: str | None,
    started: str,
    sent: bool,
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    edit(
        "INSERT INTO billing_run (id, command, as_of, provider, host, pid, started_at, "
        "finished_at, status) VALUES (99, 'bill', '2026-11-01', 'x', 'h', 1, 't', 't', "
        "'completed')"
    )
    edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, customer_ref, attempt_no, "
        "idempotency_key, run_id, command, amount, currency, from_status, started_at) "
        "VALUES (1, 1, ?, 1, 'by-hand', 99, 'bill', ?, 'EUR', 'PENDING', ?)",
        ref,
        amount,
        started,
    )
    provider = FakeProvider(key_retention=timedelta(hours=24))
    result = bill(provider)
    assert result.status is RunStatus.COMPLETED
    assert ("by-hand" in provider.lookups) is sent
    assert all(key != "by-hand" for _, key in provider.calls)  # never re-sent past its window
    assert sql("SELECT status FROM invoice WHERE id = 2") == [("PAID",)]


def test_attempt_numbers_at_the_limit_hold_the_invoice_not_the_claim(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 6)])
    provider = FakeProvider(default=DECLINED)
    bill(provider)
    edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, outcome, started_at, finished_at) "
        "SELECT 3, 3, ?, 'by-hand', run_id, 'bill', 100, 'EUR', 'PENDING', 'declined', "
        "started_at, finished_at FROM payment_attempt WHERE invoice_id = 3",
        MAX,
    )
    result = bill(FakeProvider(), command=Command.RETRY_FAILED, as_of=date(2026, 12, 2))
    assert result.status is RunStatus.COMPLETED
    assert result.counts.paid == 4
    assert [i.invoice_id for i in result.counts.operator_items] == [3]
    assert sql("SELECT status FROM invoice WHERE id = 3") == [("NEEDS_OPERATOR",)]


def test_collected_totals_past_64_bits_are_counted_from_the_ledger(
    make: Callable[..., Path], bill: Bill, edit: Callable[..., None], db_path: Path
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"))
    bill(FakeProvider(), batch_size=1)
    edit("UPDATE collected SET amount = ? WHERE currency = 'EUR'", MAX - 150)
    make_more = FakeProvider()
    edit(
        "INSERT INTO invoice (id, customer_id, amount, currency, status, due_date, "
        "created_at, updated_at) SELECT 3, customer_id, 200, currency, 'PENDING', "
        "'2026-11-01', created_at, updated_at FROM invoice WHERE id = 1"
    )
    bill(make_more)
    store = Store.open(db_path)
    try:
        report = build_report(store)
    finally:
        store.close()
    assert [(c.currency, c.count, c.minor) for c in report.collected] == [("EUR", 3, 400)]


def test_a_hand_written_open_attempt_for_a_paid_invoice_is_looked_up_never_sent(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None]
) -> None:
    make((1, 100, "EUR"))
    provider = FakeProvider(key_retention=timedelta(hours=24))
    bill(provider)
    edit(
        "INSERT INTO payment_attempt (invoice_id, customer_id, attempt_no, idempotency_key, "
        "run_id, command, amount, currency, from_status, started_at) SELECT 1, 1, 2, "
        "'by-hand', 1, 'bill', 100, 'EUR', 'PENDING', started_at FROM payment_attempt"
    )
    result = bill(provider)
    assert result.status is RunStatus.COMPLETED
    assert "by-hand" in provider.lookups
    assert len(provider.charges_for(1)) + provider.charged_keys.count("by-hand") == 1
