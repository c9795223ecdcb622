"""Open attempts read back for replay: each field is the one its row recorded, with the
invoice's dunning state, and a row no claim could have written is held, not sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from antaeus_cli.domain.attempt import Attempt
from antaeus_cli.domain.invoice import DunningState, FailureCode, Invoice, InvoiceStatus
from antaeus_cli.domain.money import MAX_CHARGE_MINOR, Currency, Money
from antaeus_cli.store import claims, replays
from antaeus_cli.store.database import Store
from tests.conftest import ended_run
from tests.fakes import on

STAMP = "2026-11-30T10:00:00+00:00"
COLUMNS = (
    "id, invoice_id, customer_id, customer_ref, attempt_no, idempotency_key, run_id, "
    "command, amount, currency, from_status, outcome, provider_ref, started_at, finished_at"
)


def attempt_row(edit: Callable[..., None], *values: object) -> None:
    edit(
        f"INSERT INTO payment_attempt ({COLUMNS}) VALUES "
        "(?, ?, ?, ?, ?, ?, 1, 'bill', ?, ?, ?, ?, ?, ?, ?)",
        *values,
    )


def test_an_open_attempt_is_read_back_exactly_as_it_was_recorded(
    make: Callable[..., Path], edit: Callable[..., None], db_path: Path
) -> None:
    make(*[(i, 100, "EUR") for i in range(1, 10)])
    ended_run(edit, STAMP, "crashed")
    edit("UPDATE invoice SET decline_count = 2, first_declined_on = '2026-10-01' WHERE id = 1")
    naive = "2026-11-30T10:00:00"  # written by hand without a zone: read as UTC
    attempt_row(edit, 10, 1, 1, "cus_A", 3, "k-1-3", 1, "EUR", "FAILED", "unknown", "pi_A",
                naive, None)  # fmt: skip
    attempt_row(edit, 11, 2, 2, None, 1, "k-2-1", MAX_CHARGE_MINOR, "EUR", "PENDING",
                "started", None, STAMP, None)  # fmt: skip
    attempt_row(edit, 12, 3, 3, None, 1, "k-3-1", 100, "XYZ", "PENDING", "started", None,
                "yesterday", None)  # fmt: skip
    attempt_row(edit, 13, 4, 4, None, 1, "k-4-1", MAX_CHARGE_MINOR + 1, "EUR", "PENDING",
                "started", None, STAMP, None)  # fmt: skip
    attempt_row(edit, 14, 5, 5, "bad ref", 1, "k-5-1", 100, "EUR", "PENDING", "started",
                None, STAMP, None)  # fmt: skip
    attempt_row(edit, 15, 6, 6, None, "1x", "k-6-1", 100, "EUR", "PENDING", "started", None,
                STAMP, None)  # fmt: skip
    attempt_row(edit, 16, 7, "x", None, 1, "k-7-1", 100, "EUR", "PENDING", "started", None,
                STAMP, None)  # fmt: skip
    attempt_row(edit, 17, "y", 8, None, 1, "k-y-1", 100, "EUR", "PENDING", "started", None,
                STAMP, None)  # fmt: skip
    attempt_row(edit, 18, 9, 9, None, 1, "k-9-1", 100, "EUR", "PENDING", "charged", None,
                STAMP, STAMP)  # fmt: skip
    attempt_row(edit, 19, 9, 9, None, 2, "k-9-2", 100, "EUR", "PENDING", "started", None,
                STAMP, None)  # fmt: skip
    attempt_row(edit, 20, 99, 9, None, 1, "k-99-1", 100, "EUR", "PENDING", "started", None,
                STAMP, None)  # fmt: skip
    store = Store.open(db_path)
    try:
        with store.reading() as conn:
            pages = []
            after: float = claims.BEFORE_FIRST
            for _ in range(10):  # five pages, then the end: paging that never ends fails
                page = replays.open_attempts(conn, after, 2, on(date(2026, 12, 1)))
                if page.last_id is None:
                    break
                pages.append(page)
                after = page.last_id
            assert page == replays.OpenAttempts([], [], None), "paging never ended"
    finally:
        store.close()
    assert [page.last_id for page in pages] == [11, 13, 15, 17, 20]
    found = [a for page in pages for a in page.attempts]
    held = {h.attempt_id: h for page in pages for h in page.unreadable}
    eur = Currency("EUR")
    assert found == [
        Attempt(
            Invoice(1, 1, Money(1, eur), "cus_A"),
            3,
            "k-1-3",
            DunningState(2, date(2026, 10, 1)),
            InvoiceStatus.FAILED,
            replay=True,
            local_date=date(2026, 12, 1),
            id=10,
            started_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
            reference="pi_A",
            # written by hand beside an invoice that does not match it: looked up only
            no_resend="its invoice was set to PENDING meanwhile",
        ),
        Attempt(
            Invoice(2, 2, Money(MAX_CHARGE_MINOR, eur)),
            1,
            "k-2-1",
            DunningState(0, None),
            InvoiceStatus.PENDING,
            replay=True,
            local_date=date(2026, 12, 1),
            id=11,
            started_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
            no_resend="its invoice's amount or currency was edited meanwhile",
        ),
        Attempt(
            Invoice(9, 9, Money(100, eur)),
            2,
            "k-9-2",
            DunningState(0, None),
            InvoiceStatus.PENDING,
            replay=True,
            local_date=date(2026, 12, 1),
            id=19,
            started_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
            no_resend="another attempt charged its invoice already",
        ),
        Attempt(
            Invoice(99, 9, Money(100, eur)),
            1,
            "k-99-1",
            DunningState(0, None),
            InvoiceStatus.PENDING,
            replay=True,
            local_date=date(2026, 12, 1),
            id=20,
            started_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
            no_resend="its invoice was deleted",
        ),
    ]
    assert sorted(held) == [12, 13, 14, 15, 16, 17]
    assert [(h.invoice_id, h.rejection.code) for h in held.values()] == [
        (3, FailureCode.MALFORMED),
        (4, FailureCode.MALFORMED),
        (5, FailureCode.MALFORMED),
        (6, FailureCode.MALFORMED),
        (7, FailureCode.MALFORMED),
        ("y", FailureCode.MALFORMED),
    ]
    assert held[12].rejection.detail == (
        "attempt 12 is open but cannot be replayed (ValueError: Invalid isoformat string: "
        "'yesterday'); its row was written by hand? Ask the provider whether key "
        "'k-3-1' charged, and settle the attempt and the invoice by hand"
    )
    assert (
        f"(ValueError: its amount {MAX_CHARGE_MINOR + 1} is past the sanity limit a claim "
        "would send)"
    ) in held[13].rejection.detail
    assert "(ValueError: its customer_ref 'bad ref' is malformed)" in held[14].rejection.detail
    whole_numbers = "(TypeError: its invoice id, attempt number and customer id must be integers)"
    for attempt_id in (15, 16, 17):
        assert whole_numbers in held[attempt_id].rejection.detail
