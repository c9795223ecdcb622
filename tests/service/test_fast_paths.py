"""Clean rows take the set-based paths: claimed in one statement and settled in a few.
The careful row-by-row paths give the same results, slower, so only this test can tell
that a batch fell back to them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import pytest

from antaeus_cli.billing.results import Command, PassResult
from antaeus_cli.billing.sources import DueSource
from antaeus_cli.domain.invoice import NEVER_DECLINED, DunningState, InvoiceRow, InvoiceStatus
from antaeus_cli.seeding.scenario import SeedInvoice
from antaeus_cli.store import careful, claims
from antaeus_cli.store.database import Store
from tests.fakes import (
    CHARGED,
    DECLINED,
    HARD,
    LOST_REQUEST,
    NEEDS_CUSTOMER,
    NOT_FOUND,
    RATE_LIMITED,
    Crash,
    FakeProvider,
)

Bill = Callable[..., PassResult]
Sql = Callable[..., list[tuple[Any, ...]]]


def never(*_: object, **__: object) -> NoReturn:
    raise AssertionError("a clean row fell back to a careful, row-by-row path")


def test_clean_rows_are_claimed_and_settled_in_batches(
    make: Callable[..., Path], bill: Bill, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(*[(i, 100 * i, "EUR") for i in range(1, 9)], (9, 700, "USD"), (10, 5, "EUR"))
    monkeypatch.setattr(careful, "settle_one", never)
    monkeypatch.setattr(DueSource, "_one_by_one", never)
    script = {2: [DECLINED, CHARGED], 3: [HARD], 4: [NEEDS_CUSTOMER], 5: [NOT_FOUND]}
    script |= {6: [LOST_REQUEST, CHARGED], 10: [RATE_LIMITED]}
    provider = FakeProvider(script=script)
    first = bill(provider)
    assert (first.counts.paid, first.counts.declined) == (5, 1)
    # A charge that needed a look-up and a re-send is paid by the general statement.
    assert sql("SELECT provider_calls FROM payment_attempt WHERE invoice_id = 6") == [(3,)]
    # Rate limited on every try: nothing happened, and it is due again as it was.
    assert sql("SELECT status FROM invoice WHERE id = 10") == [("PENDING",)]
    assert sql("SELECT failure_code, failure_detail FROM invoice WHERE id = 3") == [
        ("hard_decline", "hard decline (lost_card): the card was lost")
    ]
    assert sql("SELECT currency, count, amount FROM collected ORDER BY currency") == [
        ("EUR", 4, 100 + 600 + 700 + 800),
        ("USD", 1, 700),
    ]
    retry = bill(provider, command=Command.RETRY_FAILED, as_of=date(2026, 12, 2))
    assert retry.counts.paid == 1
    assert sql("SELECT currency, count, amount FROM collected ORDER BY currency") == [
        ("EUR", 5, 100 + 200 + 600 + 700 + 800),
        ("USD", 1, 700),
    ]
    assert dict(sql("SELECT id, status FROM invoice")) == {
        1: "PAID",
        2: "PAID",
        3: "AWAITING_CUSTOMER",
        4: "AWAITING_CUSTOMER",
        5: "NEEDS_OPERATOR",
        6: "PAID",
        7: "PAID",
        8: "PAID",
        9: "PAID",
        10: "PENDING",
    }


def test_invoice_rows_carry_their_ledger_and_dunning_state(
    make: Callable[..., Path], bill: Bill, edit: Callable[..., None], db_path: Path
) -> None:
    make(
        (1, 100, "EUR"),
        (2, 100, "EUR"),
        (3, 100, "EUR"),
        SeedInvoice(4, 4, 100, "EUR", date(2027, 1, 1)),
        SeedInvoice(5, 1, 300, "EUR", date(2027, 2, 1)),
    )
    bill(FakeProvider(script={1: [DECLINED]}))  # 1 declined once; 2 and 3 paid
    with pytest.raises(Crash):  # 4's attempt stays open
        bill(FakeProvider(crash_after_booking={4}), as_of=date(2027, 1, 1))
    edit("UPDATE invoice SET status = 'PENDING', paid_at = NULL WHERE id = 2")
    edit("UPDATE customer SET provider_ref = 'cus_3' WHERE id = 3")
    store = Store.open(db_path)
    try:
        with store.reading() as conn:
            rows = claims.invoices_by_id(conn, [5, 4, 3, 2, 1], claims.Guards())
    finally:
        store.close()
    pending, paid = InvoiceStatus.PENDING, InvoiceStatus.PAID
    dated = {
        1: {"due_date": "2026-12-01", "next_retry_on": "2026-12-02"},
        2: {"due_date": "2026-12-01"},
        3: {"due_date": "2026-12-01"},
        4: {"due_date": "2027-01-01"},
        5: {"due_date": "2027-02-01"},
    }
    assert rows == {
        1: InvoiceRow(
            1,
            1,
            100,
            "EUR",
            "EUR",
            InvoiceStatus.FAILED,
            DunningState(1, date(2026, 12, 1)),
            1,
            **dated[1],
            failure_code="declined",
            failure_detail="soft decline (insufficient_funds): no funds; decline 1",
        ),
        2: InvoiceRow(
            2, 2, 100, "EUR", "EUR", pending, NEVER_DECLINED, 1, charged_before=True, **dated[2]
        ),
        3: InvoiceRow(
            3,
            3,
            100,
            "EUR",
            "EUR",
            paid,
            NEVER_DECLINED,
            1,
            customer_ref="cus_3",
            charged_before=True,
            **dated[3],
        ),
        4: InvoiceRow(
            4, 4, 100, "EUR", "EUR", pending, NEVER_DECLINED, 1, in_flight=True, **dated[4]
        ),
        5: InvoiceRow(5, 1, 300, "EUR", "EUR", pending, NEVER_DECLINED, 0, **dated[5]),
    }


def test_a_retry_written_by_hand_without_its_first_decline_date_is_claimed_in_the_batch(
    make: Callable[..., Path], bill: Bill, sql: Sql, edit: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    make((1, 100, "EUR"), (2, 100, "EUR"))
    edit(
        "UPDATE invoice SET status = 'FAILED', failure_code = 'declined', decline_count = 1, "
        "next_retry_on = '2026-12-01' WHERE id = 1"
    )
    monkeypatch.setattr(DueSource, "_one_by_one", never)
    result = bill(FakeProvider(), command=Command.RETRY_FAILED)
    assert result.counts.paid == 1
    assert sql("SELECT status FROM invoice WHERE id = 1") == [("PAID",)]


def test_a_dunning_state_written_by_hand_is_read_as_it_stands(
    make: Callable[..., Path], edit: Callable[..., None], db_path: Path
) -> None:
    make((1, 100, "EUR"), (2, 100, "EUR"), (3, 100, "EUR"))
    edit("UPDATE invoice SET decline_count = 1 WHERE id = 1")
    edit("UPDATE invoice SET first_declined_on = '2026-10-01' WHERE id = 2")
    store = Store.open(db_path)
    try:
        with store.reading() as conn:
            rows = claims.invoices_by_id(conn, [1, 2, 3], claims.Guards())
    finally:
        store.close()
    assert [rows[i].dunning for i in (1, 2, 3)] == [
        DunningState(1, None),
        DunningState(0, date(2026, 10, 1)),
        NEVER_DECLINED,
    ]


def test_unknown_and_unsent_answers_are_settled_in_the_batch_too(
    make: Callable[..., Path], bill: Bill, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing happened (1), nobody knows (2), charged (3), all in one batch."""
    make((1, 100, "EUR"), (2, 100, "EUR"), (3, 100, "EUR"))
    monkeypatch.setattr(careful, "settle_one", never)
    provider = FakeProvider(script={1: [RATE_LIMITED], 2: [LOST_REQUEST]}, can_lookup=False)
    result = bill(provider, sweeps=0, outage_threshold=100)
    assert result.counts.paid == 1
    assert dict(sql("SELECT id, status FROM invoice")) == {
        1: "PENDING",
        2: "PROCESSING",
        3: "PAID",
    }
    assert sql("SELECT invoice_id, outcome FROM payment_attempt ORDER BY invoice_id") == [
        (1, "not_processed"),
        (2, "unknown"),
        (3, "charged"),
    ]


def test_large_groups_of_like_answers_are_settled_by_one_statement_each(
    make: Callable[..., Path], bill: Bill, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 41)])
    monkeypatch.setattr(careful, "settle_one", never)
    script = {i: [DECLINED if i % 2 else HARD] for i in range(1, 41)}
    script |= {39: [NEEDS_CUSTOMER], 40: [NEEDS_CUSTOMER]}  # a small group beside them
    result = bill(FakeProvider(script=script), sweeps=0)
    assert result.counts.declined == 19
    assert sql("SELECT status, count(*) FROM invoice GROUP BY status ORDER BY status") == [
        ("AWAITING_CUSTOMER", 21),
        ("FAILED", 19),
    ]
